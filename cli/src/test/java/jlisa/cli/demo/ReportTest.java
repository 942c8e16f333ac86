package jlisa.cli.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jlisa.cli.demo.Report.MethodResult;

class ReportTest {
    private static final long MIB = 1024 * 1024;
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    static MethodResult method(String name, long params, long paramMib, long gradMib, long stateMib, long actMib,
                               double ms, double evalLoss, double accuracy, double lossScale) {
        Map<String, Long> peak = new LinkedHashMap<>();
        peak.put("parameter", paramMib * MIB);
        peak.put("gradient", gradMib * MIB);
        peak.put("optimizer_state", stateMib * MIB);
        peak.put("activation", actMib * MIB);
        peak.put("other", MIB / 2);
        peak.put("total", (paramMib + gradMib + stateMib + actMib) * MIB);
        List<double[]> train = new ArrayList<>(), eval = new ArrayList<>();
        for (int step = 1; step <= 200; step++) {
            train.add(new double[] {step, lossScale * (0.3 + 4.0 / Math.sqrt(step)) + 0.05 * Math.sin(step)});
            if (step % 50 == 0) eval.add(new double[] {step, lossScale * (0.35 + 4.0 / Math.sqrt(step))});
        }
        return new MethodResult(name, params, peak, ms, evalLoss, accuracy, train, eval);
    }

    static List<MethodResult> results(double lisaEvalLoss) {
        return List.of(
                method("full", 12_000_000, 46, 46, 92, 20, 180.0, 0.95, 0.62, 1.0),
                method("lora", 300_000, 46, 1, 2, 18, 120.0, 1.05, 0.55, 1.1),
                method("lisa", 2_500_000, 46, 10, 20, 20, 95.0, lisaEvalLoss, 0.60, 1.05));
    }

    static Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("model", "llama 8 layers × 128");
        c.put("steps", 200);
        c.put("seed", 42);
        return c;
    }

    @Test
    void writesEveryFileWithChartsThatDecodeAndJsonThatParses(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("runs").resolve("20250101-000000");
        assertThat(Report.write(dir, config(), results(1.00))).isEqualTo(dir);

        for (String png : List.of(Report.LOSS_PNG, Report.MEMORY_PNG)) {
            byte[] bytes = Files.readAllBytes(dir.resolve(png));
            assertThat(bytes).startsWith(PNG_SIGNATURE);
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(bytes));
            assertThat(image).as(png).isNotNull();
            assertThat(image.getWidth()).isEqualTo(ReportCharts.WIDTH);
            assertThat(image.getHeight()).isEqualTo(ReportCharts.HEIGHT);
        }
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("summary.json", "loss.png", "memory.png", "report.md");
        }

        JsonNode root = new ObjectMapper().readTree(dir.resolve(Report.SUMMARY_JSON).toFile());
        assertThat(root.get("config").get("seed").asInt()).isEqualTo(42);
        JsonNode methods = root.get("methods");
        assertThat(methods.isArray()).isTrue();
        assertThat(methods).hasSize(3);
        List<String> names = new ArrayList<>();
        for (JsonNode m : methods) {
            names.add(m.get("name").asText());
            assertThat(m.get("trainable_params").isIntegralNumber()).isTrue();
            JsonNode peak = m.get("peak_bytes");
            for (String key : List.of("total", "parameter", "gradient", "optimizer_state", "activation")) {
                assertThat(peak.get(key).isIntegralNumber()).as(key).isTrue();
            }
            for (String key : List.of("ms_per_step", "eval_loss", "accuracy")) {
                assertThat(m.get(key).isNumber()).as(key).isTrue();
            }
            assertThat(m.get("loss_curve")).hasSize(200);
            assertThat(m.get("eval_curve").get(0).get(1).isNumber()).isTrue();
        }
        assertThat(names).containsExactly("full", "lora", "lisa");
        JsonNode full = methods.get(0);
        assertThat(full.get("trainable_params").asLong()).isEqualTo(12_000_000);
        assertThat(full.get("peak_bytes").get("total").asLong()).isEqualTo(204 * MIB);
        assertThat(full.get("peak_bytes").get("parked_state").asLong()).isZero();
        assertThat(full.get("eval_loss").asDouble()).isEqualTo(0.95);

        String md = Files.readString(dir.resolve(Report.REPORT_MD), StandardCharsets.UTF_8);
        assertThat(md).contains(Report.table(results(1.00)));
        assertThat(md).contains("](loss.png)").contains("](memory.png)").contains("| seed | 42 |");
        assertThat(md).contains("LISA's peak memory is 47% of full fine-tuning's (96.00 MiB vs 204.00 MiB).");
        assertThat(md).contains("LISA's eval loss is below LoRA's");
        assertThat(md).doesNotContain("above LoRA's");
    }

    @Test
    void saysSoWhenLisaEvalLossIsAboveLoras(@TempDir Path tmp) throws IOException {
        Report.write(tmp, config(), results(1.20));
        String md = Files.readString(tmp.resolve(Report.REPORT_MD), StandardCharsets.UTF_8);
        assertThat(md).contains("LISA's eval loss is above LoRA's (1.2000 vs 1.0500, 14.3% higher): in this run LoRA "
                + "fit the held-out task better than LISA, which goes against the paper's finding");
        JsonNode root = new ObjectMapper().readTree(tmp.resolve(Report.SUMMARY_JSON).toFile());
        assertThat(root.get("observations").toString()).contains("LISA's eval loss is above LoRA's");
    }

    @Test
    void tableHasOneRowPerMethodWithMibAndPercent() {
        String table = Report.table(results(1.0));
        String[] lines = table.split("\n");
        assertThat(lines).hasSize(5);
        assertThat(lines[0]).startsWith("| method | trainable params |").contains("peak total MiB").contains("exact match");
        assertThat(lines[0]).doesNotContain("parked");
        assertThat(lines[2]).isEqualTo("| full | 12,000,000 | 46.00 | 46.00 | 92.00 | 20.00 | 0.500 | 204.00 | 180.0 | "
                + "0.9500 | 62.0% |");
    }

    @Test
    void parkedStateGetsAColumnAndNonFiniteNumbersBecomeNull(@TempDir Path tmp) throws IOException {
        long[] byKind = new long[jlisa.tensor.MemoryKind.values().length];
        byKind[jlisa.tensor.MemoryKind.PARKED_STATE.ordinal()] = 3 * MIB;
        byKind[jlisa.tensor.MemoryKind.PARAMETER.ordinal()] = 5 * MIB;
        MethodResult lisa = new MethodResult("lisa", 10, Report.peakBytes(7 * MIB, byKind), Double.NaN, Double.NaN,
                Double.NaN, List.of(), List.of());
        assertThat(Report.table(List.of(lisa))).contains("parked state MiB").contains("| n/a | n/a | n/a |");
        Report.write(tmp, Map.of(), List.of(lisa));
        JsonNode m = new ObjectMapper().readTree(tmp.resolve(Report.SUMMARY_JSON).toFile()).get("methods").get(0);
        assertThat(m.get("eval_loss").isNull()).isTrue();
        assertThat(m.get("peak_bytes").get("parked_state").asLong()).isEqualTo(3 * MIB);
        assertThat(m.get("peak_bytes").get("total").asLong()).isEqualTo(7 * MIB);
        assertThat(ImageIO.read(tmp.resolve(Report.LOSS_PNG).toFile())).isNotNull();
    }

    @Test
    void rejectsUnknownPeakKinds() {
        assertThatThrownBy(() -> new MethodResult("full", 1, Map.of("weights", 1L), 1, 1, 1, List.of(), List.of()))
                .hasMessageContaining("got 'weights'");
    }

    @Test
    void rewritingReplacesFilesAndLeavesNoTemporaries(@TempDir Path tmp) throws IOException {
        Report.write(tmp, config(), results(1.0));
        Report.write(tmp, config(), results(1.2));
        try (var files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
        }
        assertThat(Files.readString(tmp.resolve(Report.REPORT_MD))).contains("eval loss is above LoRA's");
    }
}
