package jlisa.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import jlisa.cli.demo.Progress;
import jlisa.finetune.FineTune;
import jlisa.finetune.FineTuneListener;
import jlisa.finetune.FineTuneResult;
import jlisa.finetune.Method;
import jlisa.optim.train.Trainer;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.transformer.model.CausalLM;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jlisa finetune}: full, LoRA or LISA fine-tuning of a Hugging Face checkpoint (or a preset)
 * on token, text or JSONL instruction data, with logging, eval, checkpoints and resume.
 */
@Command(name = "finetune", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Fine-tune a model with --method full, lora or lisa. Prints 'step=<n> loss=<6 decimals>' per "
                + "logged step (the loss of that step's batch, before its update), then details.")
class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--model", description = "Hugging Face model directory (config.json + model.safetensors)")
    Path model;

    @Option(names = "--preset", description = "a freshly initialised preset instead of --model: tiny, d6, gpt2-124M, "
            + "llama-tiny, llama-thin")
    String preset;

    @Option(names = "--tokens", description = "token file: one sequence per line, ids separated by spaces")
    Path tokens;

    @Option(names = "--text", description = "plain text file (one document per paragraph), through the tokenizer")
    Path text;

    @Option(names = "--jsonl", description = "instruction data: {prompt, response} or {instruction, input, output} per line; "
            + "the loss counts response tokens only")
    Path jsonl;

    @Option(names = "--tokenizer", description = "tokenizer.json for --text/--jsonl (default: the model dir's, else bytes)")
    Path tokenizer;

    @Option(names = "--method", defaultValue = "full", description = "full, lora or lisa (default ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw or sgd (default ${DEFAULT-VALUE})")
    String optimizer;

    @Option(names = "--lr", defaultValue = "1e-4") double lr;

    @Option(names = "--weight-decay", defaultValue = "0.0") double weightDecay;

    @Option(names = "--schedule", defaultValue = "constant", description = "constant, cosine or linear (after --warmup)")
    String schedule;

    @Option(names = "--warmup", defaultValue = "0") long warmup;

    @Option(names = "--steps", defaultValue = "100") long steps;

    @Option(names = "--batch-size", defaultValue = "8", description = "rows per batch, or 'all'")
    String batchSize;

    @Option(names = "--block-size", description = "tokens per row (default: longest example − 1, capped by the model)")
    Integer blockSize;

    @Option(names = "--pad", description = "one example per row, padded (default: packed)") boolean pad;

    @Option(names = "--no-shuffle") boolean noShuffle;

    @Option(names = "--grad-accum", defaultValue = "1") int gradAccum;

    @Option(names = "--clip", defaultValue = "0", description = "global gradient-norm clip (0 = off)") double clip;

    @Option(names = "--seed", defaultValue = "0") long seed;

    @Option(names = "--log-every", defaultValue = "10") int logEvery;

    @Option(names = "--eval-fraction", defaultValue = "0", description = "held-out share of the data for eval") double evalFraction;

    @Option(names = "--eval-every", defaultValue = "0") int evalEvery;

    @Option(names = "--checkpoint-dir") Path checkpointDir;

    @Option(names = "--checkpoint-every", defaultValue = "0") int checkpointEvery;

    @Option(names = "--resume", description = "continue from the newest checkpoint in --checkpoint-dir") boolean resume;

    @Option(names = "--save", description = "write the fine-tuned model (LoRA: the adapter) to this directory") Path save;

    @Option(names = "--quiet", description = "no per-step lines or progress") boolean quiet;

    @Option(names = "--json", description = "end with one JSON line of results (and no per-step lines)") boolean json;

    @Option(names = "--lora-r", defaultValue = "8") int loraR;

    @Option(names = "--lora-alpha", defaultValue = "16") double loraAlpha;

    @Option(names = "--lora-dropout", defaultValue = "0") double loraDropout;

    @Option(names = "--lora-targets", description = "comma-separated layer names (default: every attention and MLP projection)")
    String loraTargets;

    @Option(names = "--lisa-gamma", defaultValue = "2") int lisaGamma;

    @Option(names = "--lisa-period", defaultValue = "20") int lisaPeriod;

    @Option(names = "--lisa-policy", defaultValue = "drop", description = "drop, park or keep") String lisaPolicy;

    @Option(names = "--lisa-sampling", defaultValue = "uniform",
            description = "uniform, weight-norm, or one comma-separated weight per layer") String lisaSampling;

    @Option(names = "--lisa-warmup", defaultValue = "0",
            description = "steps over which a newly drawn layer's learning rate ramps up after a draw under drop, so its "
                    + "first AdamW steps (about lr·sign(g) from zero moments) are smaller (0 = none; default ${DEFAULT-VALUE})")
    int lisaWarmup;

    @Mixin DeviceOptions devices = new DeviceOptions();

    @Override public Integer call() throws IOException {
        validate();
        Method m = method(method);
        FineTuneResult r;
        try (BarListener bar = new BarListener(m.name(), quiet || json)) {
            r = run(m, quiet || json ? List.of(bar) : List.of(bar, new Lines()), true);
        }
        if (json) {
            System.out.printf(Locale.ROOT, "{\"method\": \"%s\", \"steps\": %d, \"start_step\": %d, \"last_loss\": %s, "
                    + "\"eval_loss\": %s, \"ms_per_step\": %.3f, \"trainable_params\": %d, \"peak_bytes\": %d, \"saved_to\": %s}%n",
                    r.method(), r.steps(), r.startStep(), jsonNumber(r.finalLoss()), jsonNumber(r.evalLoss().orElse(Double.NaN)),
                    r.msPerStep(), r.trainableParameters(), r.peakBytes(),
                    r.savedTo().map(p -> "\"" + p.toString().replace("\\", "\\\\").replace("\"", "\\\"") + "\"").orElse("null"));
        }
        return 0;
    }

    private static String jsonNumber(double v) { return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6f", v) : "null"; }

    /** Checks that the options agree with each other. */
    void validate() {
        if ((model == null) == (preset == null)) throw new IllegalArgumentException("finetune: give exactly one of --model and --preset");
        if ((tokens == null ? 0 : 1) + (text == null ? 0 : 1) + (jsonl == null ? 0 : 1) != 1) {
            throw new IllegalArgumentException("finetune: give exactly one of --tokens, --text and --jsonl");
        }
        if (resume && checkpointDir == null) throw new IllegalArgumentException("finetune: --resume needs --checkpoint-dir");
        method(method);
    }

    /** The method named {@code name} (full, lora or lisa) with this command's settings for it. */
    Method method(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "full" -> Method.full();
            case "lora" -> Method.lora().withRank(loraR).withAlpha(loraAlpha).withDropout(loraDropout)
                    .withTargets(loraTargets == null ? List.of() : List.of(loraTargets.split("\\s*,\\s*")));
            case "lisa" -> Method.lisa().withGamma(lisaGamma).withPeriod(lisaPeriod).withPolicy(LisaArgs.policy(lisaPolicy))
                    .withWarmup(lisaWarmup);
            default -> throw new IllegalArgumentException("--method must be full, lora or lisa, got '" + name + "'");
        };
    }

    /**
     * Fine-tunes with {@code m} on the device asked for, through the library's {@link FineTune}, and returns what it
     * measured; {@code save} honours --save.
     */
    FineTuneResult run(Method m, List<FineTuneListener> listeners, boolean save) throws IOException {
        boolean firstRun = !devices.resolvedOnce();
        try (var device = devices.activate()) {
            if (firstRun && devices.backend() != null && !quiet && !json) System.err.println("device: " + devices.describe());
            if (model != null) return fineTune(m, listeners, save, model).run();
            try (CausalLM lm = MemoryTable.build(preset)) {
                return fineTune(m, listeners, save, null).run(lm);
            }
        }
    }

    private FineTune fineTune(Method m, List<FineTuneListener> listeners, boolean save, Path modelDir) {
        FineTune.Builder b = FineTune.builder();
        if (modelDir != null) b.model(modelDir);
        if (tokenizer != null) b.tokenizer(tokenizer);
        if (tokens != null) b.tokens(tokens);
        else if (text != null) b.text(text);
        else b.jsonl(jsonl);
        // explicit weights are checked against the model's layer count when LISA is built
        if (m instanceof Method.Lisa lisa) m = lisa.withSampling(LisaArgs.sampling(lisaSampling));
        b.method(m).optimizer(optimizerChoice()).learningRate(lr).weightDecay(weightDecay)
                .schedule(lrSchedule(), warmup).steps(steps)
                .batchSize(batchSize.equalsIgnoreCase("all") ? FineTune.WHOLE_DATASET : Integer.parseInt(batchSize))
                .padded(pad).shuffle(!noShuffle).gradientAccumulation(gradAccum).clipGradNorm(clip).seed(seed)
                .logEvery(logEvery).evalFraction(evalFraction).evalEvery(evalEvery).resume(resume);
        if (blockSize != null) b.blockSize(blockSize);
        if (checkpointDir != null) b.checkpoints(checkpointDir, checkpointEvery);
        if (save && this.save != null) b.saveTo(this.save);
        if (devices.backend() != null) b.backend(devices.backend());
        listeners.forEach(b::listener);
        if (!json && !quiet) {
            b.listener(new FineTuneListener() {
                @Override public void onResume(long step, Path dir) { System.out.println("resumed at step " + step + " from " + dir); }

                @Override public void onSaved(Path dir) { System.out.println("saved to " + dir); }
            });
        }
        return b.build();
    }

    private FineTune.OptimizerChoice optimizerChoice() {
        try {
            return FineTune.OptimizerChoice.valueOf(optimizer.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--optimizer must be adamw or sgd, got '" + optimizer + "'");
        }
    }

    private FineTune.LrSchedule lrSchedule() {
        try {
            return FineTune.LrSchedule.valueOf(schedule.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--schedule must be constant, cosine or linear, got '" + schedule + "'");
        }
    }

    /** A progress bar (stderr) that appears when the first step starts, so errors before it stay one line. */
    static final class BarListener implements FineTuneListener, AutoCloseable {
        private final String task;
        private final boolean quiet;
        private Progress bar;

        BarListener(String task, boolean quiet) {
            this.task = task;
            this.quiet = quiet;
        }

        @Override public void onStart(long startStep, long totalSteps) {
            close();
            bar = Progress.start(task, Math.max(1, totalSteps), quiet);
        }

        @Override public void onProgress(jlisa.finetune.Progress p) {
            if (bar != null) bar.update(p.step(), p.loss(), Double.NaN);
        }

        @Override public void close() {
            if (bar != null) bar.close();
            bar = null;
        }
    }

    /** Prints the contract line, then details. */
    private static final class Lines implements FineTuneListener {
        @Override public void onLog(Trainer.Log log) {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "step=%d loss=%.6f lr=%.3g tokens/s=%.0f",
                    log.step(), log.loss(), log.lr(), log.tokensPerSecond()));
            if (!log.activeLayers().isEmpty()) sb.append(" active=").append(String.join(",", log.activeLayers()));
            long[] g = log.ledger().get(MemoryKind.GRADIENT), o = log.ledger().get(MemoryKind.OPTIMIZER_STATE),
                    a = log.ledger().get(MemoryKind.ACTIVATION), p = log.ledger().get(MemoryKind.PARAMETER);
            sb.append(String.format(Locale.ROOT, " MiB(live/peak): params %.1f/%.1f grads %.1f/%.1f state %.1f/%.1f act %.1f/%.1f",
                    mib(p[0]), mib(p[1]), mib(g[0]), mib(g[1]), mib(o[0]), mib(o[1]), mib(a[0]), mib(a[1])));
            if (MemoryLedger.peakDeviceTotal() > 0) {   // optimizer state and scratch on a GPU: another budget
                sb.append(String.format(Locale.ROOT, " device %.1f/%.1f", mib(MemoryLedger.liveDeviceTotal()),
                        mib(MemoryLedger.peakDeviceTotal())));
            }
            System.out.println(sb);
        }

        @Override public void onEval(long step, double evalLoss) {
            System.out.printf(Locale.ROOT, "eval step=%d loss=%.6f%n", step, evalLoss);
        }

        @Override public void onCheckpoint(long step, Path path) {
            System.out.println("checkpoint step=" + step + " " + path);
        }

        private static double mib(long b) { return b / (1024.0 * 1024.0); }
    }
}
