package jlisa.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import jlisa.cli.demo.Report;
import jlisa.finetune.FineTuneListener;
import jlisa.finetune.FineTuneResult;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jlisa compare}: the demo's three-way comparison on the user's own model and data — full
 * fine-tuning, LoRA and LISA with the same data, steps and seed, each from a fresh load of the model.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Fine-tune the same model on the same data with full, LoRA and LISA, and report memory, speed and "
                + "eval loss side by side (runs/<timestamp>/ with report.md, charts and summary.json). Takes finetune's "
                + "options; give --eval-fraction for an eval loss.")
final class CompareCommand extends FinetuneCommand {
    @Option(names = "--out", defaultValue = "runs", description = "where runs/<timestamp>/ goes (default ${DEFAULT-VALUE})")
    Path out;


    @Override public Integer call() throws java.io.IOException {
        validate();
        if (resume || checkpointDir != null) throw new IllegalArgumentException("compare: checkpoints are per method; use finetune");
        List<Report.MethodResult> results = new ArrayList<>();
        for (String name : List.of("full", "lora", "lisa")) {
            MemoryLedger.collectGarbage();
            MemoryLedger.resetPeaks();
            List<double[]> curve = new ArrayList<>(), evalCurve = new ArrayList<>();
            FineTuneResult o;
            try (BarListener bar = new BarListener(name, quiet || json)) {
                o = run(method(name), List.of(bar, new FineTuneListener() {
                    @Override public void onProgress(jlisa.finetune.Progress p) { curve.add(new double[] {p.step(), p.loss()}); }

                    @Override public void onEval(long step, double loss) { evalCurve.add(new double[] {step, loss}); }
                }), false);
            }
            long[] byKind = new long[MemoryKind.values().length];
            for (MemoryKind k : MemoryKind.values()) byKind[k.ordinal()] = MemoryLedger.peak(k);
            results.add(new Report.MethodResult(name, o.trainableParameters(), Report.peakBytes(MemoryLedger.peakTotal(), byKind),
                    o.msPerStep(), o.evalLoss().orElse(Double.NaN), Double.NaN, curve, evalCurve));
        }
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("model", model != null ? model.toString() : "preset " + preset);
        config.put("data", tokens != null ? tokens.toString() : text != null ? text.toString() : jsonl.toString());
        config.put("training", steps + " steps, batch " + batchSize + ", lr " + lr + ", optimizer " + optimizer);
        config.put("lora", "r=" + loraR + ", alpha=" + loraAlpha);
        config.put("lisa", "gamma=" + lisaGamma + ", K=" + lisaPeriod + ", policy " + lisaPolicy);
        Path dir = out.resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
        Files.createDirectories(dir);
        Report.write(dir, config, results, List.of("Peaks include the model's own weights (as loaded) and are measured "
                + "per method from a fresh load; there is no exact-match task here, so accuracy is not reported."));
        if (json) {
            System.out.println(Files.readString(dir.resolve(Report.SUMMARY_JSON)));
        } else {
            System.out.print(Report.table(results));
            System.out.println("report: " + dir.resolve(Report.REPORT_MD));
        }
        return 0;
    }
}
