package jlisa.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import jlisa.distributed.MpiLaunch;

/** {@code mpirun -np 2 jlisa finetune}: rank 0 alone prints, the bytes each step sends, the single-process losses. */
class DataParallelCommandTest {
    private static final Path DIR = FinetuneCommandTest.GOLDEN.resolve("llama-gqa");

    private static List<String> args(String method, int batch) {
        return new ArrayList<>(List.of("finetune", "--model", DIR.toString(), "--tokens", DIR.resolve("train_tokens.txt").toString(),
                "--method", method, "--lisa-gamma", "1", "--lisa-period", "2", "--lr", "0.001", "--steps", "4",
                "--batch-size", String.valueOf(batch), "--block-size", "8", "--log-every", "1", "--seed", "2"));
    }

    @Test
    void twoRanksPrintOnceSendTheActiveLayersAndReproduceOneProcess() throws Exception {
        MpiLaunch.requireMpirun();
        String[] one = FinetuneCommandTest.run(args("lisa", 4).toArray(String[]::new));
        assertThat(one[0]).as(one[2]).isEqualTo("0");
        MpiLaunch.Result two = MpiLaunch.run(2, Main.class, args("lisa", 2), Duration.ofSeconds(180));
        assertThat(two.exitCode()).as(two.output()).isZero();
        List<Double> expected = FinetuneCommandTest.losses(one[1]), got = FinetuneCommandTest.losses(two.output());
        assertThat(got).as("one step line per step, from rank 0 only:%n%s", two.output()).hasSize(4);
        for (int i = 0; i < 4; i++) assertThat(got.get(i)).isCloseTo(expected.get(i), within(1e-5));
        assertThat(two.lines("step=")).allSatisfy(l -> assertThat(l).contains(" sent/step "));
        assertThat(one[1]).doesNotContain("sent/step");   // alone, nothing is sent
    }

    @Test
    void compareRefusesToRunUnderMpirun() throws Exception {
        MpiLaunch.Result r = MpiLaunch.run(2, Main.class, List.of("compare", "--model", DIR.toString(), "--tokens",
                DIR.resolve("train_tokens.txt").toString(), "--steps", "1"), Duration.ofSeconds(120));
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.output()).contains("jlisa: rank 0: compare runs in one process").contains("jlisa: rank 1: compare");
    }
}
