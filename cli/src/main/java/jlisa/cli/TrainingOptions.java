package jlisa.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

import jlisa.chat.ChatTemplate;
import jlisa.cli.demo.Progress;
import jlisa.finetune.FineTune;
import jlisa.finetune.FineTuneListener;
import jlisa.finetune.FineTuneResult;
import jlisa.finetune.Method;
import jlisa.optim.train.Trainer;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.transformer.model.CausalLM;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The options every training command shares — model, data, optimizer, schedule, batches, eval, output — and the
 * run itself, through the library's {@link FineTune} (a picocli mixin of finetune, pretrain and compare).
 */
final class TrainingOptions {
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

    @Option(names = "--chat-jsonl", description = "chat data: {\"messages\": [{\"role\", \"content\"}...]} per line, "
            + "rendered with the model's chat template (tokenizer_config.json), loss on the assistant turns only")
    Path chatJsonl;

    @Option(names = "--tokenizer", description = "tokenizer.json for --text/--jsonl/--chat-jsonl (default: the model dir's, else bytes)")
    Path tokenizer;

    @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw or sgd (default: ${DEFAULT-VALUE})")
    String optimizer;

    @Option(names = "--lr", defaultValue = "1e-4", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--weight-decay", defaultValue = "0.0",
            description = "decoupled weight decay on matrices, not on biases or norms (default: ${DEFAULT-VALUE})")
    double weightDecay;

    @Option(names = "--schedule", defaultValue = "constant",
            description = "learning rate after --warmup: constant, cosine (to lr/10) or linear (to 0) (default: ${DEFAULT-VALUE})")
    String schedule;

    @Option(names = "--warmup", defaultValue = "0", description = "steps of linear learning-rate warm-up (default: ${DEFAULT-VALUE})")
    long warmup;

    @Option(names = "--steps", defaultValue = "100", description = "optimizer steps in all (default: ${DEFAULT-VALUE})")
    long steps;

    @Option(names = "--batch-size", defaultValue = "8", description = "rows per micro-batch, or 'all' (default: ${DEFAULT-VALUE})")
    String batchSize;

    @Option(names = "--block-size", description = "tokens per row (default: longest example − 1, capped by the model)")
    Integer blockSize;

    @Option(names = "--pad", description = "one example per row, padded (default: examples packed end to end)")
    boolean pad;

    @Option(names = "--no-shuffle", description = "keep the data's order (default: shuffled every epoch)")
    boolean noShuffle;

    @Option(names = "--grad-accum", defaultValue = "1",
            description = "micro-batches whose gradients make one step (default: ${DEFAULT-VALUE})")
    int gradAccum;

    @Option(names = "--clip", defaultValue = "0", description = "global gradient-norm clip, 0 = off (default: ${DEFAULT-VALUE})")
    double clip;

    @Option(names = "--seed", defaultValue = "0",
            description = "seeds the eval split, shuffling, LoRA's init and LISA's draws (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--log-every", defaultValue = "10",
            description = "print a step line with memory every this many steps, 0 = never (default: ${DEFAULT-VALUE})")
    int logEvery;

    @Option(names = "--eval-fraction", defaultValue = "0",
            description = "held-out share of the data for an eval loss, 0 = none (default: ${DEFAULT-VALUE})")
    double evalFraction;

    @Option(names = "--eval-every", defaultValue = "0",
            description = "evaluate every this many steps as well as at the end, 0 = at the end only (default: ${DEFAULT-VALUE})")
    int evalEvery;

    @Option(names = "--rank-timeout", defaultValue = "300", description = "under mpirun: seconds a rank waits for the "
            + "others in one collective call before it stops the job, naming the call (a rank died or hangs) (default: ${DEFAULT-VALUE})")
    long rankTimeout;

    @Option(names = "--checksum-every", defaultValue = "100", description = "under mpirun: compare the trained parameters' "
            + "checksum across ranks every this many steps, 0 = never (default: ${DEFAULT-VALUE})")
    int checksumEvery;

    @Option(names = "--quiet", description = "no per-step lines or progress bar") boolean quiet;

    @Option(names = "--json", description = "print one JSON object of results at the end, and nothing else on stdout")
    boolean json;

    @Mixin DeviceOptions devices = new DeviceOptions();

    /** Checks that the options agree with each other; {@code command} names the command in the message. */
    void validate(String command) {
        if ((model == null) == (preset == null)) throw new IllegalArgumentException(command + ": give exactly one of --model and --preset");
        if ((tokens == null ? 0 : 1) + (text == null ? 0 : 1) + (jsonl == null ? 0 : 1) + (chatJsonl == null ? 0 : 1) != 1) {
            throw new IllegalArgumentException(command + ": give exactly one of --tokens, --text, --jsonl and --chat-jsonl");
        }
        if (rankTimeout < 1) throw new IllegalArgumentException(command + ": --rank-timeout must be >= 1 second, got " + rankTimeout);
        if (checksumEvery < 0) throw new IllegalArgumentException(command + ": --checksum-every must be >= 0, got " + checksumEvery);
        if (chatJsonl != null) {
            // the template comes from the model directory (or the --tokenizer file's); say which file lacks it up front
            Path dir = model != null ? model : tokenizer != null ? tokenizer.toAbsolutePath().getParent() : null;
            if (dir == null) {
                throw new IllegalArgumentException(command + ": --chat-jsonl needs a chat template: give --model DIR (or "
                        + "--tokenizer FILE) whose tokenizer_config.json has a \"chat_template\"; a --preset has none");
            }
            ChatTemplate.forModel(dir);   // throws naming tokenizer_config.json when there is no template
        }
    }

    /** Human output wanted: neither --quiet nor --json, and this is the job's rank 0 (or the only process). */
    boolean verbose() { return !quiet && !json && leader(); }

    /** Whether this process prints the results: rank 0 of an mpirun job, or the only process. */
    boolean leader() { return DistributedJob.rank() == 0; }

    /**
     * Trains with {@code m} on the device asked for and returns what it measured; {@code more} adds settings of
     * the calling command (checkpoints, saving) to the fine-tune.
     */
    FineTuneResult run(Method m, List<FineTuneListener> listeners, Consumer<FineTune.Builder> more) throws IOException {
        boolean firstRun = !devices.resolvedOnce();
        try (var device = devices.activate()) {
            if (firstRun && devices.backend() != null && verbose()) System.err.println("device: " + devices.describe());
            FineTune.Builder b = builder(m, listeners);
            if (DistributedJob.launchedByMpirun()) {
                if (devices.backend() != null) {
                    throw new IllegalArgumentException("data-parallel runs under mpirun reduce gradients on the CPU; a --device "
                            + "run needs NCCL, which jlisa does not have yet");
                }
                b.collective(DistributedJob.collective(java.time.Duration.ofSeconds(rankTimeout))).checksumEvery(checksumEvery);
            }
            more.accept(b);
            if (model != null) return b.model(model).build().run();
            try (CausalLM lm = MemoryTable.build(preset)) {
                return b.build().run(lm);
            }
        }
    }

    private FineTune.Builder builder(Method m, List<FineTuneListener> listeners) {
        FineTune.Builder b = FineTune.builder();
        if (tokenizer != null) b.tokenizer(tokenizer);
        if (tokens != null) b.tokens(tokens);
        else if (text != null) b.text(text);
        else if (jsonl != null) b.jsonl(jsonl);
        else b.chat(chatJsonl);
        b.method(m).optimizer(optimizerChoice()).learningRate(lr).weightDecay(weightDecay)
                .schedule(lrSchedule(), warmup).steps(steps).batchSize(rows())
                .padded(pad).shuffle(!noShuffle).gradientAccumulation(gradAccum).clipGradNorm(clip).seed(seed)
                .logEvery(logEvery).evalFraction(evalFraction).evalEvery(evalEvery);
        if (blockSize != null) b.blockSize(blockSize);
        if (devices.backend() != null) b.backend(devices.backend());
        listeners.forEach(b::listener);
        if (verbose()) {
            b.listener(new FineTuneListener() {
                @Override public void onResume(long step, Path dir) { System.out.println("resumed at step " + step + " from " + dir); }

                @Override public void onSaved(Path dir) { System.out.println("saved to " + dir); }
            });
        }
        return b;
    }

    private int rows() {
        if (batchSize.equalsIgnoreCase("all")) return FineTune.WHOLE_DATASET;
        try {
            return Integer.parseInt(batchSize);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--batch-size must be a number of rows or 'all', got '" + batchSize + "'");
        }
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

    /** The data's description for reports. */
    String dataName() {
        return tokens != null ? tokens.toString() : text != null ? text.toString() : jsonl != null ? jsonl.toString()
                : chatJsonl + " (chat)";
    }

    /** The model's description for reports. */
    String modelName() { return model != null ? model.toString() : "preset " + preset; }

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
    static final class Lines implements FineTuneListener {
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
            if (log.bytesSentPerStep() > 0) sb.append(String.format(Locale.ROOT, " sent/step %.3f MiB", mib((long) log.bytesSentPerStep())));
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
