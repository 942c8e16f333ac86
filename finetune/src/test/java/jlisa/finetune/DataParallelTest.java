package jlisa.finetune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jlisa.distributed.MpiLaunch;
import jlisa.optim.train.Checkpoints;

/**
 * Data-parallel fine-tuning across real processes: two ranks with batch B against one process with batch 2B, the
 * bytes each step sends, a rank that dies or hangs, and a bad launch. Skipped with one line without mpirun.
 */
class DataParallelTest {
    @TempDir static Path tmp;
    static Path model, data;

    @BeforeAll
    static void setUp() throws IOException {
        MpiLaunch.requireMpirun();
        model = TinyModels.llamaDirectory(tmp.resolve("model"));
        data = TinyModels.reverseJsonl(tmp.resolve("train.jsonl"), 48);
    }

    private static Map<String, String> options(String method, int batch, int steps) {
        Map<String, String> o = new HashMap<>(Map.of("model", model.toString(), "data", data.toString(), "method", method,
                "batch", String.valueOf(batch), "steps", String.valueOf(steps)));
        return o;
    }

    private static MpiLaunch.Result launch(Map<String, String> o) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>();
        o.forEach((k, v) -> args.add(k + "=" + v));
        return MpiLaunch.run(2, DataParallelProbe.class, args, Duration.ofSeconds(180));
    }

    private static List<Double> losses(MpiLaunch.Result r) {
        return r.output().lines().filter(l -> l.startsWith("loss ")).map(l -> Double.parseDouble(l.split(" ")[2])).toList();
    }

    @ParameterizedTest
    @ValueSource(strings = {"full", "lora", "lisa", "lisa-park"})
    void twoRanksWithBatchBGiveTheLossesOfOneProcessWithBatch2B(String method) throws Exception {
        FineTuneResult one = DataParallelProbe.builder(options(method, 8, 6)).build().run();
        MpiLaunch.Result two = launch(options(method, 4, 6));
        assertThat(two.exitCode()).as(two.output()).isZero();
        List<Double> losses = losses(two);
        assertThat(losses).hasSize(6);
        // the same sums in another order: one process adds 8 rows inside each weight-gradient GEMM, two add 4 and 4
        for (int i = 0; i < 6; i++) assertThat(losses.get(i)).as("step %d", i + 1).isCloseTo(one.losses().get(i), within(2e-5));
        double eval = Double.parseDouble(two.lines("eval ").getFirst().split(" ")[1]);
        assertThat(eval).isCloseTo(one.evalLoss().getAsDouble(), within(2e-5));
        // every rank sends exactly the gradients of what trains this step, plus the 3-float header (and, every second
        // step, the parameters' checksum)
        List<String> bytes = two.lines("bytes ");
        assertThat(bytes).hasSize(12);
        for (String line : bytes) {
            String[] f = line.split(" ");
            assertThat(Long.parseLong(f[3])).as(line).isEqualTo(Long.parseLong(f[4]));
        }
    }

    @Test
    void lisaSendsAFractionOfWhatFullFineTuningSends() throws Exception {
        MpiLaunch.Result full = launch(options("full", 4, 2)), lisa = launch(options("lisa", 4, 2));
        long fullBytes = Long.parseLong(full.lines("bytes 0 1 ").getFirst().split(" ")[3]);
        long lisaBytes = Long.parseLong(lisa.lines("bytes 0 1 ").getFirst().split(" ")[3]);
        // llama-tiny: 4 layers, γ = 1: one layer's gradients besides the embedding, the head and the final norm
        assertThat(lisaBytes).isPositive().isLessThan(fullBytes / 2);
    }

    @Test
    void aRankThatDiesStopsTheJobAndTheLastCheckpointResumes() throws Exception {
        Path ck = tmp.resolve("ck-die");
        Map<String, String> o = options("lisa", 4, 6);
        o.put("checkpoints", ck.toString());
        o.put("fault", "die@3");
        MpiLaunch.Result died = launch(o);
        assertThat(died.exitCode()).as(died.output()).isNotZero();
        assertThat(died.took()).isLessThan(Duration.ofSeconds(60));
        assertThat(new Checkpoints(ck, SafeTensorsStore.INSTANCE).latest()).isPresent();

        // one process cannot continue a two-rank job's checkpoint: its batch would be another
        Map<String, String> alone = new HashMap<>(o);
        alone.remove("fault");
        assertThatThrownBy(() -> DataParallelProbe.builder(alone).build().run())
                .hasMessageContaining("written by a job of 2 process(es); this one has 1");

        o.remove("fault");
        MpiLaunch.Result resumed = launch(o);
        assertThat(resumed.exitCode()).as(resumed.output()).isZero();
        List<Double> after = losses(resumed);
        FineTuneResult one = DataParallelProbe.builder(options("lisa", 8, 6)).build().run();
        List<Double> reference = one.losses().subList(6 - after.size(), 6);
        assertThat(after.size()).isBetween(1, 4);   // it resumed at step 2 or later, not from the start
        for (int i = 0; i < after.size(); i++) assertThat(after.get(i)).isCloseTo(reference.get(i), within(2e-5));
    }

    @Test
    void aRankThatHangsStopsTheJobWithinTheTimeout() throws Exception {
        Map<String, String> o = options("full", 4, 6);
        o.put("fault", "hang@3");
        o.put("timeout", "5");
        MpiLaunch.Result hung = launch(o);
        assertThat(hung.exitCode()).isNotZero();
        assertThat(hung.output()).contains("rank 0 of 2: MPI_Allreduce has waited").contains("a rank has died or hangs");
        assertThat(hung.took()).isLessThan(Duration.ofSeconds(60));
    }

    @Test
    void ranksLaunchedWithOtherSettingsStopBeforeTheFirstStep() throws Exception {
        Map<String, String> o = options("lisa", 4, 6);
        o.put("seed1", "9");
        MpiLaunch.Result bad = launch(o);
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.output()).contains("the fine-tune's settings (").contains("differs between ranks: rank(s) 1 disagree with rank 0");
        assertThat(losses(bad)).isEmpty();
    }
}
