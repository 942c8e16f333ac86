package jlisa.distributed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The Open MPI collective across real processes (mpirun, 2 and 3 ranks over loopback); skipped without mpirun. */
class MpiCollectiveTest {

    static List<String> launch(int ranks) throws IOException, InterruptedException {
        MpiLaunch.Result r = MpiLaunch.run(ranks, MpiProbe.class, List.of(), Duration.ofSeconds(120));
        assertThat(r.exitCode()).as("mpirun -np %d:%n%s", ranks, r.output()).isZero();
        return r.lines("rank ");
    }

    @Test
    void allReduceBroadcastAndBarrierAgreeAcrossTwoAndThreeRanks() throws Exception {
        // per rank: 3 sums (1 + 7 + 100,003 floats) and a mean of 2, 4 bytes each; the broadcast's root adds 4 floats
        long sums = 4L * (1 + 7 + 100_003 + 2);
        assertThat(launch(2)).containsExactly("rank 0 of 2 ok, sent " + sums + " bytes", "rank 1 of 2 ok, sent " + (sums + 16) + " bytes");
        assertThat(launch(3)).containsExactly("rank 0 of 3 ok, sent " + sums + " bytes", "rank 1 of 3 ok, sent " + sums + " bytes",
                "rank 2 of 3 ok, sent " + (sums + 16) + " bytes");
    }

    @Test
    void aSingleProcessLeavesBuffersAsTheyAre() {
        try (Collective c = Collective.single()) {
            float[] b = {1, 2, 3};
            c.allReduceSum(b, 0, 3);
            c.allReduceMean(b, 1, 2);
            c.broadcast(b, 0, 3, 0);
            c.barrier();
            assertThat(b).containsExactly(1, 2, 3);
            assertThat(c.size()).isEqualTo(1);
            assertThat(c.bytesSent()).isZero();
            assertThatThrownBy(() -> c.broadcast(b, 0, 3, 1)).hasMessageContaining("root 1 of a single process");
            assertThatThrownBy(() -> c.allReduceSum(b, 2, 2)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }
}
