package jlisa.optim.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.DoubleSupplier;

import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.optim.GradClip;
import jlisa.optim.Lisa;
import jlisa.optim.Optimizer;
import jlisa.optim.Schedules;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;

/**
 * The training loop, the same for full fine-tuning, LoRA and LISA (they differ only in which
 * parameters require grad, and LISA's {@link Lisa#beforeStep}). Each step: set the learning rate,
 * let LISA draw, run the micro-batches' forward and backward (gradient accumulation), check the loss
 * is finite, clip, update, and — on their schedules — log, evaluate and checkpoint. Built with
 * {@link #builder}. Not thread-safe: one trainer runs on one thread.
 */
public final class Trainer {

    /** The loss of the next micro-batch (the caller pulls data, runs the model, and reports its tokens). */
    public interface LossStep {
        Variable loss(long step, int microBatch);

        /** Tokens the last micro-batch predicted (for tokens/s). */
        default long lastTokens() { return 0; }
    }

    /**
     * What a log line reports; {@code bytesSentPerStep} is what this process handed to the other processes of a
     * {@link DataParallel data-parallel} job per step since the last log (0 alone).
     */
    public record Log(long step, double loss, double lr, double tokensPerSecond, List<String> activeLayers,
                      Map<MemoryKind, long[]> ledger, double gradNorm, double bytesSentPerStep) {}

    /**
     * The other processes of a data-parallel job, each running this loop on its own share of every batch. The
     * trainer calls {@link #allReduce} once per step, after the micro-batches' backward passes and before clipping,
     * so clipping and the update see the job's gradients; each process's losses must already be weighted so that
     * their sum is the job's loss (jlisa.finetune weights by counted targets).
     */
    public interface DataParallel {
        /**
         * Replaces the gradients of {@code params} (the same list, in the same order, on every process) and the
         * step's {@code loss} by their sums over all processes; returns the summed loss.
         */
        double allReduce(List<Parameter> params, double loss);

        /** After each update: e.g. check now and then that every process still holds the same parameters. */
        void afterUpdate(long stepsDone);

        /** Whether this process writes the checkpoints (rank 0; every process reads them to resume). */
        boolean writesCheckpoints();

        /** Bytes this process has sent so far. */
        long bytesSent();
    }

    /** Receives progress; every method is optional. */
    public interface Listener {
        default void onStep(long step, double loss) {}

        default void onLog(Log log) {}

        default void onEval(long step, double evalLoss) {}

        default void onCheckpoint(long step, Path path) {}
    }

    /** A NaN or infinite loss: the run stops; the last checkpoint written before is intact. */
    public static final class DivergedException extends IllegalStateException {
        public DivergedException(String message) { super(message); }
    }

    private final long steps;
    private final int gradAccumulation;
    private final double clipNorm;
    private final int logEvery, evalEvery, checkpointEvery;
    private final Optimizer optimizer;
    private final Schedules.Schedule schedule;
    private final Lisa lisa;
    private final LossStep lossStep;
    private final DoubleSupplier eval;
    private final Checkpoints checkpoints;
    private final Map<String, Parameter> savedParams;
    private final Map<String, Stateful> states;
    private final Listener listener;
    private final DataParallel dataParallel;
    private Path lastCheckpoint;

    private Trainer(Builder b) {
        this.steps = b.steps;
        this.gradAccumulation = b.gradAccumulation;
        this.clipNorm = b.clipNorm;
        this.logEvery = b.logEvery;
        this.evalEvery = b.evalEvery;
        this.checkpointEvery = b.checkpointEvery;
        this.optimizer = b.optimizer;
        this.schedule = b.schedule != null ? b.schedule : Schedules.constant(b.optimizer.lr());
        this.lisa = b.lisa;
        this.lossStep = b.lossStep;
        this.eval = b.eval;
        this.checkpoints = b.checkpoints;
        this.savedParams = Map.copyOf(b.savedParams);
        this.states = new LinkedHashMap<>(b.states);
        this.listener = b.listener;
        this.dataParallel = b.dataParallel;
    }

    /**
     * A trainer of {@code optimizer}'s parameters on the losses {@code lossStep} returns; everything else has a
     * default: 1 step, no accumulation, no clipping, the optimizer's learning rate throughout, no LISA, no
     * logging, evaluation or checkpoints.
     */
    public static Builder builder(Optimizer optimizer, LossStep lossStep) { return new Builder(optimizer, lossStep); }

    /** Named settings of a {@link Trainer}; each setter checks its value. Not thread-safe (build on one thread). */
    public static final class Builder {
        private final Optimizer optimizer;
        private final LossStep lossStep;
        private long steps = 1;
        private int gradAccumulation = 1;
        private double clipNorm;
        private int logEvery, evalEvery, checkpointEvery;
        private Schedules.Schedule schedule;
        private Lisa lisa;
        private DoubleSupplier eval;
        private Checkpoints checkpoints;
        private Map<String, Parameter> savedParams = Map.of();
        private final Map<String, Stateful> states = new LinkedHashMap<>();
        private Listener listener = new Listener() {};
        private DataParallel dataParallel;

        private Builder(Optimizer optimizer, LossStep lossStep) {
            this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
            this.lossStep = Objects.requireNonNull(lossStep, "lossStep");
        }

        /** Optimizer steps to run in all (a resumed run continues up to this count); default 1. */
        public Builder steps(long steps) {
            if (steps < 0) throw new IllegalArgumentException("trainer: steps must be >= 0, got " + steps);
            this.steps = steps;
            return this;
        }

        /** Micro-batches whose gradients add up to one step; default 1. */
        public Builder gradientAccumulation(int microBatches) {
            if (microBatches < 1) throw new IllegalArgumentException("trainer: gradient accumulation must be >= 1, got " + microBatches);
            this.gradAccumulation = microBatches;
            return this;
        }

        /** Clip the global gradient norm to this before each update; 0 (the default) turns clipping off. */
        public Builder clipGradNorm(double maxNorm) {
            if (!(maxNorm >= 0) || Double.isInfinite(maxNorm)) {
                throw new IllegalArgumentException("trainer: the clip norm must be finite and >= 0 (0 = off), got " + maxNorm);
            }
            this.clipNorm = maxNorm;
            return this;
        }

        /** The learning rate per step; default: the optimizer's rate, constant. */
        public Builder schedule(Schedules.Schedule schedule) {
            this.schedule = Objects.requireNonNull(schedule, "schedule");
            return this;
        }

        /** LISA's layer sampler, asked to draw before each step. */
        public Builder lisa(Lisa lisa) {
            this.lisa = Objects.requireNonNull(lisa, "lisa");
            return this;
        }

        /** Report a {@link Listener#onLog log} every {@code steps} steps; 0 (the default) never. */
        public Builder logEvery(int steps) {
            this.logEvery = interval("logEvery", steps);
            return this;
        }

        /** The held-out loss (the caller runs it without grad), asked for every {@code everySteps} steps (0 = never). */
        public Builder eval(DoubleSupplier evalLoss, int everySteps) {
            this.eval = Objects.requireNonNull(evalLoss, "evalLoss");
            this.evalEvery = interval("evalEvery", everySteps);
            return this;
        }

        /**
         * Save {@code params}, the optimizer, LISA and the {@link #state states} into {@code checkpoints} every
         * {@code everySteps} steps and after the last one (0 = never, but {@link Trainer#resume} still reads them).
         */
        public Builder checkpoints(Checkpoints checkpoints, Map<String, Parameter> params, int everySteps) {
            this.checkpoints = Objects.requireNonNull(checkpoints, "checkpoints");
            this.savedParams = Objects.requireNonNull(params, "params");
            this.checkpointEvery = interval("checkpointEvery", everySteps);
            return this;
        }

        /** A position a resumed run must continue from (a data loader's, an RNG's), saved under {@code name}. */
        public Builder state(String name, Stateful state) {
            if (name.equals("lisa")) throw new IllegalArgumentException("trainer: the state name 'lisa' is LISA's own");
            if (states.putIfAbsent(name, Objects.requireNonNull(state, "state")) != null) {
                throw new IllegalArgumentException("trainer: a state named '" + name + "' is already registered");
            }
            return this;
        }

        /** Receives progress; default: none. */
        public Builder listener(Listener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** Train as one process of a data-parallel job (default: alone). */
        public Builder dataParallel(DataParallel dataParallel) {
            this.dataParallel = Objects.requireNonNull(dataParallel, "dataParallel");
            return this;
        }

        public Trainer build() { return new Trainer(this); }

        private static int interval(String what, int steps) {
            if (steps < 0) throw new IllegalArgumentException("trainer: " + what + " must be >= 0 (0 = never), got " + steps);
            return steps;
        }
    }

    /** Restores the newest checkpoint if there is one; returns the step to start from (0 without one). */
    public long resume() {
        if (checkpoints == null) return 0;
        try {
            Optional<Path> latest = checkpoints.latest();
            if (latest.isEmpty()) return 0;
            Checkpoints.Saved saved = lisa == null
                    ? checkpoints.load(latest.get(), savedParams, optimizer)
                    : checkpoints.load(latest.get(), savedParams, optimizer, lisa);
            for (Map.Entry<String, Stateful> e : states.entrySet()) {
                long[] s = saved.states().get(e.getKey());
                if (s == null) throw new IllegalArgumentException(latest.get() + ": checkpoint has no state for '" + e.getKey() + "'");
                e.getValue().restore(s);
            }
            if (lisa != null) {
                long[] s = saved.states().get("lisa");
                if (s == null) throw new IllegalArgumentException(latest.get() + ": checkpoint has no LISA sampler state");
                lisa.restore(s);
            }
            lastCheckpoint = latest.get();
            return saved.nextStep();
        } catch (IOException e) {
            throw new UncheckedIOException("resume: " + e.getMessage(), e);
        }
    }

    /** Runs steps {@code start} … {@code steps - 1}. */
    public void run(long start) {
        long tokens = 0;
        long windowStart = System.nanoTime(), windowBytes = bytesSent(), windowSteps = 0;
        for (long step = start; step < steps; step++) {
            double lr = schedule.lr(step);
            optimizer.setLr(lr);
            if (lisa != null) lisa.beforeStep(step);
            double loss = 0;
            // Everything a step allocates as an activation or a scratch tensor (batches, logits, temporaries of
            // ops whose outputs no graph kept) is dead once the update is done: release it now rather than when the
            // collector finds it, so the ledger's peaks are the step's true footprint. Gradients, optimizer state
            // and parameters are other kinds and are untouched.
            MemoryLedger.Tracker stepAllocations = MemoryLedger.track();
            // Closed whatever happens: a tracker left open would keep everything this thread allocates later.
            double gradNorm;
            try {
                for (int micro = 0; micro < gradAccumulation; micro++) {
                    Variable l = lossStep.loss(step, micro);
                    double value = l.data().item();
                    if (!Double.isFinite(value)) {
                        optimizer.zeroGrad();
                        throw new DivergedException("loss is " + value + " at step " + (step + 1) + " (micro-batch " + micro
                                + "); stopping. " + (lastCheckpoint == null ? "No checkpoint was written."
                                : "The last good checkpoint is " + lastCheckpoint + "."));
                    }
                    (gradAccumulation == 1 ? l : l.mul(1.0 / gradAccumulation)).backward();
                    loss += value / gradAccumulation;
                    tokens += lossStep.lastTokens();
                }
                List<Parameter> trainable = new ArrayList<>();
                for (Parameter p : optimizer.namedParameters().values()) if (p.requiresGrad() && p.grad() != null) trainable.add(p);
                if (dataParallel != null) loss = dataParallel.allReduce(trainable, loss);
                listener.onStep(step + 1, loss);
                gradNorm = clipNorm > 0 ? GradClip.clipGradNorm(trainable, clipNorm) : Double.NaN;
                optimizer.step();
                optimizer.zeroGrad();
            } finally {
                stepAllocations.close();
            }
            stepAllocations.releaseKinds(MemoryKind.ACTIVATION, MemoryKind.OTHER);
            long done = step + 1;
            windowSteps++;
            if (dataParallel != null) dataParallel.afterUpdate(done);
            if (logEvery > 0 && done % logEvery == 0) {
                double seconds = (System.nanoTime() - windowStart) / 1e9;
                Map<MemoryKind, long[]> ledger = new EnumMap<>(MemoryKind.class);
                for (MemoryKind k : MemoryKind.values()) ledger.put(k, new long[] {MemoryLedger.live(k), MemoryLedger.peak(k)});
                listener.onLog(new Log(done, loss, lr, tokens / Math.max(seconds, 1e-9),
                        lisa == null ? List.of() : lisa.activeLayers(), ledger, gradNorm,
                        (bytesSent() - windowBytes) / (double) windowSteps));
                tokens = 0;
                windowStart = System.nanoTime();
                windowBytes = bytesSent();
                windowSteps = 0;
            }
            if (eval != null && evalEvery > 0 && done % evalEvery == 0) {
                listener.onEval(done, eval.getAsDouble());
            }
            if (checkpoints != null && checkpointEvery > 0 && (done % checkpointEvery == 0 || done == steps)
                    && (dataParallel == null || dataParallel.writesCheckpoints())) {
                save(done);
            }
        }
    }

    private long bytesSent() { return dataParallel == null ? 0 : dataParallel.bytesSent(); }

    private void save(long nextStep) {
        Map<String, long[]> s = new LinkedHashMap<>();
        states.forEach((k, v) -> s.put(k, v.state()));
        if (lisa != null) s.put("lisa", lisa.state());
        try {
            lastCheckpoint = lisa == null ? checkpoints.save(nextStep, savedParams, optimizer, s)
                    : checkpoints.save(nextStep, savedParams, optimizer, lisa, s);
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint at step " + nextStep + " failed: " + e.getMessage(), e);
        }
        listener.onCheckpoint(nextStep, lastCheckpoint);
    }
}
