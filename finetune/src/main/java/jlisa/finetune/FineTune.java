package jlisa.finetune;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;

import jlisa.autograd.GradMode;
import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.chat.ChatData;
import jlisa.chat.ChatTemplate;
import jlisa.distributed.Collective;
import jlisa.optim.Schedules;
import jlisa.optim.data.Batch;
import jlisa.optim.data.DataLoader;
import jlisa.optim.data.Datasets;
import jlisa.optim.data.Example;
import jlisa.optim.train.Checkpoints;
import jlisa.optim.train.Stateful;
import jlisa.optim.train.Trainer;
import jlisa.tensor.Backend;
import jlisa.tensor.Backends;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Tensor;
import jlisa.transformer.lora.Lora;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Models;
import jlisa.transformer.tokenizer.BpeTokenizer;
import jlisa.transformer.tokenizer.Tokenizer;
import jlisa.transformer.tokenizer.Tokenizers;

/**
 * A fine-tune of a causal language model, set up by name and run in one call — the library behind
 * {@code jlisa finetune}:
 * <pre>{@code
 *   FineTuneResult r = FineTune.builder()
 *           .model(Path.of("my-model"))                 // a Hugging Face directory
 *           .jsonl(Path.of("train.jsonl"))              // {"prompt": ..., "response": ...} per line
 *           .method(Method.lisa().withGamma(2).withPeriod(10))
 *           .learningRate(1e-4).steps(200).evalFraction(0.1)
 *           .saveTo(Path.of("out"))
 *           .build()
 *           .run();
 * }</pre>
 * Every setting has a default (see the builder's methods). {@link #run()} loads the model, trains, evaluates,
 * saves, and gives back every byte the run held; {@link #run(CausalLM)} trains a model the caller loaded and
 * still owns. Each run charges what it allocates to a ledger account of its own ({@link MemoryLedger.Account}),
 * so its {@link FineTuneResult#peakBytes()} is its own even while other runs share the JVM.
 *
 * <p>Thread-safe: a {@code FineTune} is immutable; it may be run again, and from several threads at once (on
 * distinct models). A run stays on the thread that called it, with its backend active on that thread only.
 */
public final class FineTune {
    /** {@link Builder#batchSize} value for one batch that holds the whole training split. */
    public static final int WHOLE_DATASET = DataLoader.ALL;

    /** The optimizer over the trained parameters. */
    public enum OptimizerChoice { ADAMW, SGD }

    /** How the learning rate moves after the warm-up: constant, cosine down to a tenth, or linear down to zero. */
    public enum LrSchedule { CONSTANT, COSINE, LINEAR }

    private final Optional<Path> modelDir;
    private final Optional<Path> tokenizerFile;
    private final Data data;
    private final Method method;
    private final OptimizerChoice optimizer;
    private final double learningRate, weightDecay, clipGradNorm, evalFraction;
    private final LrSchedule schedule;
    private final long warmupSteps, steps, seed;
    private final int batchSize, gradientAccumulation, logEvery, evalEvery, checkpointEvery;
    private final OptionalInt blockSize;
    private final boolean padded, shuffle, resume;
    private final Optional<Path> checkpointDir, saveTo, saveMergedTo;
    private final Optional<Backend> backend;
    private final List<FineTuneListener> listeners;
    private final Collective collective;
    private final int checksumEvery;

    private FineTune(Builder b) {
        modelDir = b.modelDir;
        tokenizerFile = b.tokenizerFile;
        data = b.data;
        method = b.method;
        optimizer = b.optimizer;
        learningRate = b.learningRate;
        weightDecay = b.weightDecay;
        clipGradNorm = b.clipGradNorm;
        evalFraction = b.evalFraction;
        schedule = b.schedule;
        warmupSteps = b.warmupSteps;
        steps = b.steps;
        seed = b.seed;
        batchSize = b.batchSize;
        gradientAccumulation = b.gradientAccumulation;
        logEvery = b.logEvery;
        evalEvery = b.evalEvery;
        checkpointEvery = b.checkpointEvery;
        blockSize = b.blockSize;
        padded = b.padded;
        shuffle = b.shuffle;
        resume = b.resume;
        checkpointDir = b.checkpointDir;
        saveTo = b.saveTo;
        saveMergedTo = b.saveMergedTo;
        backend = b.backend;
        listeners = List.copyOf(b.listeners);
        collective = b.collective;
        checksumEvery = b.checksumEvery;
    }

    /** A fine-tune with every setting at its default; give at least the data and, for {@link #run()}, the model. */
    public static Builder builder() { return new Builder(); }

    /** The method this fine-tune trains with. */
    public Method method() { return method; }

    /** The steps it runs in all. */
    public long steps() { return steps; }

    /**
     * Loads the model directory, fine-tunes it, evaluates and saves as set up, and closes the model, so the run's
     * memory is given back whatever happens.
     */
    public FineTuneResult run() throws IOException {
        Path dir = modelDir.orElseThrow(() -> new IllegalStateException(
                "fine-tune: no model directory; set builder().model(dir), or call run(model) with a loaded model"));
        MemoryLedger.Account account = newAccount();
        try (var charge = account.charge(); CausalLM lm = Models.load(dir)) {   // the loaded weights count in the run
            return onBackend(lm, account);
        }
    }

    /**
     * Fine-tunes {@code model}, which the caller loaded and keeps: it is left trained (LoRA: with its adapters),
     * on the heap, without gradients or optimizer state, and not closed.
     */
    public FineTuneResult run(CausalLM model) throws IOException {
        Objects.requireNonNull(model, "model");
        MemoryLedger.Account account = newAccount();
        try (var charge = account.charge()) {
            return onBackend(model, account);
        }
    }

    /** The run's own share of the ledger; see {@link FineTuneResult#peakBytes()}. */
    private MemoryLedger.Account newAccount() {
        return new MemoryLedger.Account("fine-tune (" + method.name() + ")");
    }

    private FineTuneResult onBackend(CausalLM model, MemoryLedger.Account account) throws IOException {
        if (backend.isEmpty()) return train(model, account);
        try (var active = Backends.use(backend.get())) {
            return train(model, account);
        }
    }

    private FineTuneResult train(CausalLM lm, MemoryLedger.Account account) throws IOException {
        lm.train(true);
        List<Example> examples = examples(lm);
        Datasets.Split split = Datasets.split(examples, evalFraction, seed);
        int longest = split.train().stream().mapToInt(Example::length).max().orElseThrow(
                () -> new IllegalArgumentException("fine-tune: the data has no training examples"));
        int block = blockSize.orElse(Math.min(longest - 1, lm.maxPositions()));
        if (block < 1 || block > lm.maxPositions()) {
            throw new IllegalArgumentException("fine-tune: block size " + block + " must be in [1, " + lm.maxPositions()
                    + "] (the model's positions)" + (blockSize.isEmpty() ? "; the longest example has " + longest + " tokens" : ""));
        }
        // Data parallel: every rank draws the job's batch (its batch size × ranks rows, in the same order from the same
        // seed) and trains on its own share of the rows, as torch's DistributedSampler shares out one permutation.
        int jobBatch = batchSize == WHOLE_DATASET ? WHOLE_DATASET : Math.multiplyExact(batchSize, collective.size());
        DataLoader.Options options = (padded ? DataLoader.Options.padded(block, jobBatch, 0, seed)
                : DataLoader.Options.packed(block, jobBatch, seed)).withShuffle(shuffle);
        DataLoader loader = new DataLoader(split.train(), options);

        try (TrainingSetup setup = TrainingSetup.of(lm, method, optimizer, learningRate, weightDecay, seed)) {
            // On a GPU the model lives in device memory for the whole run: parameters, gradients, optimizer state
            // and activations stay there, and an op with no device kernel stops the run naming the op.
            if (backend.isPresent()) moveModel(lm, backend.get());
            FineTuneResult result = loop(lm, loader, split.eval(), block, setup, account);
            if (backend.isPresent()) moveModel(lm, null);   // back to the heap, to save and to hand back
            Optional<Path> saved = save(lm);
            return new FineTuneResult(result.method(), result.startStep(), result.steps(), result.losses(), result.evalLoss(),
                    result.msPerStep(), result.trainableParameters(), result.peakBytes(), saved);
        }
    }

    /** Moves the model's parameters, counting the copies in the model's account as well as the run's. */
    private static void moveModel(CausalLM lm, Backend target) {
        try (var charge = lm.memory().charge()) {
            lm.moveTo(target);
        }
    }

    private FineTuneResult loop(CausalLM lm, DataLoader loader, List<Example> evalSplit, int block, TrainingSetup setup,
                                MemoryLedger.Account account) {
        long[] lastTokens = {0};
        Trainer.LossStep lossStep = new Trainer.LossStep() {
            @Override public Variable loss(long step, int micro) {
                Batch b = loader.next();
                lastTokens[0] = b.targetCount();
                try (var scope = MemoryLedger.scope(MemoryKind.ACTIVATION)) {
                    return collective.size() == 1 ? batchLoss(lm, b) : shareOfLoss(lm, b, collective);
                }
            }

            @Override public long lastTokens() { return lastTokens[0]; }
        };
        Optional<DoubleSupplier> eval = evalSplit.isEmpty() ? Optional.empty()
                : Optional.of(() -> evalLoss(lm, evalSplit, block, collective));
        List<Double> losses = new ArrayList<>();
        long[] start = {0};
        long[] t0 = {System.nanoTime()};   // reset when the first step starts
        Trainer.Builder tb = Trainer.builder(setup.optimizer(), lossStep).steps(steps).gradientAccumulation(gradientAccumulation)
                .clipGradNorm(clipGradNorm).schedule(schedule()).logEvery(logEvery)
                // first: the job's size is part of what a checkpoint continues (another count of ranks would change
                // the batch), and a resume with another says so before the data loader's state disagrees
                .state("ranks", new Stateful() {
                    @Override public long[] state() { return new long[] {collective.size()}; }

                    @Override public void restore(long[] s) {
                        if (s.length != 1 || s[0] != collective.size()) {
                            throw new IllegalArgumentException("fine-tune: the checkpoint was written by a job of "
                                    + (s.length == 1 ? String.valueOf(s[0]) : Arrays.toString(s))
                                    + " process(es); this one has " + collective.size() + ", which would change the batch; resume "
                                    + "with mpirun -np " + (s.length == 1 ? s[0] : "N") + " (or without mpirun for 1)");
                        }
                    }
                })
                .state("data", new Stateful() {
                    @Override public long[] state() { return loader.state(); }

                    @Override public void restore(long[] s) { loader.restore(s); }
                })
                .listener(new Trainer.Listener() {
                    @Override public void onStep(long step, double loss) {
                        losses.add(loss);
                        long done = step - start[0];
                        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0[0]);
                        Duration eta = elapsed.multipliedBy(steps - step).dividedBy(Math.max(1, done));
                        Progress p = new Progress(step, steps, loss, setup.optimizer().lr(), elapsed, eta);
                        for (FineTuneListener l : listeners) l.onProgress(p);
                    }

                    @Override public void onLog(Trainer.Log log) { for (FineTuneListener l : listeners) l.onLog(log); }

                    @Override public void onEval(long step, double loss) { for (FineTuneListener l : listeners) l.onEval(step, loss); }

                    @Override public void onCheckpoint(long step, Path path) {
                        for (FineTuneListener l : listeners) l.onCheckpoint(step, path);
                    }
                });
        setup.lisa().ifPresent(tb::lisa);
        if (collective.size() > 1) {
            checkRanksAgree(lm, loader, block);
            tb.dataParallel(new GradientAllReduce(collective, setup.trainable(), checksumEvery));
        }
        eval.ifPresent(e -> tb.eval(e, evalEvery));
        checkpointDir.ifPresent(d -> tb.checkpoints(new Checkpoints(d, SafeTensorsStore.INSTANCE), setup.trainable(),
                checkpointEvery));
        Trainer trainer = tb.build();
        if (resume) {
            start[0] = trainer.resume();
            collective.checkSame("the step resumed from (every rank must read the same checkpoint directory)", start[0]);
            if (start[0] > 0) for (FineTuneListener l : listeners) l.onResume(start[0], checkpointDir.orElseThrow());
        }
        if (collective.size() > 1) {
            // identical already when the checks above passed; the broadcast makes it so by construction
            for (Parameter p : setup.trainable().values()) {
                Tensor t = p.data();
                if (t.isDense() && t.dtype() == jlisa.tensor.DType.F32) collective.broadcast(t.floatArray(), t.offset(), (int) t.numel(), 0);
            }
        }
        for (FineTuneListener l : listeners) l.onStart(start[0], steps);
        long runStart = System.nanoTime();
        t0[0] = runStart;
        trainer.run(start[0]);
        double msPerStep = (System.nanoTime() - runStart) / 1e6 / Math.max(1, steps - start[0]);
        OptionalDouble finalEval = eval.map(e -> OptionalDouble.of(e.getAsDouble())).orElse(OptionalDouble.empty());
        return new FineTuneResult(method.name(), start[0], steps, losses, finalEval, msPerStep, setup.trainableAtOnce(),
                account.peakTotal(), Optional.empty());
    }

    private Optional<Path> save(CausalLM lm) throws IOException {
        if (collective.rank() != 0) return saveTo.or(() -> saveMergedTo);   // rank 0 alone writes the job's result
        if (saveTo.isPresent()) {
            Path dir = saveTo.get();
            if (method instanceof Method.Lora) Lora.save(lm, dir, modelDir.map(Path::toString).orElse("jlisa"));
            else Models.save(lm, dir);
            copyTokenizerAndGenerationFiles(dir);
            for (FineTuneListener l : listeners) l.onSaved(dir);
        }
        if (saveMergedTo.isPresent()) {
            Lora.merge(lm);
            try {
                Models.save(lm, saveMergedTo.get());
                copyTokenizerAndGenerationFiles(saveMergedTo.get());
            } finally {
                Lora.unmerge(lm);
            }
            for (FineTuneListener l : listeners) l.onSaved(saveMergedTo.get());
        }
        return saveTo.or(() -> saveMergedTo);
    }

    /**
     * Makes a saved directory self-describing, as HF's save_pretrained with a tokenizer does: the source directory's
     * tokenizer and generation files go beside the weights (a preset has none to copy).
     */
    private void copyTokenizerAndGenerationFiles(Path dir) throws IOException {
        if (modelDir.isPresent()) Models.copyAuxiliaryFiles(modelDir.get(), dir);
        if (tokenizerFile.isPresent()) {
            jlisa.transformer.io.AtomicFiles.write(dir.resolve("tokenizer.json"), java.nio.file.Files.readAllBytes(tokenizerFile.get()));
        }
    }

    /** Mean cross-entropy over the batch's counted targets. */
    static Variable batchLoss(CausalLM lm, Batch b) {
        return lm.loss(b.inputs(), b.targets(), Batch.IGNORE);
    }

    /**
     * One rank's share of the job's mean loss over {@code job}: the mean over its rows weighted by its share of the
     * counted targets, so that the ranks' losses (and gradients) sum to those of the whole batch in one process.
     */
    static Variable shareOfLoss(CausalLM lm, Batch job, Collective collective) {
        Batch mine = rankShare(job, collective);
        int counted = mine.batchSize() == 0 ? 0 : mine.targetCount(), total = job.targetCount();
        if (counted == 0) {
            // nothing of ours counts (fewer rows than ranks at an epoch's end, or all masked): still run a finite loss
            // with weight 0, so this rank sends zero gradients of the same shapes as the others
            int[] in = job.rows(0, 1).inputs().intArray().clone(), targets = new int[in.length];
            Arrays.fill(targets, Batch.IGNORE);
            targets[0] = in[0];
            mine = new Batch(Tensor.of(in, 1, in.length), Tensor.of(targets, 1, in.length));
        }
        return batchLoss(lm, mine).mul(total == 0 ? 0 : (double) counted / total);
    }

    /** This rank's rows of a job's batch: the rows shared out as evenly as they go, in rank order. */
    private static Batch rankShare(Batch job, Collective collective) {
        int rows = job.batchSize(), r = collective.rank(), n = collective.size();
        return job.rows(rows * r / n, rows * (r + 1) / n);
    }

    /**
     * The held-out loss: every eval example in one packed batch, without grad and in eval mode; data parallel, each
     * rank scores its share of the rows and the sums of losses and counted targets are added up.
     */
    private static double evalLoss(CausalLM lm, List<Example> eval, int block, Collective collective) {
        DataLoader loader = new DataLoader(eval, DataLoader.Options.packed(block, DataLoader.ALL, 0).withShuffle(false));
        boolean wasTraining = lm.isTraining();
        lm.eval();
        try (var noGrad = GradMode.disabled()) {
            Batch all = loader.next();
            if (collective.size() == 1) return batchLoss(lm, all).data().item();
            Batch mine = rankShare(all, collective);
            int counted = mine.batchSize() == 0 ? 0 : mine.targetCount();
            double sum = counted == 0 ? 0 : batchLoss(lm, mine).data().item() * counted;
            float[] sums = {(float) sum, (float) (sum - (float) sum), counted};
            collective.allReduceSum(sums, 0, 3);
            return ((double) sums[0] + sums[1]) / sums[2];
        } finally {
            lm.train(wasTraining);
        }
    }

    /**
     * A bad launch fails here, on every rank at once, before the first step: ranks given other settings, other data
     * or another model than rank 0's.
     */
    private void checkRanksAgree(CausalLM lm, DataLoader loader, int block) {
        String settings = String.join("|", method.toString(), optimizer.name(), Double.toString(learningRate),
                Double.toString(weightDecay), Double.toString(clipGradNorm), Double.toString(evalFraction), schedule.name(),
                Long.toString(warmupSteps), Long.toString(steps), Long.toString(seed), Integer.toString(batchSize),
                Integer.toString(gradientAccumulation), Integer.toString(block), Boolean.toString(padded),
                Boolean.toString(shuffle), Boolean.toString(resume), Integer.toString(checkpointEvery),
                Integer.toString(checksumEvery), Integer.toString(loader.rowsPerEpoch()));
        collective.checkSame("the fine-tune's settings (method, optimizer, schedule, steps, seed, batch and block size)",
                fnv(settings.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        collective.checkSame("the training data (rows per epoch " + loader.rowsPerEpoch() + ")", loader.fingerprint());
        collective.checkSame("the model's parameters (" + lm.namedParameters().size() + " tensors)",
                GradientAllReduce.checksum(lm.namedParameters().values()));
    }

    private static long fnv(byte[] bytes) {
        long h = 0xcbf29ce484222325L;
        for (byte b : bytes) h = (h ^ (b & 0xff)) * 0x100000001b3L;
        return h;
    }

    // Package-private so tests can check the loss masks the data gives.
    List<Example> examples(CausalLM lm) throws IOException {
        List<Example> ex = switch (data) {
            case Data.TokenFile t -> Datasets.readTokens(t.file());
            case Data.Examples e -> e.examples();
            case Data.TextFile t -> {
                Tokenizer tok = tokenizer(lm);
                yield Datasets.readText(t.file(), tok::encode, tok.eosId());
            }
            case Data.JsonlFile j -> {
                Tokenizer tok = tokenizer(lm);
                yield Datasets.readJsonl(j.file(), tok::encode, tok.eosId());
            }
            case Data.ChatJsonlFile c -> {
                Tokenizer tok = tokenizer(lm);
                List<Example> chats = new ArrayList<>();
                for (ChatData.Tokens t : ChatData.read(c.file(), chatTemplate(), text -> tok.encode(text, false))) {
                    chats.add(new Example(t.ids(), t.assistantMask()));
                }
                yield chats;
            }
        };
        for (Example e : ex) {
            for (int id : e.ids()) {
                if (id < 0 || id >= lm.vocabSize()) {
                    throw new IllegalArgumentException("fine-tune: token id " + id + " is outside the model's vocabulary [0, "
                            + lm.vocabSize() + ")");
                }
            }
        }
        return ex;
    }

    /** The chat template of the model directory, or else of the directory that holds the tokenizer file. */
    private ChatTemplate chatTemplate() {
        Optional<Path> dir = modelDir.or(() -> tokenizerFile.map(f -> f.toAbsolutePath().getParent()));
        return ChatTemplate.forModel(dir.orElseThrow(() -> new IllegalStateException(
                "fine-tune: chat data needs a chat template; give model(dir) whose tokenizer_config.json has a chat_template")));
    }

    private Tokenizer tokenizer(CausalLM lm) throws IOException {
        if (tokenizerFile.isPresent()) return BpeTokenizer.load(tokenizerFile.get());
        if (modelDir.isPresent()) return Tokenizers.forModel(modelDir.get(), lm.vocabSize());
        return Tokenizers.bytesFor(lm.vocabSize(), "fine-tune: no model directory or tokenizer file was given");
    }

    private Schedules.Schedule schedule() {
        return switch (schedule) {
            case CONSTANT -> warmupSteps == 0 ? Schedules.constant(learningRate)
                    : Schedules.warmupLinear(learningRate, warmupSteps, Long.MAX_VALUE / 2, learningRate);
            case COSINE -> Schedules.warmupCosine(learningRate, warmupSteps, steps, 0.1 * learningRate);
            case LINEAR -> Schedules.warmupLinear(learningRate, warmupSteps, steps, 0.0);
        };
    }

    /**
     * The settings of a {@link FineTune}, each with a default; setters check their values at once. Not thread-safe
     * (build on one thread; the built {@code FineTune} is immutable).
     */
    public static final class Builder {
        private Optional<Path> modelDir = Optional.empty(), tokenizerFile = Optional.empty();
        private Data data;
        private Method method = Method.full();
        private OptimizerChoice optimizer = OptimizerChoice.ADAMW;
        private double learningRate = 1e-4, weightDecay, clipGradNorm, evalFraction;
        private LrSchedule schedule = LrSchedule.CONSTANT;
        private long warmupSteps, steps = 100, seed;
        private int batchSize = 8, gradientAccumulation = 1, logEvery = 10, evalEvery, checkpointEvery;
        private OptionalInt blockSize = OptionalInt.empty();
        private boolean padded, shuffle = true, resume;
        private Optional<Path> checkpointDir = Optional.empty(), saveTo = Optional.empty(), saveMergedTo = Optional.empty();
        private Optional<Backend> backend = Optional.empty();
        private final List<FineTuneListener> listeners = new ArrayList<>();
        private Collective collective = Collective.single();
        private int checksumEvery = 100;

        private Builder() {}

        /** The Hugging Face model directory (config.json, model.safetensors, tokenizer.json) that {@link #run()} loads. */
        public Builder model(Path dir) { modelDir = Optional.of(dir); return this; }

        /** A tokenizer.json for text and JSONL data (default: the model directory's, else UTF-8 bytes). */
        public Builder tokenizer(Path tokenizerJson) { tokenizerFile = Optional.of(tokenizerJson); return this; }

        /** Train on {@code data}. */
        public Builder data(Data data) { this.data = Objects.requireNonNull(data, "data"); return this; }

        /** Token ids, one sequence per line. */
        public Builder tokens(Path file) { return data(new Data.TokenFile(file)); }

        /** Plain text, one document per paragraph. */
        public Builder text(Path file) { return data(new Data.TextFile(file)); }

        /** JSONL prompt/response pairs; the loss counts response tokens only. */
        public Builder jsonl(Path file) { return data(new Data.JsonlFile(file)); }

        /** Chat JSONL ({@code {"messages": [...]}} per line) rendered with the model's chat template ({@link Data.ChatJsonlFile}). */
        public Builder chat(Path file) { return data(new Data.ChatJsonlFile(file)); }

        /** Examples already tokenized. */
        public Builder examples(List<Example> examples) { return data(new Data.Examples(examples)); }

        /** Full (the default), LoRA or LISA. */
        public Builder method(Method method) { this.method = Objects.requireNonNull(method, "method"); return this; }

        /** AdamW (the default; β 0.9/0.999, ε 1e-8) or plain SGD. */
        public Builder optimizer(OptimizerChoice optimizer) { this.optimizer = Objects.requireNonNull(optimizer, "optimizer"); return this; }

        /** The peak learning rate (default 1e-4). */
        public Builder learningRate(double lr) {
            if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("fine-tune: learning rate must be finite and >= 0, got " + lr);
            learningRate = lr;
            return this;
        }

        /** Decoupled weight decay on matrices (not on biases and norms); default 0. */
        public Builder weightDecay(double wd) {
            if (!(wd >= 0)) throw new IllegalArgumentException("fine-tune: weight decay must be >= 0, got " + wd);
            weightDecay = wd;
            return this;
        }

        /** The learning-rate schedule after {@code warmupSteps} of linear warm-up (default constant, no warm-up). */
        public Builder schedule(LrSchedule schedule, long warmupSteps) {
            if (warmupSteps < 0) throw new IllegalArgumentException("fine-tune: warm-up steps must be >= 0, got " + warmupSteps);
            this.schedule = Objects.requireNonNull(schedule, "schedule");
            this.warmupSteps = warmupSteps;
            return this;
        }

        /** Optimizer steps in all (default 100); a resumed run continues up to this count. */
        public Builder steps(long steps) {
            if (steps < 0) throw new IllegalArgumentException("fine-tune: steps must be >= 0, got " + steps);
            this.steps = steps;
            return this;
        }

        /** Rows per micro-batch (default 8), or {@link #WHOLE_DATASET}. */
        public Builder batchSize(int rows) {
            if (rows < 1 && rows != WHOLE_DATASET) throw new IllegalArgumentException("fine-tune: batch size must be >= 1, got " + rows);
            batchSize = rows;
            return this;
        }

        /** Tokens per row (default: the longest example's length − 1, capped by the model's positions). */
        public Builder blockSize(int tokens) {
            if (tokens < 1) throw new IllegalArgumentException("fine-tune: block size must be >= 1, got " + tokens);
            blockSize = OptionalInt.of(tokens);
            return this;
        }

        /** One example per row, padded, instead of examples packed end to end (the default). */
        public Builder padded(boolean on) { padded = on; return this; }

        /** Shuffle the examples every epoch (default on). */
        public Builder shuffle(boolean on) { shuffle = on; return this; }

        /** Micro-batches whose gradients make one step (default 1). */
        public Builder gradientAccumulation(int microBatches) {
            if (microBatches < 1) throw new IllegalArgumentException("fine-tune: gradient accumulation must be >= 1, got " + microBatches);
            gradientAccumulation = microBatches;
            return this;
        }

        /** Clip the global gradient norm to this (default 0: off). */
        public Builder clipGradNorm(double maxNorm) {
            if (!(maxNorm >= 0) || Double.isInfinite(maxNorm)) throw new IllegalArgumentException("fine-tune: clip norm must be finite and >= 0, got " + maxNorm);
            clipGradNorm = maxNorm;
            return this;
        }

        /** Seeds the split, the shuffling, LoRA's init and LISA's draws (default 0). */
        public Builder seed(long seed) { this.seed = seed; return this; }

        /** Report a {@link FineTuneListener#onLog log} every this many steps (default 10; 0 = never). */
        public Builder logEvery(int steps) {
            if (steps < 0) throw new IllegalArgumentException("fine-tune: logEvery must be >= 0, got " + steps);
            logEvery = steps;
            return this;
        }

        /** Hold out this share of the examples for evaluation (default 0: no eval split). */
        public Builder evalFraction(double fraction) {
            if (!(fraction >= 0 && fraction < 1)) throw new IllegalArgumentException("fine-tune: eval fraction must be in [0, 1), got " + fraction);
            evalFraction = fraction;
            return this;
        }

        /** Evaluate every this many steps as well as after the last (default 0: after the last only). */
        public Builder evalEvery(int steps) {
            if (steps < 0) throw new IllegalArgumentException("fine-tune: evalEvery must be >= 0, got " + steps);
            evalEvery = steps;
            return this;
        }

        /** Write checkpoints into {@code dir} every {@code everySteps} steps and after the last (0: only resume reads it). */
        public Builder checkpoints(Path dir, int everySteps) {
            if (everySteps < 0) throw new IllegalArgumentException("fine-tune: checkpoint interval must be >= 0, got " + everySteps);
            checkpointDir = Optional.of(dir);
            checkpointEvery = everySteps;
            return this;
        }

        /** Continue from the newest checkpoint in the {@link #checkpoints} directory, if there is one. */
        public Builder resume(boolean on) { resume = on; return this; }

        /**
         * Write the fine-tuned model here (LoRA: the PEFT adapter, adapter_config.json + adapter_model.safetensors),
         * with the source directory's tokenizer and generation files beside it.
         */
        public Builder saveTo(Path dir) { saveTo = Optional.of(dir); return this; }

        /** LoRA only: also write the base model with the adapters merged in, as a plain model directory. */
        public Builder saveMergedTo(Path dir) { saveMergedTo = Optional.of(dir); return this; }

        /** Run on this device backend (e.g. the gpu module's CUDA backend); default the CPU. */
        public Builder backend(Backend backend) { this.backend = Optional.of(backend); return this; }

        /**
         * Train as one rank of a data-parallel job (default: {@link Collective#single() alone}); e.g.
         * {@code Collective.fromEnvironment()} in a process that mpirun started. Every rank runs the same fine-tune:
         * {@link #batchSize} is per rank (the job's batch is that × ranks, shared out by rows; {@link #WHOLE_DATASET} shares out the whole split), gradients are summed
         * over the ranks each step, only rank 0 writes checkpoints and saves, and every rank's listeners hear the
         * job's losses. Settings, data and model are checked to agree across ranks before the first step.
         */
        public Builder collective(Collective collective) { this.collective = Objects.requireNonNull(collective, "collective"); return this; }

        /** Data parallel: compare the trained parameters' checksum across ranks every this many steps (default 100; 0 = never). */
        public Builder checksumEvery(int steps) {
            if (steps < 0) throw new IllegalArgumentException("fine-tune: checksumEvery must be >= 0, got " + steps);
            checksumEvery = steps;
            return this;
        }

        /** Hear progress, logs, evals, checkpoints and saves; several listeners are called in order. */
        public Builder listener(FineTuneListener listener) { listeners.add(Objects.requireNonNull(listener, "listener")); return this; }

        /** Shorthand for a listener that only hears {@link FineTuneListener#onProgress}. */
        public Builder onProgress(Consumer<Progress> onProgress) {
            Objects.requireNonNull(onProgress, "onProgress");
            return listener(new FineTuneListener() {
                @Override public void onProgress(Progress p) { onProgress.accept(p); }
            });
        }

        /** Checks that the settings agree and builds the fine-tune. */
        public FineTune build() {
            if (data == null) throw new IllegalStateException("fine-tune: no data; set tokens(file), text(file), jsonl(file), chat(file) or examples(list)");
            if (resume && checkpointDir.isEmpty()) throw new IllegalStateException("fine-tune: resume needs checkpoints(dir, every)");
            if (saveMergedTo.isPresent() && !(method instanceof Method.Lora)) {
                throw new IllegalStateException("fine-tune: saveMergedTo is for LoRA (a " + method.name() + " fine-tune's saveTo is already a full model)");
            }
            return new FineTune(this);
        }
    }
}
