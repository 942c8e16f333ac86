package jlisa.optim.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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
 * is finite, clip, update, and — on their schedules — log, evaluate and checkpoint.
 */
public final class Trainer {

    /** Steps to run, micro-batches per step, clipping (0 = off), and how often to log, evaluate and save. */
    public record Config(long steps, int gradAccumulation, double clipNorm, int logEvery, int evalEvery, int checkpointEvery) {
        public Config {
            if (steps < 0 || gradAccumulation < 1 || clipNorm < 0 || logEvery < 0 || evalEvery < 0 || checkpointEvery < 0) {
                throw new IllegalArgumentException("trainer config: expected steps >= 0, gradAccumulation >= 1, and "
                        + "non-negative clipNorm and intervals, got " + this);
            }
        }
    }

    /** The loss of the next micro-batch (the caller pulls data, runs the model, and reports its tokens). */
    public interface LossStep {
        Variable loss(long step, int microBatch);

        /** Tokens the last micro-batch predicted (for tokens/s). */
        default long lastTokens() { return 0; }
    }

    /** What a log line reports. */
    public record Log(long step, double loss, double lr, double tokensPerSecond, List<String> activeLayers,
                      Map<MemoryKind, long[]> ledger, double gradNorm) {}

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

    private final Config config;
    private final Optimizer optimizer;
    private final Schedules.Schedule schedule;
    private final Lisa lisa;
    private final LossStep lossStep;
    private final java.util.function.DoubleSupplier eval;
    private final Checkpoints checkpoints;
    private final Map<String, Parameter> savedParams;
    private final Map<String, Stateful> states;
    private final Listener listener;
    private Path lastCheckpoint;

    /**
     * @param lisa        null unless the method is LISA
     * @param eval        null, or the held-out loss (run under no-grad by the caller)
     * @param checkpoints null, or where to save; {@code savedParams} are the parameters a checkpoint holds
     * @param states      data loader, RNGs and other positions a resumed run must continue from
     */
    public Trainer(Config config, Optimizer optimizer, Schedules.Schedule schedule, Lisa lisa, LossStep lossStep,
                   java.util.function.DoubleSupplier eval, Checkpoints checkpoints, Map<String, Parameter> savedParams,
                   Map<String, Stateful> states, Listener listener) {
        this.config = config;
        this.optimizer = optimizer;
        this.schedule = schedule;
        this.lisa = lisa;
        this.lossStep = lossStep;
        this.eval = eval;
        this.checkpoints = checkpoints;
        this.savedParams = savedParams == null ? Map.of() : savedParams;
        this.states = states == null ? Map.of() : new LinkedHashMap<>(states);
        this.listener = listener == null ? new Listener() {} : listener;
    }

    /** Restores the newest checkpoint if there is one; returns the step to start from (0 without one). */
    public long resume() {
        if (checkpoints == null) return 0;
        try {
            Optional<Path> latest = checkpoints.latest();
            if (latest.isEmpty()) return 0;
            Checkpoints.Saved saved = checkpoints.load(latest.get(), savedParams, optimizer, lisa);
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

    /** Runs steps {@code start} … {@code config.steps() - 1}. */
    public void run(long start) {
        long tokens = 0;
        long windowStart = System.nanoTime();
        for (long step = start; step < config.steps(); step++) {
            double lr = schedule.lr(step);
            optimizer.setLr(lr);
            if (lisa != null) lisa.beforeStep(step);
            double loss = 0;
            // Everything a step allocates as an activation or a scratch tensor (batches, logits, temporaries of
            // ops whose outputs no graph kept) is dead once the update is done: release it now rather than when the
            // collector finds it, so the ledger's peaks are the step's true footprint. Gradients, optimizer state
            // and parameters are other kinds and are untouched.
            MemoryLedger.Tracker stepAllocations = MemoryLedger.track();
            for (int micro = 0; micro < config.gradAccumulation(); micro++) {
                Variable l = lossStep.loss(step, micro);
                double value = l.data().item();
                if (!Double.isFinite(value)) {
                    optimizer.zeroGrad();
                    stepAllocations.close();
                    throw new DivergedException("loss is " + value + " at step " + (step + 1) + " (micro-batch " + micro
                            + "); stopping. " + (lastCheckpoint == null ? "No checkpoint was written."
                            : "The last good checkpoint is " + lastCheckpoint + "."));
                }
                (config.gradAccumulation() == 1 ? l : l.mul(1.0 / config.gradAccumulation())).backward();
                loss += value / config.gradAccumulation();
                tokens += lossStep.lastTokens();
            }
            listener.onStep(step + 1, loss);
            List<Parameter> trainable = new ArrayList<>();
            for (Parameter p : optimizer.namedParameters().values()) if (p.requiresGrad() && p.grad() != null) trainable.add(p);
            double gradNorm = config.clipNorm() > 0 ? GradClip.clipGradNorm(trainable, config.clipNorm()) : Double.NaN;
            optimizer.step();
            optimizer.zeroGrad();
            stepAllocations.close();
            stepAllocations.releaseKinds(MemoryKind.ACTIVATION, MemoryKind.OTHER);
            long done = step + 1;
            if (config.logEvery() > 0 && done % config.logEvery() == 0) {
                double seconds = (System.nanoTime() - windowStart) / 1e9;
                Map<MemoryKind, long[]> ledger = new EnumMap<>(MemoryKind.class);
                for (MemoryKind k : MemoryKind.values()) ledger.put(k, new long[] {MemoryLedger.live(k), MemoryLedger.peak(k)});
                listener.onLog(new Log(done, loss, lr, tokens / Math.max(seconds, 1e-9),
                        lisa == null ? List.of() : lisa.activeLayers(), ledger, gradNorm));
                tokens = 0;
                windowStart = System.nanoTime();
            }
            if (eval != null && config.evalEvery() > 0 && done % config.evalEvery() == 0) {
                listener.onEval(done, eval.getAsDouble());
            }
            if (checkpoints != null && config.checkpointEvery() > 0
                    && (done % config.checkpointEvery() == 0 || done == config.steps())) {
                save(done);
            }
        }
    }

    private void save(long nextStep) {
        Map<String, long[]> s = new LinkedHashMap<>();
        states.forEach((k, v) -> s.put(k, v.state()));
        if (lisa != null) s.put("lisa", lisa.state());
        try {
            lastCheckpoint = checkpoints.save(nextStep, savedParams, optimizer, lisa, s);
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint at step " + nextStep + " failed: " + e.getMessage(), e);
        }
        listener.onCheckpoint(nextStep, lastCheckpoint);
    }
}
