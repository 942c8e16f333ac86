package jlisa.cli;

import java.io.PrintStream;
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

import jlisa.cli.demo.Demo;
import jlisa.cli.demo.Report;
import jlisa.cli.demo.Sweep;
import jlisa.optim.Lisa;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;
import jlisa.transformer.io.SafeTensors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jlisa bench lisa}: the LISA paper's ablation on the demo's model and task — every combination of γ, K,
 * state policy, sampling and warm-up, each over several seeds, beside full fine-tuning and LoRA; a table,
 * {@code summary.json} and a chart of eval loss and peak memory against γ and K.
 */
@Command(name = "lisa", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Sweep LISA's settings (γ, K, state policy, sampling, warm-up) over seeds on the demo's model and "
                + "held-out task, beside full fine-tuning and LoRA. Writes runs/<timestamp>-lisa/ with sweep.md, "
                + "summary.json and sweep.png.")
final class LisaSweepCommand implements Callable<Integer> {
    @Option(names = "--gamma", split = ",", defaultValue = "2", description = "layers active at a time (list; default ${DEFAULT-VALUE})")
    List<Integer> gammas;

    @Option(names = "--period", split = ",", defaultValue = "10", description = "steps between draws, K (list; default ${DEFAULT-VALUE})")
    List<Integer> periods;

    @Option(names = "--policy", split = ",", defaultValue = "drop", description = "drop, park, keep (list; default ${DEFAULT-VALUE})")
    List<String> policies;

    @Option(names = "--sampling", split = ";", defaultValue = "uniform",
            description = "uniform, weight-norm, or explicit weights w1,w2,… (list separated by ';'; default ${DEFAULT-VALUE})")
    List<String> samplings;

    @Option(names = "--warmup", split = ",", defaultValue = "0",
            description = "per-layer learning-rate warm-up after a draw, in steps (list; default ${DEFAULT-VALUE})")
    List<Integer> warmups;

    @Option(names = "--baselines", split = ",", defaultValue = "full,lora",
            description = "other methods to run beside LISA: full, lora, none (default ${DEFAULT-VALUE})")
    List<String> baselines;

    @Option(names = "--seeds", defaultValue = "3", description = "seeds per configuration (default ${DEFAULT-VALUE})")
    int seeds;

    @Option(names = "--seed", defaultValue = "0", description = "first seed; pretraining uses it (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--pretrain-steps", description = "override the demo's pretraining steps") Integer pretrainSteps;

    @Option(names = "--finetune-steps", description = "override the demo's fine-tuning steps") Integer finetuneSteps;

    @Option(names = "--pretrain-lr", description = "override the demo's pretraining learning rate") Double pretrainLr;

    @Option(names = "--lr", description = "full fine-tuning's learning rate (default: the demo's)") Double lr;

    @Option(names = "--lora-lr", description = "LoRA's learning rate (default: the demo's)") Double loraLr;

    @Option(names = "--lora-r", description = "LoRA's rank (default: the demo's)") Integer loraR;

    @Option(names = "--lisa-lr", description = "LISA's learning rate (default: the demo's)") Double lisaLr;

    @Option(names = "--model", split = ",", paramLabel = "LAYERS,HIDDEN,HEADS,KV_HEADS",
            description = "another shape of the demo model, e.g. 8,128,4,2 (default: the demo's)") List<Integer> model;

    @Option(names = "--quick", description = "the demo's seconds-long configuration (for a smoke test)") boolean quick;

    @Option(names = "--base", description = "pretrained weights (safetensors): read when the file exists, else written "
            + "after pretraining, so several sweeps can share one pretraining") Path base;

    @Option(names = "--out", defaultValue = "runs", description = "where runs/<timestamp>-lisa/ goes (default ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--quiet", description = "no progress bars") boolean quiet;

    @picocli.CommandLine.Mixin JsonOut.Flag json = new JsonOut.Flag();

    @Override public Integer call() throws Exception {
        Demo.Settings s = quick ? Demo.Settings.quick() : Demo.Settings.defaults();
        s = s.withSeed(seed).withSeeds(seeds)
                .withSteps(pretrainSteps != null ? pretrainSteps : s.pretrainSteps(), finetuneSteps != null ? finetuneSteps : s.finetuneSteps())
                .withLearningRates(lr != null ? lr : s.finetuneLr(), loraLr != null ? loraLr : s.loraLr(),
                        lisaLr != null ? lisaLr : s.lisaLr());
        if (loraR != null) s = s.withLoraRank(loraR);
        if (model != null) {
            if (model.size() != 4) throw new IllegalArgumentException("bench lisa: --model takes LAYERS,HIDDEN,HEADS,KV_HEADS, got " + model);
            s = s.withModel(model.get(0), model.get(1), model.get(2), model.get(3));
        }
        if (pretrainLr != null) s = s.withPretrainLr(pretrainLr);
        List<Demo.Method> methods = new ArrayList<>();
        for (String b : baselines) {
            switch (b.toLowerCase(Locale.ROOT)) {
                case "full" -> methods.add(new Demo.Method("full", "full", s.finetuneLr(), null));
                case "lora" -> methods.add(new Demo.Method("lora", "lora", s.loraLr(), null));
                case "none" -> { }
                default -> throw new IllegalArgumentException("bench lisa: --baselines takes full, lora or none, got '" + b + "'");
            }
        }
        for (int g : gammas) for (int k : periods) for (String pol : policies) for (String smp : samplings) for (int w : warmups) {
            Demo.LisaSettings l = new Demo.LisaSettings(g, k, LisaArgs.policy(pol), LisaArgs.sampling(smp, s.layers()), w);
            methods.add(new Demo.Method("lisa " + l.label(), "lisa", s.lisaLr(), l));
        }
        PrintStream log = System.err;
        Map<String, Tensor> weights;
        if (base != null && Files.exists(base)) {
            weights = new LinkedHashMap<>();
            try (var f = SafeTensors.open(base)) {
                for (String n : f.names()) weights.put(n, f.tensor(n, MemoryKind.OTHER).copy());
            }
            log.println("pretrained weights from " + base);
        } else {
            weights = Demo.pretrain(s, quiet, log);
            if (base != null) {
                SafeTensors.write(base, weights, Map.of("jlisa", "demo-pretrained"));
                log.println("pretrained weights written to " + base);
            }
        }
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT));
        Path dir = out.resolve(stamp + "-lisa");
        for (int i = 2; Files.exists(dir); i++) dir = out.resolve(stamp + "-lisa-" + i);   // two sweeps started in one second
        Files.createDirectories(dir);
        Map<String, List<Demo.MethodRun>> runs = new LinkedHashMap<>();
        for (Demo.Method m : methods) {
            for (long sd : s.finetuneSeeds()) {
                Demo.MethodRun r = Demo.finetune(s, weights, m, sd, null, quiet, log);
                runs.computeIfAbsent(m.name(), k -> new ArrayList<>()).add(r);
                (json.on ? System.err : System.out).println(Sweep.line(r));   // with --json stdout holds only the summary
            }
            Sweep.write(dir, s, methods, runs);   // after each configuration: an interrupted sweep keeps what it measured
        }
        Demo.release(weights);
        if (json.on) {
            System.out.println(Files.readString(dir.resolve(Report.SUMMARY_JSON)).strip());
            return 0;
        }
        System.out.println();
        System.out.print(Sweep.table(methods, runs));
        System.out.println("sweep: " + dir.resolve(Sweep.SWEEP_MD));
        return 0;
    }
}
