package jlisa.cli.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;


import jlisa.autograd.GradMode;
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
 * The demo pipeline: pretrain a small LLaMA-shaped model on the built-in task mix, fine-tune copies
 * of it on a held-out task with full fine-tuning, LoRA and LISA (same data, steps and seed), and
 * measure each: trainable parameters, peak bytes by ledger kind, ms per step, eval loss and
 * exact-match accuracy.
 */
public final class Demo {
    private Demo() {}

    /** Everything the demo's outcome depends on. */
    public record Settings(long seed, int layers, int hidden, int heads, int kvHeads, int pretrainDocs, int pretrainSteps,
                           double pretrainLr, int trainTasks, int evalTasks, int finetuneSteps, double finetuneLr,
                           double loraLr, int batch, int gradAccum, int loraR, int lisaGamma, int lisaPeriod, int evalEvery) {

        /**
         * The defaults of {@code ./jlisa demo}: minutes on 2 cores. Batches of 16 sequences are run as
         * 4 micro-batches of 4 (gradient accumulation), so activations stay small beside the
         * gradients and optimizer state — the memory that full fine-tuning, LoRA and LISA differ in.
         */
        public static Settings defaults() {
            return new Settings(0, 8, 192, 6, 2, 40_000, 600, 3e-3, 4000, 200, 300, 1e-3, 3e-3, 4, 4, 8, 2, 10, 50);
        }

        /** A seconds-long configuration for tests. */
        public static Settings quick() {
            return new Settings(0, 4, 32, 2, 1, 400, 12, 3e-3, 64, 16, 8, 1e-3, 3e-3, 4, 2, 4, 1, 2, 4);
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
            m.put("pretraining", pretrainSteps + " AdamW steps on " + pretrainDocs + " task lines, lr " + pretrainLr);
            m.put("fine-tuning", finetuneSteps + " steps, batch " + batch + " x " + gradAccum + " accumulated, " + trainTasks + " revsort tasks (" + evalTasks
                    + " held out), lr " + finetuneLr + " (LoRA " + loraLr + ")");
            m.put("lora", "r=" + loraR + ", alpha=" + 2 * loraR + ", every attention and MLP projection");
            m.put("lisa", "gamma=" + lisaGamma + ", K=" + lisaPeriod + ", drop policy, embedding and head always on");
            return m;
        }
    }

    /** The settings as report lines. */
    public static Map<String, Object> describe(Settings s) { return s.describe0(); }

    /** One fine-tuning run's measurements. */
    public record MethodRun(String name, long trainableParams, Map<MemoryKind, Long> peakBytes, long peakTotal,
                            double msPerStep, double evalLoss, double accuracy, List<double[]> lossCurve,
                            List<double[]> evalCurve) {}

    /** Runs the whole demo; writes fine-tuned checkpoints under {@code outDir} (null: none). */
    public static List<MethodRun> run(Settings s, Path outDir, boolean quiet, PrintStream log) throws IOException {
        Llama.Config cfg = s.modelConfig();
        List<Example> docs = new ArrayList<>();
        for (String d : SyntheticTasks.pretrainingDocuments(s.seed(), s.pretrainDocs())) docs.add(SyntheticTasks.documentExample(d));
        SyntheticTasks.Split split = SyntheticTasks.finetuneSplit(s.seed(), s.trainTasks(), s.evalTasks());
        List<Example> train = new ArrayList<>(), eval = new ArrayList<>();
        for (SyntheticTasks.Task t : split.train()) train.add(SyntheticTasks.toExample(t, true));
        for (SyntheticTasks.Task t : split.eval()) eval.add(SyntheticTasks.toExample(t, true));

        // 1. pretrain
        Llama base = new Llama(cfg, new Rng(s.seed()));
        log.printf("pretraining %s (%,d parameters) for %d steps%n", cfg.numLayers() + "-layer model", base.parameterCount(),
                s.pretrainSteps());
        AdamW preOpt = new AdamW(ParamGroup.withDecay(base.namedParameters(), 0.0), s.pretrainLr());
        DataLoader preData = new DataLoader(docs, DataLoader.Options.packed(64, s.batch(), s.seed()));
        train(base, preOpt, null, preData, null, s.gradAccum(), s.pretrainSteps(),
                Schedules.warmupCosine(s.pretrainLr(), Math.min(20, s.pretrainSteps()), s.pretrainSteps(), 0.1 * s.pretrainLr()),
                0, new ArrayList<>(), new ArrayList<>(), "pretrain", quiet);
        Map<String, Tensor> pretrained = new LinkedHashMap<>();
        try (var scope = MemoryLedger.scope(MemoryKind.OTHER)) {
            base.stateDict().forEach((k, v) -> pretrained.put(k, v.copy()));
        }
        for (jlisa.autograd.Parameter p : base.parameters()) {   // the pretraining run is over: free what it held
            preOpt.dropState(p);
            p.data().storage().release();
        }
        base = null;

        // 2. fine-tune copies with each method
        List<MethodRun> runs = new ArrayList<>();
        for (String method : List.of("full", "lora", "lisa")) {
            Llama model = new Llama(cfg, null);
            Map<String, Tensor> copy = new LinkedHashMap<>();
            try (var scope = MemoryLedger.scope(MemoryKind.PARAMETER)) {
                pretrained.forEach((k, v) -> copy.put(k, v.copy()));
            }
            model.loadStateDict(copy, true);
            model.train(true);
            MemoryLedger.collectGarbage();
            Map<MemoryKind, Long> before = new LinkedHashMap<>();
            for (MemoryKind k : MemoryKind.values()) before.put(k, MemoryLedger.live(k));
            MemoryLedger.resetPeaks();

            Map<String, jlisa.autograd.Parameter> trainable;
            AdamW opt;
            Lisa lisa = null;
            double lr = method.equals("lora") ? s.loraLr() : s.finetuneLr();
            if (method.equals("lora")) {
                model.requiresGrad(false);
                trainable = Lora.apply(model, new LoraConfig(s.loraR(), 2.0 * s.loraR(), 0.0,
                        List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), s.seed()));
                opt = new AdamW(ParamGroup.withDecay(trainable, 0.0), lr);
            } else {
                trainable = model.namedParameters();
                opt = new AdamW(ParamGroup.withDecay(trainable, 0.0), lr);
                if (method.equals("lisa")) {
                    Map<String, Map<String, jlisa.autograd.Parameter>> middle = new LinkedHashMap<>();
                    model.layerGroups().forEach((n, p) -> { if (n.startsWith("layer.")) middle.put(n, p); });
                    lisa = new Lisa(middle, opt, new Lisa.Config(s.lisaGamma(), s.lisaPeriod(), Lisa.StatePolicy.DROP,
                            new Lisa.Sampling.Uniform(), s.seed()));
                }
            }
            long trainableCount = 0;
            for (jlisa.autograd.Parameter p : trainable.values()) trainableCount += p.data().numel();
            if (lisa != null) trainableCount = lisa.parametersTrainingAtOnce();
            DataLoader data = new DataLoader(train, DataLoader.Options.padded(SyntheticTasks.MAX_EXAMPLE_TOKENS, s.batch(), 0, s.seed()));
            List<double[]> curve = new ArrayList<>(), evalCurve = new ArrayList<>();
            log.printf("fine-tuning with %s (%,d trainable parameters at a time)%n", method, trainableCount);
            long t0 = System.nanoTime();
            Llama m = model;
            train(model, opt, lisa, data, () -> evalLoss(m, eval, s.batch()), s.gradAccum(), s.finetuneSteps(), Schedules.constant(lr), s.evalEvery(),
                    curve, evalCurve, method, quiet);
            double msPerStep = (System.nanoTime() - t0) / 1e6 / Math.max(1, s.finetuneSteps());
            Map<MemoryKind, Long> peak = new LinkedHashMap<>();
            for (MemoryKind k : MemoryKind.values()) peak.put(k, MemoryLedger.peak(k));
            long peakTotal = MemoryLedger.peakTotal();
            double evalLoss = evalLoss(model, eval, s.batch());
            double accuracy = accuracy(model, split.eval());
            if (outDir != null) {
                if (method.equals("lora")) Lora.save(model, outDir.resolve("lora-adapter"), "demo-pretrained");
                else Models.save(model, outDir.resolve(method + "-model"));
            }
            if (lisa != null) lisa.close();
            runs.add(new MethodRun(method, trainableCount, peak, peakTotal, msPerStep, evalLoss, accuracy, curve, evalCurve));
            for (var p : model.namedParameters().values()) {   // this run is over: free what it held
                p.zeroGrad();
                opt.dropState(p);
                p.data().storage().release();
            }
        }
        return runs;
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
            new Trainer(new Trainer.Config(steps, gradAccum, 1.0, 0, evalEvery, 0), opt, schedule, lisa, step, eval, null, null,
                    null, listener).run(0);
        }
    }

    static Variable batchLoss(Llama model, Batch b) {
        return model.loss(b.inputs(), b.targets(), Batch.IGNORE);
    }

    /** Mean loss over the eval examples' counted targets, in batches of {@code rows} (so eval never outgrows training). */
    static double evalLoss(Llama model, List<Example> eval, int rows) {
        DataLoader loader = new DataLoader(eval, DataLoader.Options.padded(SyntheticTasks.MAX_EXAMPLE_TOKENS, rows, 0, 0)
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
            GenerationConfig greedy = GenerationConfig.greedy(12).withStopTokens((int) '\n', SyntheticTasks.EOS);
            for (SyntheticTasks.Task t : tasks) {
                int[] out;
                try (var scope = MemoryLedger.scope(MemoryKind.ACTIVATION); var allocations = MemoryLedger.track()) {
                    out = Generator.generate(model, SyntheticTasks.promptIds(t), greedy);
                    allocations.releaseAllExcept(List.of());
                }
                StringBuilder sb = new StringBuilder();
                byte[] bytes = new byte[out.length];
                int n = 0;
                for (int id : out) if (id < 256) bytes[n++] = (byte) id;
                sb.append(new String(bytes, 0, n, java.nio.charset.StandardCharsets.UTF_8));
                answers.add(sb.toString());
            }
        } finally {
            model.train(was);
        }
        return SyntheticTasks.accuracy(tasks, answers);
    }
}
