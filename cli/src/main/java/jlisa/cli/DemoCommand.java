package jlisa.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import jlisa.cli.demo.Demo;
import jlisa.cli.demo.Report;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jlisa demo}: the paper's point on this machine — LISA against LoRA and full fine-tuning on a
 * model pretrained here from the built-in synthetic corpus; a table, charts and a report.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Pretrain a small LLaMA-shaped model on built-in synthetic tasks, fine-tune it on a held-out task "
                + "with full, LoRA and LISA, and compare memory, speed, loss and accuracy. Writes runs/<timestamp>/.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "runs", description = "where runs/<timestamp>/ goes (default ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--quick", description = "a seconds-long reduced configuration (for a smoke test)")
    boolean quick;

    @Option(names = "--seed", description = "seed for data, init and sampling (default 0)")
    Long seed;

    @Option(names = "--pretrain-steps", description = "override the pretraining steps") Integer pretrainSteps;

    @Option(names = "--finetune-steps", description = "override the fine-tuning steps") Integer finetuneSteps;

    @Option(names = "--quiet", description = "no progress bars") boolean quiet;

    @Option(names = "--json", description = "print summary.json instead of the table") boolean json;

    @Option(names = "--seeds", description = "fine-tuning runs per method, seeds --seed, --seed + 1, … (default 3; --quick: 1)")
    Integer seeds;

    @Override public Integer call() throws Exception {
        Demo.Settings s = quick ? Demo.Settings.quick() : Demo.Settings.defaults();
        if (seed != null) s = s.withSeed(seed);
        if (seeds != null) s = s.withSeeds(seeds);
        s = s.withSteps(pretrainSteps != null ? pretrainSteps : s.pretrainSteps(),
                finetuneSteps != null ? finetuneSteps : s.finetuneSteps());
        Path dir = out.resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
        Files.createDirectories(dir);
        Map<String, List<Demo.MethodRun>> runs = Demo.run(s, dir, quiet || json, json ? new java.io.PrintStream(
                java.io.OutputStream.nullOutputStream()) : System.out);
        List<Report.MethodResult> results = new ArrayList<>();
        for (List<Demo.MethodRun> r : runs.values()) results.add(Report.MethodResult.meanOf(r));
        Map<String, Object> config = Demo.describe(s);
        Report.write(dir, config, results, List.of(
                "Peaks are measured per method on a fresh copy of the pretrained model, from the exact memory ledger. "
                        + "'Other' is mostly the demo's own copy of the pretrained weights, kept so that every method "
                        + "starts from the same point; it is the same for all three.",
                "LISA's trainable parameters are those that train at a time: the embedding, final norm and head, "
                        + "plus the " + s.lisa().gamma() + " sampled layers (of " + s.layers() + ")."));
        if (json) {
            System.out.println(Files.readString(dir.resolve(Report.SUMMARY_JSON)));
        } else {
            System.out.println();
            System.out.print(Report.table(results));
            System.out.println();
            System.out.println("report: " + dir.resolve(Report.REPORT_MD));
        }
        return 0;
    }
}
