package jlisa.cli.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import jlisa.autograd.GradMode;
import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.optim.AdamW;
import jlisa.optim.Lisa;
import jlisa.optim.ParamGroup;
import jlisa.optim.Schedules;
import jlisa.optim.data.Batch;
import jlisa.optim.data.DataLoader;
import jlisa.optim.data.Example;
import jlisa.optim.train.Trainer;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.transformer.generate.GenerationConfig;
import jlisa.transformer.generate.Generator;
import jlisa.transformer.lora.Lora;
import jlisa.transformer.lora.LoraConfig;
import jlisa.transformer.model.Llama;
import jlisa.transformer.model.Models;

/**
 * The demo pipeline: pretrain a small LLaMA-shaped model on the built-in task mix once, then fine-tune
 * copies of it on a held-out task with full fine-tuning, LoRA and LISA, each over several seeds (the
 * seed moves the data order, LoRA's initialisation and LISA's draws; the pretrained start is shared),
 * and measure each run: trainable parameters, peak bytes by ledger kind, ms per step, eval loss,
 * exact-match accuracy, and how the training loss moves around LISA's draws.
 *
 * <p>Stateless between calls; a run owns the models it builds, so it is not for use from several threads at once.
 */
public final class Demo {
    private Demo() {}

    /**
     * LISA's settings: γ layers active at a time, a new draw every K steps, what happens to a frozen layer's
     * optimizer state, how layers are drawn, and the per-layer learning-rate warm-up after a draw (0 = none).
     */
    public record LisaSettings(int gamma, int period, Lisa.StatePolicy policy, Lisa.Sampling sampling, int warmup) {
        public LisaSettings {
            if (gamma < 1 || period < 1 || warmup < 0 || policy == null || sampling == null) {
                throw new IllegalArgumentException("LISA settings: expected gamma >= 1, period >= 1, warmup >= 0, a policy "
                        + "and a sampling, got " + gamma + ", " + period + ", " + warmup + ", " + policy + ", " + sampling);
            }
        }

        Lisa.Config config(long seed) { return new Lisa.Config(gamma, period, policy, sampling, seed, warmup); }

        /** A short label: {@code γ2 K10 drop uniform w3}. */
        public String label() {
            return "γ" + gamma + " K" + period + " " + policy.name().toLowerCase(Locale.ROOT) + " " + samplingName(sampling)
                    + (warmup > 0 ? " w" + warmup : "");
        }
    }

    /** The name a sampling goes by on the command line and in reports. */
    public static String samplingName(Lisa.Sampling s) {
        return switch (s) {
            case Lisa.Sampling.Uniform u -> "uniform";
            case Lisa.Sampling.WeightNorm w -> "weight-norm";
            case Lisa.Sampling.Weights w -> "weights" + java.util.Arrays.toString(w.probabilities()).replace(" ", "");
        };
    }

    /** Everything the demo's outcome depends on. */
    public record Settings(long seed, int seeds, int layers, int hidden, int heads, int kvHeads, int pretrainDocs,
                           int pretrainSteps, double pretrainLr, int trainTasks, int evalTasks, int finetuneSteps,
                           double finetuneLr, double loraLr, double lisaLr, int batch, int gradAccum, int loraR,
                           LisaSettings lisa, int evalEvery) {
        public Settings {
            if (seeds < 1) throw new IllegalArgumentException("demo: --seeds must be >= 1, got " + seeds);
            if (pretrainSteps < 0 || finetuneSteps < 1) {
                throw new IllegalArgumentException("demo: expected pretraining steps >= 0 and fine-tuning steps >= 1, got "
                        + pretrainSteps + " and " + finetuneSteps);
            }
        }

        /**
         * The defaults of {@code ./jlisa demo}: minutes on 2 cores. Batches of 16 sequences are run as
         * 4 micro-batches of 4 (gradient accumulation), so activations stay small beside the
         * gradients and optimizer state — the memory that full fine-tuning, LoRA and LISA differ in.
         * LISA: γ 2 is the most that stays within 1.1× LoRA's peak (γ 3 is 1.20×); drop without warm-up had the
         * lowest eval loss of the policies at that memory in the 5-seed sweeps (bench/RESULTS.md, issue 13).
         */
        public static Settings defaults() {
            return new Settings(0, 3, 8, 128, 4, 2, 40_000, 5000, 3e-3, 4000, 200, 300, 1e-3, 3e-3, 1e-3, 4, 4, 8,
                    new LisaSettings(2, 10, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 0), 50);
        }

        /** A seconds-long configuration for tests. */
        public static Settings quick() {
            return new Settings(0, 1, 4, 32, 2, 1, 400, 12, 3e-3, 64, 16, 8, 1e-3, 3e-3, 1e-3, 4, 2, 4,
                    new LisaSettings(1, 2, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 0), 4);
        }

        public Settings withSeed(long seed) {
            return new Settings(seed, seeds, layers, hidden, heads, kvHeads, pretrainDocs, pretrainSteps, pretrainLr, trainTasks,
                    evalTasks, finetuneSteps, finetuneLr, loraLr, lisaLr, batch, gradAccum, loraR, lisa, evalEvery);
        }

        public Settings withSeeds(int seeds) {
            return new Settings(seed, seeds, layers, hidden, heads, kvHeads, pretrainDocs, pretrainSteps, pretrainLr, trainTasks,
                    evalTasks, finetuneSteps, finetuneLr, loraLr, lisaLr, batch, gradAccum, loraR, lisa, evalEvery);
        }

        public Settings withSteps(int pretrain, int finetune) {
            return new Settings(seed, seeds, layers, hidden, heads, kvHeads, pretrainDocs, pretrain, pretrainLr, trainTasks,
                    evalTasks, finetune, finetuneLr, loraLr, lisaLr, batch, gradAccum, loraR, lisa, evalEvery);
        }

        public Settings withLisa(LisaSettings l) {
            return new Settings(seed, seeds, layers, hidden, heads, kvHeads, pretrainDocs, pretrainSteps, pretrainLr, trainTasks,
                    evalTasks, finetuneSteps, finetuneLr, loraLr, lisaLr, batch, gradAccum, loraR, l, evalEvery);
        }

        /** Fine-tuning learning rates of full fine-tuning, LoRA and LISA. */
        public Settings withLearningRates(double full, double lora, double lisaRate) {
            return new Settings(seed, seeds, layers, hidden, heads, kvHeads, pretrainDocs, pretrainSteps, pretrainLr, trainTasks,
                    evalTasks, finetuneSteps, full, lora, lisaRate, batch, gradAccum, loraR, lisa, evalEvery);
        }

        public Settings withPretrainLr(double lr) {
            return new Settings(seed, seeds, layers, hidden, heads, kvHeads, pretrainDocs, pretrainSteps, lr, trainTasks,
                    evalTasks, finetuneSteps, finetuneLr, loraLr, lisaLr, batch, gradAccum, loraR, lisa, evalEvery);
        }

        /** LoRA's rank r (alpha stays 2r). */
        public Settings withLoraRank(int r) {
            return new Settings(seed, seeds, layers, hidden, heads, kvHeads, pretrainDocs, pretrainSteps, pretrainLr, trainTasks,
                    evalTasks, finetuneSteps, finetuneLr, loraLr, lisaLr, batch, gradAccum, r, lisa, evalEvery);
        }

        /** Another model shape: layers, hidden size, attention heads and key/value heads. */
        public Settings withModel(int layers, int hidden, int heads, int kvHeads) {
            return new Settings(seed, seeds, layers, hidden, heads, kvHeads, pretrainDocs, pretrainSteps, pretrainLr, trainTasks,
                    evalTasks, finetuneSteps, finetuneLr, loraLr, lisaLr, batch, gradAccum, loraR, lisa, evalEvery);
        }

        /** The seeds of the fine-tuning runs: {@code seed}, {@code seed + 1}, … */
        public List<Long> finetuneSeeds() {
            List<Long> out = new ArrayList<>();
            for (int i = 0; i < seeds; i++) out.add(seed + i);
            return out;
        }

        Llama.Config modelConfig() {
            int headDim = hidden / heads;
            return new Llama.Config(SyntheticTasks.VOCAB_SIZE, hidden, (int) Math.round(hidden * 2.6875 / 8) * 8, layers, heads,
                    kvHeads, headDim, 1e-6, 10000.0, 64, true, false, 0.02);
        }

        Map<String, Object> describe0() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", "LLaMA-shaped, " + layers + " layers, hidden " + hidden + ", " + heads + " heads (" + kvHeads
                    + " kv), byte vocabulary + EOS");
            m.put("seed", seed);
            m.put("seeds", finetuneSeeds());
            m.put("pretraining", pretrainSteps + " AdamW steps on " + pretrainDocs + " task lines, lr " + pretrainLr
                    + " (once, from seed " + seed + ")");
            m.put("fine-tuning", finetuneSteps + " steps, batch " + batch + " x " + gradAccum + " accumulated, " + trainTasks
                    + " " + SyntheticTasks.HELD_OUT_TAG + " tasks (" + evalTasks + " held out), lr " + finetuneLr + " (LoRA "
                    + loraLr + ", LISA " + lisaLr + "), once per seed");
            m.put("lora", "r=" + loraR + ", alpha=" + 2 * loraR + ", every attention and MLP projection");
            m.put("lisa", "gamma=" + lisa.gamma() + ", K=" + lisa.period() + ", " + lisa.policy().name().toLowerCase(Locale.ROOT)
                    + " policy, " + samplingName(lisa.sampling()) + " sampling, warm-up " + lisa.warmup()
                    + " steps, embedding and head always on");
            Map<String, Object> l = new LinkedHashMap<>();
            l.put("gamma", lisa.gamma());
            l.put("period", lisa.period());
            l.put("policy", lisa.policy().name().toLowerCase(Locale.ROOT));
            l.put("sampling", samplingName(lisa.sampling()));
            l.put("warmup", lisa.warmup());
            m.put("lisa_settings", l);
            return m;
        }
    }

    /** The settings as report lines. */
    public static Map<String, Object> describe(Settings s) { return s.describe0(); }

    /** One fine-tuning method: its report name, kind (full, lora or lisa), learning rate, and LISA's settings. */
    public record Method(String name, String kind, double lr, LisaSettings lisa) {
        public Method {
            if (!List.of("full", "lora", "lisa").contains(kind)) {
                throw new IllegalArgumentException("demo method: kind must be full, lora or lisa, got '" + kind + "'");
            }
            if (kind.equals("lisa") && lisa == null) throw new IllegalArgumentException("demo method '" + name + "': no LISA settings");
        }
    }

    /** The demo's three methods under {@code s}. */
    public static List<Method> methods(Settings s) {
        return List.of(new Method("full", "full", s.finetuneLr(), null), new Method("lora", "lora", s.loraLr(), null),
                new Method("lisa", "lisa", s.lisaLr(), s.lisa()));
    }

    /**
     * One fine-tuning run's measurements. {@code drawRatios[o]}: the training loss {@code o} steps after a period
     * of K steps begins (a LISA draw; the same steps for the other methods), over the mean of the three steps
     * before it, averaged over the periods of the run.
     */
    public record MethodRun(String name, long seed, long trainableParams, Map<MemoryKind, Long> peakBytes, long peakTotal,
                            double msPerStep, double evalLoss, double accuracy, List<double[]> lossCurve,
                            List<double[]> evalCurve, double[] drawRatios) {}

    /** Runs the whole demo: pretraining once, then each method once per seed. Result: per method, its runs. */
    public static Map<String, List<MethodRun>> run(Settings s, Path outDir, boolean quiet, PrintStream log) throws IOException {
        Map<String, Tensor> base = pretrain(s, quiet, log);
        Map<String, List<MethodRun>> runs = new LinkedHashMap<>();
        List<Long> seeds = s.finetuneSeeds();
        for (long seed : seeds) {
            for (Method m : methods(s)) {
                // checkpoints of the first seed's runs only: one of each is what a user looks at
                Path save = outDir != null && seed == seeds.get(0) ? outDir : null;
                runs.computeIfAbsent(m.name(), k -> new ArrayList<>()).add(finetune(s, base, m, seed, save, quiet, log));
            }
        }
        release(base);
        return runs;
    }

    /** The pretrained weights (counted as OTHER: the copy every fine-tuning run starts from). */
    public static Map<String, Tensor> pretrain(Settings s, boolean quiet, PrintStream log) {
        Llama.Config cfg = s.modelConfig();
        List<Example> docs = new ArrayList<>();
        for (String d : SyntheticTasks.pretrainingDocuments(s.seed(), s.pretrainDocs())) docs.add(SyntheticTasks.documentExample(d));
        Llama base = new Llama(cfg, new Rng(s.seed()));
        log.printf("pretraining %s (%,d parameters) for %d steps%n", cfg.numLayers() + "-layer model", base.parameterCount(),
                s.pretrainSteps());
        AdamW preOpt = new AdamW(ParamGroup.withDecay(base.namedParameters(), 0.0), s.pretrainLr());
        if (s.pretrainSteps() > 0) {
            // One micro-batch of batch × gradAccum rows: the same gradient as accumulating (every packed row is full), with
            // a quarter of the ops per step; pretraining is not what the ledger compares, so its activations may be larger.
            DataLoader preData = new DataLoader(docs, DataLoader.Options.packed(64, s.batch() * s.gradAccum(), s.seed()));
            train(base, preOpt, null, preData, null, 1, s.pretrainSteps(),
                    Schedules.warmupCosine(s.pretrainLr(), Math.min(20, s.pretrainSteps()), s.pretrainSteps(), 0.1 * s.pretrainLr()),
                    0, new ArrayList<>(), new ArrayList<>(), "pretrain", quiet);
        }
        Map<String, Tensor> pretrained = new LinkedHashMap<>();
        try (var scope = MemoryLedger.scope(MemoryKind.OTHER)) {
            base.stateDict().forEach((k, v) -> pretrained.put(k, v.copy()));
        }
        for (Parameter p : base.parameters()) {   // the pretraining run is over: free what it held
            preOpt.dropState(p);
            p.data().storage().release();
        }
        return pretrained;
    }

    /** Frees weights returned by {@link #pretrain}. */
    public static void release(Map<String, Tensor> weights) {
        for (Tensor t : weights.values()) t.storage().release();
    }

    /**
     * Fine-tunes a fresh copy of {@code base} with {@code m} under {@code seed}; writes its checkpoint (model, or the
     * LoRA adapter) under {@code saveDir} when that is not null.
     */
    public static MethodRun finetune(Settings s, Map<String, Tensor> base, Method m, long seed, Path saveDir, boolean quiet,
                                     PrintStream log) throws IOException {
        Llama.Config cfg = s.modelConfig();
        SyntheticTasks.Split split = SyntheticTasks.finetuneSplit(s.seed(), s.trainTasks(), s.evalTasks());
        List<Example> train = new ArrayList<>(), eval = new ArrayList<>();
        for (SyntheticTasks.Task t : split.train()) train.add(SyntheticTasks.toExample(t, true));
        for (SyntheticTasks.Task t : split.eval()) eval.add(SyntheticTasks.toExample(t, true));
        int block = SyntheticTasks.MAX_FINETUNE_TOKENS - 1;   // rows as long as the longest example: no padding wasted

        Llama model = new Llama(cfg, null);
        Map<String, Tensor> copy = new LinkedHashMap<>();
        try (var scope = MemoryLedger.scope(MemoryKind.PARAMETER)) {
            base.forEach((k, v) -> copy.put(k, v.copy()));
        }
        model.loadStateDict(copy, true);
        model.train(true);
        MemoryLedger.collectGarbage();
        MemoryLedger.resetPeaks();

        Map<String, Parameter> trainable;
        AdamW opt;
        Lisa lisa = null;
        if (m.kind().equals("lora")) {
            model.requiresGrad(false);
            trainable = Lora.apply(model, new LoraConfig(s.loraR(), 2.0 * s.loraR(), 0.0,
                    List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), seed));
            opt = new AdamW(ParamGroup.withDecay(trainable, 0.0), m.lr());
        } else {
            trainable = model.namedParameters();
            opt = new AdamW(ParamGroup.withDecay(trainable, 0.0), m.lr());
            if (m.kind().equals("lisa")) {
                Map<String, Map<String, Parameter>> middle = new LinkedHashMap<>();
                model.layerGroups().forEach((n, p) -> { if (n.startsWith("layer.")) middle.put(n, p); });
                lisa = new Lisa(middle, opt, m.lisa().config(seed));
            }
        }
        long trainableCount = 0;
        for (Parameter p : trainable.values()) trainableCount += p.data().numel();
        if (lisa != null) trainableCount = lisa.parametersTrainingAtOnce();
        DataLoader data = new DataLoader(train, DataLoader.Options.padded(block, s.batch(), 0, seed));
        List<double[]> curve = new ArrayList<>(), evalCurve = new ArrayList<>();
        log.printf("fine-tuning with %s, seed %d (%,d trainable parameters at a time)%n", m.name(), seed, trainableCount);
        long[] evalNanos = {0};
        Llama tuned = model;
        java.util.function.DoubleSupplier timedEval = () -> {
            long e0 = System.nanoTime();
            double loss = evalLoss(tuned, eval, s.batch() * s.gradAccum());
            evalNanos[0] += System.nanoTime() - e0;
            return loss;
        };
        long t0 = System.nanoTime();
        try {
            train(model, opt, lisa, data, timedEval, s.gradAccum(), s.finetuneSteps(), Schedules.constant(m.lr()), s.evalEvery(),
                    curve, evalCurve, m.name() + " s" + seed, quiet);
        } finally {
            if (lisa != null) lisa.close();
        }
        double msPerStep = (System.nanoTime() - t0 - evalNanos[0]) / 1e6 / s.finetuneSteps();   // training only, no eval
        Map<MemoryKind, Long> peak = new LinkedHashMap<>();
        for (MemoryKind k : MemoryKind.values()) peak.put(k, MemoryLedger.peak(k));
        long peakTotal = MemoryLedger.peakTotal();
        double evalLoss = evalLoss(model, eval, s.batch() * s.gradAccum());
        double accuracy = accuracy(model, split.eval());
        if (saveDir != null) {
            if (m.kind().equals("lora")) Lora.save(model, saveDir.resolve(m.name() + "-adapter"), "demo-pretrained");
            else Models.save(model, saveDir.resolve(m.name() + "-model"));
        }
        for (Parameter p : model.namedParameters().values()) {   // this run is over: free what it held
            p.zeroGrad();
            opt.dropState(p);
            p.data().storage().release();
        }
        int period = m.lisa() != null ? m.lisa().period() : s.lisa().period();
        return new MethodRun(m.name(), seed, trainableCount, peak, peakTotal, msPerStep, evalLoss, accuracy, curve, evalCurve,
                drawRatios(curve, period));
    }

    /**
     * How the training loss moves around period starts (LISA's draws). For each period start d = K, 2K, … (0-based
     * steps) with a whole period after it, of every curve: ratio[o] = Σ loss[d + o] / Σ mean(loss[d − 3 … d − 1]) for
     * o = 0 … K − 1, the sums over all those periods — a ratio of means, which one noisy small loss cannot swing the
     * way it swings a mean of ratios. The step-d loss is computed before the new draw's first update, so a jump
     * caused by that update shows from o = 1.
     */
    public static double[] pooledDrawRatios(List<List<double[]>> curves, int period) {
        double[] sum = new double[period];
        double pre = 0;
        for (List<double[]> curve : curves) {
            for (int d = period; d + period <= curve.size(); d += period) {
                if (d < 3) continue;
                pre += (curve.get(d - 1)[1] + curve.get(d - 2)[1] + curve.get(d - 3)[1]) / 3;
                for (int o = 0; o < period; o++) sum[o] += curve.get(d + o)[1];
            }
        }
        for (int o = 0; o < period; o++) sum[o] = pre > 0 ? sum[o] / pre : Double.NaN;
        return sum;
    }

    /** {@link #pooledDrawRatios} of one curve. */
    public static double[] drawRatios(List<double[]> curve, int period) { return pooledDrawRatios(List.of(curve), period); }

    /**
     * {@code run}'s training loss over {@code reference}'s at the same steps: with the same seed both saw the same
     * batches, so how hard each batch is cancels and what is left is what the method adds (around a draw, say).
     */
    public static List<double[]> lossOver(MethodRun run, MethodRun reference) {
        List<double[]> a = run.lossCurve(), b = reference.lossCurve();
        if (a.size() != b.size()) {
            throw new IllegalArgumentException("loss over a reference: runs of " + a.size() + " and " + b.size() + " steps");
        }
        List<double[]> q = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) q.add(new double[] {a.get(i)[0], a.get(i)[1] / b.get(i)[1]});
        return q;
    }

    private static void train(Llama model, AdamW opt, Lisa lisa, DataLoader data, java.util.function.DoubleSupplier eval,
                              int gradAccum, int steps, Schedules.Schedule schedule, int evalEvery, List<double[]> curve,
                              List<double[]> evalCurve, String task, boolean quiet) {
        long[] tokens = {0};
        Trainer.LossStep step = new Trainer.LossStep() {
            @Override public Variable loss(long s, int micro) {
                Batch b = data.next();
                tokens[0] = b.targetCount();
                try (var scope = MemoryLedger.scope(MemoryKind.ACTIVATION)) {
                    return batchLoss(model, b);
                }
            }

            @Override public long lastTokens() { return tokens[0]; }
        };
        try (Progress progress = Progress.start(task, steps, quiet)) {
            long start = System.nanoTime();
            long[] seen = {0};
            Trainer.Listener listener = new Trainer.Listener() {
                @Override public void onStep(long s, double loss) {
                    curve.add(new double[] {s, loss});
                    seen[0] += tokens[0];
                    progress.update(s, loss, seen[0] / ((System.nanoTime() - start) / 1e9));
                }

                @Override public void onEval(long s, double loss) { evalCurve.add(new double[] {s, loss}); }
            };
            Trainer.Builder trainer = Trainer.builder(opt, step).steps(steps).gradientAccumulation(gradAccum).clipGradNorm(1.0)
                    .schedule(schedule).listener(listener);
            if (lisa != null) trainer.lisa(lisa);
            if (eval != null) trainer.eval(eval, evalEvery);
            trainer.build().run(0);
        }
    }

    static Variable batchLoss(Llama model, Batch b) {
        return model.loss(b.inputs(), b.targets(), Batch.IGNORE);
    }

    /** Mean loss over the eval examples' counted targets, in batches of {@code rows}. */
    static double evalLoss(Llama model, List<Example> eval, int rows) {
        DataLoader loader = new DataLoader(eval, DataLoader.Options.padded(SyntheticTasks.MAX_FINETUNE_TOKENS - 1, rows, 0, 0)
                .withShuffle(false));
        boolean was = model.isTraining();
        model.eval();
        double total = 0;
        long count = 0;
        try (var noGrad = GradMode.disabled(); var scope = MemoryLedger.scope(MemoryKind.ACTIVATION)) {
            for (int b = 0; b < loader.batchesPerEpoch(); b++) {
                try (var allocations = MemoryLedger.track()) {
                    Batch batch = loader.next();
                    long n = batch.targetCount();
                    total += batchLoss(model, batch).data().item() * n;
                    count += n;
                    allocations.releaseAllExcept(List.of());   // nothing of an eval pass outlives it
                }
            }
        } finally {
            model.train(was);
        }
        return total / Math.max(1, count);
    }

    /** Greedy answers to the held-out tasks, scored by exact match. */
    static double accuracy(Llama model, List<SyntheticTasks.Task> tasks) {
        boolean was = model.isTraining();
        model.eval();
        List<String> answers = new ArrayList<>();
        try {
            GenerationConfig greedy = GenerationConfig.greedy(SyntheticTasks.MAX_ANSWER_TOKENS + 1)
                    .withStopTokens((int) '\n', SyntheticTasks.EOS);
            for (SyntheticTasks.Task t : tasks) {
                int[] out;
                try (var scope = MemoryLedger.scope(MemoryKind.ACTIVATION); var allocations = MemoryLedger.track()) {
                    out = Generator.generate(model, SyntheticTasks.promptIds(t), greedy);
                    allocations.releaseAllExcept(List.of());
                }
                byte[] bytes = new byte[out.length];
                int n = 0;
                for (int id : out) if (id < 256) bytes[n++] = (byte) id;
                answers.add(new String(bytes, 0, n, java.nio.charset.StandardCharsets.UTF_8));
            }
        } finally {
            model.train(was);
        }
        return SyntheticTasks.accuracy(tasks, answers);
    }
}
