package jlisa.distributed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The Open MPI collective across real processes (mpirun, 2 and 3 ranks over loopback); skipped without mpirun. */
class MpiCollectiveTest {

    static Path mpirun() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, "mpirun");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    static List<String> launch(int ranks) throws IOException, InterruptedException {
        Path mpirun = mpirun();
        Assumptions.assumeTrue(mpirun != null, "mpirun is not on the PATH: the MPI tests are skipped (Debian/Ubuntu: "
                + "apt-get install openmpi-bin libopenmpi-dev)");
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(mpirun.toString(), "--allow-run-as-root", "--oversubscribe",
                "-np", String.valueOf(ranks), java, "--enable-native-access=ALL-UNNAMED", "-cp", cp, MpiProbe.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMPI_MCA_btl_vader_single_copy_mechanism", "none");   // containers forbid ptrace-based CMA
        Process p = pb.start();
        boolean done = p.waitFor(120, TimeUnit.SECONDS);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            p.destroyForcibly();
            throw new AssertionError("mpirun -np " + ranks + " did not finish in 120 s:\n" + out);
        }
        assertThat(p.exitValue()).as("mpirun -np %d:%n%s", ranks, out).isZero();
        return out.lines().filter(l -> l.startsWith("rank ")).sorted().toList();
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
