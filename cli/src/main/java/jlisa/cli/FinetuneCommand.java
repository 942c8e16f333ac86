package jlisa.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

import jlisa.autograd.GradMode;
import jlisa.autograd.Variable;
import jlisa.optim.Lisa;
import jlisa.optim.Schedules;
import jlisa.optim.data.Batch;
import jlisa.optim.data.DataLoader;
import jlisa.optim.data.Datasets;
import jlisa.optim.data.Example;
import jlisa.optim.train.Checkpoints;
import jlisa.optim.train.Stateful;
import jlisa.optim.train.TensorStore;
import jlisa.optim.train.Trainer;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;

import jlisa.tensor.Tensor;
import jlisa.transformer.io.SafeTensors;
import jlisa.transformer.io.TensorSource;
import jlisa.transformer.lora.Lora;
import jlisa.transformer.lora.LoraConfig;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Models;
import jlisa.transformer.tokenizer.BpeTokenizer;
import jlisa.transformer.tokenizer.ByteTokenizer;
import jlisa.transformer.tokenizer.Tokenizer;
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
        double[] last = {Double.NaN};
        Trainer.Listener listener = quiet || json ? new Trainer.Listener() {
            @Override public void onStep(long step, double loss) { last[0] = loss; }
        } : new Listener() {
            @Override public void onStep(long step, double loss) { last[0] = loss; }
        };
        Outcome o = run(FineTuning.method(method), listener, true);
        if (json) {
            System.out.printf(Locale.ROOT, "{\"method\": \"%s\", \"steps\": %d, \"last_loss\": %s, \"eval_loss\": %s, "
                    + "\"ms_per_step\": %.3f, \"trainable_params\": %d, \"peak_bytes\": %d}%n", method.toLowerCase(Locale.ROOT),
                    steps, jsonNumber(last[0]), jsonNumber(o.evalLoss()), o.msPerStep(), o.trainableParams(),
                    MemoryLedger.peakTotal());
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
        FineTuning.method(method);
    }

    /** What one run measured: trainable parameters, ms per step, final eval loss (NaN without eval data). */
    record Outcome(long trainableParams, double msPerStep, double evalLoss) {}

    /** Loads the model and data, fine-tunes with {@code m} on the device asked for, and returns what it measured. */
    Outcome run(FineTuning.Method m, Trainer.Listener listener, boolean save) throws IOException {
        boolean firstRun = !devices.resolvedOnce();
        try (var device = devices.activate()) {
            if (firstRun && devices.backend() != null && !quiet && !json) System.err.println("device: " + devices.describe());
            return train(m, listener, save);
        }
    }

    private Outcome train(FineTuning.Method m, Trainer.Listener listener, boolean save) throws IOException {
        CausalLM lm = model != null ? Models.load(model) : MemoryTable.build(preset);
        lm.train(true);
        List<Example> examples = readData(lm);
        Datasets.Split split = Datasets.split(examples, evalFraction, seed);
        int longest = split.train().stream().mapToInt(Example::length).max().orElseThrow(
                () -> new IllegalArgumentException("finetune: the data has no examples"));
        int block = blockSize != null ? blockSize : Math.min(longest - 1, lm.maxPositions());
        if (block < 1 || block > lm.maxPositions()) {
            throw new IllegalArgumentException("finetune: block size " + block + " must be in [1, " + lm.maxPositions() + "]");
        }
        int rows = batchSize.equalsIgnoreCase("all") ? DataLoader.ALL : Integer.parseInt(batchSize);
        DataLoader.Options opts = (pad ? DataLoader.Options.padded(block, rows, 0, seed) : DataLoader.Options.packed(block, rows, seed))
                .withShuffle(!noShuffle);
        DataLoader train = new DataLoader(split.train(), opts);

        LoraConfig lora = m == FineTuning.Method.LORA ? new LoraConfig(loraR, loraAlpha, loraDropout, loraTargets(lm), seed) : null;
        Lisa.Config lisa = new Lisa.Config(lisaGamma, lisaPeriod, LisaArgs.policy(lisaPolicy),
                LisaArgs.sampling(lisaSampling, (int) lm.layerGroups().keySet().stream().filter(n -> n.startsWith("layer.")).count()),
                seed, lisaWarmup);
        FineTuning.Setup setup = FineTuning.prepare(lm, m, FineTuning.optimizer(optimizer), lr, weightDecay, lora, lisa);
        // On a GPU the model lives in device memory: parameters, gradients, optimizer state and activations stay there
        // for the whole step, and an op with no device kernel stops the run naming the op.
        if (devices.backend() != null) lm.moveTo(devices.backend());

        long[] lastTokens = {0};
        Trainer.LossStep step = new Trainer.LossStep() {
            @Override public Variable loss(long s, int micro) {
                Batch b = train.next();
                lastTokens[0] = b.targetCount();
                try (var scope = MemoryLedger.scope(MemoryKind.ACTIVATION)) {
                    return batchLoss(lm, b);
                }
            }

            @Override public long lastTokens() { return lastTokens[0]; }
        };
        java.util.function.DoubleSupplier eval = split.eval().isEmpty() ? null : () -> evalLoss(lm, split.eval(), block);
        Checkpoints ck = checkpointDir == null ? null : new Checkpoints(checkpointDir, STORE);
        Map<String, Stateful> states = new LinkedHashMap<>();
        states.put("data", new Stateful() {
            @Override public long[] state() { return train.state(); }

            @Override public void restore(long[] s) { train.restore(s); }
        });
        Trainer trainer = new Trainer(new Trainer.Config(steps, gradAccum, clip, logEvery, evalEvery, checkpointEvery),
                setup.optimizer(), schedule(), setup.lisa(), step, eval, ck, setup.trainable(), states, listener);
        long start = resume ? trainer.resume() : 0;
        if (resume && start > 0 && !json) System.out.println("resumed at step " + start + " from " + checkpointDir);
        long t0 = System.nanoTime();
        trainer.run(start);
        double msPerStep = (System.nanoTime() - t0) / 1e6 / Math.max(1, steps - start);
        double finalEval = eval == null ? Double.NaN : eval.getAsDouble();
        if (devices.backend() != null) lm.moveTo(null);   // back to the heap, to save and to hand back
        if (save && this.save != null) {
            if (m == FineTuning.Method.LORA) Lora.save(lm, this.save, model == null ? preset : model.toString());
            else Models.save(lm, this.save);
            if (!json) System.out.println("saved to " + this.save);
        }
        long trainable = 0;
        for (var p : setup.trainable().values()) trainable += p.data().numel();
        if (setup.lisa() != null) {
            trainable = setup.lisa().parametersTrainingAtOnce();
            setup.lisa().close();
        }
        for (var p : lm.namedParameters().values()) {   // this run is over: free what it held
            p.zeroGrad();
            setup.optimizer().dropState(p);
        }
        lm.close();
        return new Outcome(trainable, msPerStep, finalEval);
    }

    /** Mean cross-entropy over the batch's counted targets. */
    static Variable batchLoss(CausalLM lm, Batch b) {
        return lm.loss(b.inputs(), b.targets(), Batch.IGNORE);
    }

    private static double evalLoss(CausalLM lm, List<Example> eval, int block) {
        DataLoader loader = new DataLoader(eval, DataLoader.Options.packed(block, DataLoader.ALL, 0).withShuffle(false));
        boolean wasTraining = lm.isTraining();
        lm.eval();
        try (var noGrad = GradMode.disabled()) {
            return batchLoss(lm, loader.next()).data().item();
        } finally {
            lm.train(wasTraining);
        }
    }

    private List<Example> readData(CausalLM lm) throws IOException {
        List<Example> ex;
        if (tokens != null) {
            ex = Datasets.readTokens(tokens);
        } else {
            Tokenizer tok = tokenizer(lm);
            OptionalInt eos = tok.eosId();
            ex = text != null ? Datasets.readText(text, tok::encode, eos) : Datasets.readJsonl(jsonl, tok::encode, eos);
        }
        for (Example e : ex) {
            for (int id : e.ids()) {
                if (id < 0 || id >= lm.vocabSize()) {
                    throw new IllegalArgumentException("finetune: token id " + id + " is outside the model's vocabulary [0, "
                            + lm.vocabSize() + ")");
                }
            }
        }
        return ex;
    }

    private Tokenizer tokenizer(CausalLM lm) throws IOException {
        Path file = tokenizer != null ? tokenizer : model != null ? model.resolve("tokenizer.json") : null;
        if (file != null && Files.isRegularFile(file)) return BpeTokenizer.load(file);
        if (tokenizer != null) throw new IllegalArgumentException("finetune: no tokenizer file at " + tokenizer);
        if (lm.vocabSize() < 256) {
            throw new IllegalArgumentException("finetune: no tokenizer.json, and the model's vocabulary (" + lm.vocabSize()
                    + ") is too small for bytes");
        }
        return lm.vocabSize() > 256 ? ByteTokenizer.withEndOfText() : ByteTokenizer.plain();
    }

    private List<String> loraTargets(CausalLM lm) {
        if (loraTargets != null) return List.of(loraTargets.split("\\s*,\\s*"));
        return lm instanceof jlisa.transformer.model.GPT2 ? List.of("c_attn", "attn.c_proj", "c_fc", "mlp.c_proj")
                : List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
    }

    private Schedules.Schedule schedule() {
        return switch (schedule.toLowerCase(Locale.ROOT)) {
            case "constant" -> warmup == 0 ? Schedules.constant(lr) : Schedules.warmupLinear(lr, warmup, Long.MAX_VALUE / 2, lr);
            case "cosine" -> Schedules.warmupCosine(lr, warmup, steps, 0.1 * lr);
            case "linear" -> Schedules.warmupLinear(lr, warmup, steps, 0.0);
            default -> throw new IllegalArgumentException("--schedule must be constant, cosine or linear, got '" + schedule + "'");
        };
    }

    /** Prints the contract line, then details. */
    private static class Listener implements Trainer.Listener {
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

    /** Checkpoint tensors as safetensors; reads copy into memory so the file can be closed at once. */
    static final TensorStore STORE = new TensorStore() {
        @Override public void write(Path file, Map<String, Tensor> tensors) throws IOException {
            SafeTensors.write(file, tensors, Map.of("format", "pt"));
        }

        @Override public Map<String, Tensor> read(Path file) throws IOException {
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (TensorSource src = SafeTensors.open(file)) {
                for (String n : src.names()) {
                    Tensor t = src.tensor(n, MemoryKind.OTHER);
                    out.put(n, t.copy());
                    t.storage().release();
                }
            }
            return out;
        }
    };

}
