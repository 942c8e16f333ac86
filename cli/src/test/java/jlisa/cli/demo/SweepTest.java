package jlisa.cli.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jlisa.optim.Lisa;
import jlisa.tensor.MemoryKind;

class SweepTest {
    private static final int K = 10, STEPS = 200;

    /** A flat loss of 1 with, when {@code jump} > 0, the two steps after each period's first update raised by it. */
    static List<double[]> curve(double jump, double noise, long seed) {
        java.util.Random r = new java.util.Random(seed);
        List<double[]> c = new ArrayList<>();
        for (int i = 0; i < STEPS; i++) {
            int o = i % K;
            double v = 1 + (o == 1 || o == 2 ? jump : 0) + noise * r.nextGaussian();
            c.add(new double[] {i + 1, v});
        }
        return c;
    }

    static Demo.MethodRun run(String name, long seed, double evalLoss, double accuracy, List<double[]> curve) {
        return new Demo.MethodRun(name, seed, 100, Map.of(MemoryKind.PARAMETER, 1024L), 4096, 10.0, evalLoss, accuracy, curve,
                List.of(new double[] {STEPS, evalLoss}), Demo.drawRatios(curve, K));
    }

    @Test
    void spreadIsMeanSampleStdAndRange() {
        Sweep.Spread s = Sweep.Spread.of(List.of(1.0, 2.0, 4.0));
        assertThat(s.mean()).isCloseTo(7.0 / 3, within(1e-12));
        assertThat(s.std()).isCloseTo(Math.sqrt(((1 - 7.0 / 3) * (1 - 7.0 / 3) + (2 - 7.0 / 3) * (2 - 7.0 / 3)
                + (4 - 7.0 / 3) * (4 - 7.0 / 3)) / 2), within(1e-12));
        assertThat(s.min()).isEqualTo(1.0);
        assertThat(s.max()).isEqualTo(4.0);
        assertThat(s.text("%.2f")).isEqualTo("2.33 ± 1.53");
        assertThat(Sweep.Spread.of(List.of(5.0)).std()).isZero();
        assertThat(Sweep.Spread.of(List.of()).text("%.2f")).isEqualTo("n/a");
    }

    @Test
    void aDifferenceIsClearOnlyWhenTheRangesDoNotOverlap() {
        Sweep.Spread low = Sweep.Spread.of(List.of(0.10, 0.12, 0.11)), high = Sweep.Spread.of(List.of(0.13, 0.15));
        Sweep.Spread overlapping = Sweep.Spread.of(List.of(0.115, 0.2));
        assertThat(low.clearlyBelow(high)).isTrue();
        assertThat(high.clearlyBelow(low)).isFalse();
        assertThat(low.clearlyBelow(overlapping)).isFalse();
    }

    @Test
    void drawRatiosFindAJumpAfterTheFirstUpdateAndNoneInAFlatCurve() {
        double[] flat = Demo.drawRatios(curve(0, 0, 1), K);
        for (double r : flat) assertThat(r).isCloseTo(1.0, within(1e-12));
        double[] jump = Demo.drawRatios(curve(0.1, 0, 1), K);
        assertThat(jump[0]).isCloseTo(1.0, within(1e-12));   // the loss before the draw's first update
        // the three steps before a period start are offsets 7, 8, 9 of the previous period: flat, so the ratio is 1 + jump
        assertThat(jump[1]).isCloseTo(1.1, within(1e-12));
        assertThat(jump[2]).isCloseTo(1.1, within(1e-12));
        assertThat(jump[3]).isCloseTo(1.0, within(1e-12));
        assertThat(Sweep.maxAfterDraw(jump)).isCloseTo(1.1, within(1e-12));
        assertThat(Demo.drawRatios(curve(0, 0, 1).subList(0, K), K)).containsOnly(Double.NaN);   // no whole period after a draw
    }

    @Test
    void pooledRatiosAreRatiosOfSumsOverEveryCurve() {
        List<double[]> a = new ArrayList<>(), b = new ArrayList<>();
        for (int i = 0; i < 2 * K; i++) {
            a.add(new double[] {i + 1, i < K ? 1 : 2});   // pre-draw mean 1, after it 2
            b.add(new double[] {i + 1, i < K ? 3 : 3});   // pre-draw mean 3, after it 3
        }
        double[] pooled = Demo.pooledDrawRatios(List.of(a, b), K);
        assertThat(pooled[4]).isCloseTo((2.0 + 3.0) / (1.0 + 3.0), within(1e-12));   // not the mean of 2 and 1
    }

    @Test
    void lossOverFullCancelsTheBatchNoiseBothRunsShare() {
        List<double[]> full = curve(0, 0.3, 7), lisa = new ArrayList<>();
        for (int i = 0; i < STEPS; i++) {
            int o = i % K;
            lisa.add(new double[] {i + 1, full.get(i)[1] * (o == 1 ? 1.05 : 1.0)});   // same batches, a 5% jump at o = 1
        }
        Demo.MethodRun f = run("full", 0, 0.5, 0.5, full), l = run("lisa", 0, 0.5, 0.5, lisa);
        Sweep.Summary s = Sweep.Summary.of("lisa", List.of(l), List.of(f));
        assertThat(s.pairedRatios()[1]).isCloseTo(1.05, within(1e-9));
        assertThat(s.maxPairedRatio()).isCloseTo(1.05, within(1e-9));
        assertThat(Sweep.Summary.of("lisa", List.of(l)).pairedRatios()).containsOnly(Double.NaN);   // no reference, no pairing
    }

    @Test
    void writesTableJsonAndChart(@TempDir Path tmp) throws IOException {
        Demo.Settings settings = Demo.Settings.quick().withSeeds(2);
        Demo.LisaSettings lisaSettings = new Demo.LisaSettings(2, K, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 3);
        List<Demo.Method> methods = List.of(new Demo.Method("full", "full", 1e-3, null),
                new Demo.Method("lisa " + lisaSettings.label(), "lisa", 1e-3, lisaSettings));
        Map<String, List<Demo.MethodRun>> runs = new LinkedHashMap<>();
        runs.put("full", List.of(run("full", 0, 0.30, 0.80, curve(0, 0.01, 1)), run("full", 1, 0.32, 0.78, curve(0, 0.01, 2))));
        runs.put(methods.get(1).name(), List.of(run("x", 0, 0.40, 0.70, curve(0.05, 0.01, 3)), run("x", 1, 0.42, 0.69, curve(0.05, 0.01, 4))));
        Sweep.write(tmp, settings, methods, runs);

        String md = Files.readString(tmp.resolve(Sweep.SWEEP_MD));
        assertThat(md).contains("| full | 2 | 0.3100 ± 0.0141 | 79.0% ± 1.4 |");
        assertThat(md).contains("| lisa γ2 K10 drop uniform w3 | 2 | 0.4100 ± 0.0141 | 69.5% ± 0.7 |");
        JsonNode root = new ObjectMapper().readTree(tmp.resolve("summary.json").toFile());
        JsonNode lisa = root.get("configurations").get(1);
        assertThat(lisa.get("gamma").asInt()).isEqualTo(2);
        assertThat(lisa.get("warmup").asInt()).isEqualTo(3);
        assertThat(lisa.get("policy").asText()).isEqualTo("drop");
        assertThat(lisa.get("eval_loss").get("mean").asDouble()).isCloseTo(0.41, within(1e-12));
        assertThat(lisa.get("seeds")).hasSize(2);
        assertThat(lisa.get("draw_ratios").get(1).asDouble()).isGreaterThan(1.03);
        assertThat(root.get("config").get("seeds")).hasSize(2);
        assertThat(Files.readAllBytes(tmp.resolve(Sweep.SWEEP_PNG))).startsWith((byte) 0x89, (byte) 'P', (byte) 'N', (byte) 'G');
    }

    static Demo.MethodRun timed(String name, long seed, double evalLoss, double accuracy, double ms, long peak) {
        Map<MemoryKind, Long> byKind = new java.util.EnumMap<>(MemoryKind.class);
        for (MemoryKind k : MemoryKind.values()) byKind.put(k, 0L);
        byKind.put(MemoryKind.PARAMETER, peak);
        List<double[]> c = curve(0, 0, seed);
        return new Demo.MethodRun(name, seed, 100, byKind, peak, ms, evalLoss, accuracy, c, List.of(), Demo.drawRatios(c, K));
    }

    static Report.MethodResult method(String name, double[] losses, double[] accuracies, double ms, long peak) {
        List<Demo.MethodRun> runs = new ArrayList<>();
        for (int i = 0; i < losses.length; i++) runs.add(timed(name, i, losses[i], accuracies[i], ms, peak));
        return Report.MethodResult.meanOf(runs);
    }

    @Test
    void verdictSaysWhichPartsOfTheClaimHoldAndWhichDoNot() {
        Report.MethodResult full = method("full", new double[] {0.1, 0.11, 0.12}, new double[] {0.9, 0.91, 0.92}, 40, 3000);
        Report.MethodResult lora = method("lora", new double[] {0.2, 0.21, 0.22}, new double[] {0.7, 0.71, 0.72}, 35, 2000);
        Report.MethodResult lisa = method("lisa", new double[] {0.15, 0.16, 0.17}, new double[] {0.8, 0.81, 0.82}, 28, 2100);
        assertThat(ReportText.verdict(lisa, lora, full)).startsWith("The demo's claim holds over these seeds")
                .contains("peak memory 1.05× LoRA's").contains("a step 0.70× full fine-tuning's");

        Report.MethodResult close = method("lisa", new double[] {0.15, 0.16, 0.205}, new double[] {0.8, 0.81, 0.82}, 32, 2500);
        assertThat(ReportText.verdict(close, lora, full)).startsWith("The demo's claim does not hold over these seeds")
                .contains("not met — peak memory 1.25× LoRA's (at most 1.1×); eval loss clearly below LoRA's; "
                        + "a step 0.80× full fine-tuning's (at most 0.75×); met — exact match clearly above LoRA's.");
    }
}
