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
import java.util.concurrent.Callable;

import jlisa.cli.demo.Report;
import jlisa.finetune.FineTuneListener;
import jlisa.finetune.FineTuneResult;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jlisa compare}: the demo's three-way comparison on the user's own model and data — full
 * fine-tuning, LoRA and LISA with the same data, steps and seed, each from a fresh load of the model.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Fine-tune the same model on the same data with full, LoRA and LISA, and report memory, speed and "
                + "eval loss side by side (runs/<timestamp>/ with report.md, charts and summary.json). Takes finetune's "
                + "training and method options; give --eval-fraction for an eval loss.")
final class CompareCommand implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "runs", description = "where runs/<timestamp>/ goes (default: ${DEFAULT-VALUE})")
    Path out;

    @Mixin TrainingOptions train = new TrainingOptions();

    @Mixin MethodOptions methods = new MethodOptions();

    @Override public Integer call() throws java.io.IOException {
        train.validate("compare");
        if (DistributedJob.launchedByMpirun()) {
            throw new IllegalArgumentException("compare runs in one process (its report compares one machine's memory); "
                    + "run finetune under mpirun for a data-parallel fine-tune");
        }
        List<Report.MethodResult> results = new ArrayList<>();
        for (String name : List.of("full", "lora", "lisa")) {
            MemoryLedger.collectGarbage();
            MemoryLedger.resetPeaks();
            List<double[]> curve = new ArrayList<>(), evalCurve = new ArrayList<>();
            FineTuneResult o;
            try (TrainingOptions.BarListener bar = new TrainingOptions.BarListener(name, !train.verbose())) {
                o = train.run(methods.method(name), List.of(bar, new FineTuneListener() {
                    @Override public void onProgress(jlisa.finetune.Progress p) { curve.add(new double[] {p.step(), p.loss()}); }

                    @Override public void onEval(long step, double loss) { evalCurve.add(new double[] {step, loss}); }
                }), b -> {});
            }
            long[] byKind = new long[MemoryKind.values().length];
            for (MemoryKind k : MemoryKind.values()) byKind[k.ordinal()] = MemoryLedger.peak(k);
            results.add(new Report.MethodResult(name, o.trainableParameters(), Report.peakBytes(MemoryLedger.peakTotal(), byKind),
                    o.msPerStep(), o.evalLoss().orElse(Double.NaN), Double.NaN, curve, evalCurve));
        }
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("model", train.modelName());
        config.put("data", train.dataName());
        config.put("training", train.steps + " steps, batch " + train.batchSize + ", lr " + train.lr + ", optimizer " + train.optimizer);
        config.put("lora", "r=" + methods.loraR + ", alpha=" + methods.loraAlpha);
        config.put("lisa", "gamma=" + methods.lisaGamma + ", K=" + methods.lisaPeriod + ", policy " + methods.lisaPolicy);
        Path dir = out.resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
        Files.createDirectories(dir);
        Report.write(dir, config, results, List.of("Peaks include the model's own weights (as loaded) and are measured "
                + "per method from a fresh load; there is no exact-match task here, so accuracy is not reported."));
        if (train.json) {
            System.out.println(Files.readString(dir.resolve(Report.SUMMARY_JSON)));
        } else {
            System.out.print(Report.table(results));
            System.out.println("report: " + dir.resolve(Report.REPORT_MD));
        }
        return 0;
    }
}
