package jlisa.optim;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import jlisa.autograd.Parameter;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Rng;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Tensor;

/**
 * Layerwise Importance Sampling (LISA, Pan et al. 2024, Algorithm 1) on top of any optimizer —
 * with {@link AdamW} it is LISA-AdamW. The always-on groups (by default the embedding and the head)
 * train every step; of the N middle layers, γ are active at a time: every K optimizer steps (the
 * first choice at step 0) γ distinct layers are drawn; layers that leave are frozen, layers that join are
 * unfrozen, and layers drawn again simply keep training.
 *
 * <p>Frozen layers have {@code requiresGrad} off, so they get no gradient and no weight-gradient
 * matmul (backward still flows through them). What happens to a frozen layer's optimizer state is a
 * named {@link StatePolicy}.
 *
 * <p>Not thread-safe: a sampler, its optimizer and the model's parameters belong to one training loop on one
 * thread. {@link Config} and {@link Sampling} values are immutable.
 */
public final class Lisa implements AutoCloseable {

    /** What happens to a layer's optimizer state when it is frozen. */
    public enum StatePolicy {
        /** Freed; the moments start from zero when the layer is drawn again (the memory the paper reports). */
        DROP,
        /**
         * Moved to off-heap host memory (PARKED_STATE in the ledger) and moved back when drawn again — back to
         * device memory when the optimizer keeps its state there.
         */
        PARK,
        /** Kept in place (as the official LMFlow code does; memory creeps toward full fine-tuning). */
        KEEP
    }

    /** How layers are drawn: uniform, explicit per-layer probabilities, or proportional to weight norms. */
    public sealed interface Sampling {
        record Uniform() implements Sampling {}

        /** Probabilities per middle layer (normalised; zero means never drawn). */
        record Weights(double[] probabilities) implements Sampling {}

        /** p_ℓ ∝ ‖W_ℓ‖ (Frobenius norm of all the layer's parameters), recomputed at each draw. */
        record WeightNorm() implements Sampling {}
    }

    /**
     * γ (layers active at a time), K (steps between draws), the state policy, the sampling, the seed, and
     * W, the learning-rate warm-up of a layer that joins: drawn at step s after not being active, its
     * parameters train at {@code min(1, (t − s + 1) / (W + 1))} of the learning rate at step t — 1/(W+1) at
     * step s, the full rate from step s + W on. A layer drawn again does not rejoin and keeps its ramp's
     * position. W = 0 (the paper, and the default) is no warm-up.
     */
    public record Config(int gamma, int period, StatePolicy policy, Sampling sampling, long seed, int warmupSteps) {
        public Config {
            if (gamma < 1) throw new IllegalArgumentException("LISA: gamma must be >= 1, got " + gamma);
            if (period < 1) throw new IllegalArgumentException("LISA: period K must be >= 1, got " + period);
            if (policy == null || sampling == null) throw new IllegalArgumentException("LISA: policy and sampling are required");
            if (warmupSteps < 0) throw new IllegalArgumentException("LISA: warm-up steps must be >= 0, got " + warmupSteps);
        }

        /** No warm-up. */
        public Config(int gamma, int period, StatePolicy policy, Sampling sampling, long seed) {
            this(gamma, period, policy, sampling, seed, 0);
        }

        /** This config with a warm-up of {@code steps} steps for each joining layer. */
        public Config withWarmup(int steps) { return new Config(gamma, period, policy, sampling, seed, steps); }

        /** The paper's defaults: γ = 2, K = 20, drop, uniform, no warm-up. */
        public static Config defaults(long seed) { return new Config(2, 20, StatePolicy.DROP, new Sampling.Uniform(), seed); }

        /** A builder that starts from the paper's defaults ({@link #defaults}, seed 0). */
        public static Builder builder() { return new Builder(); }

        /** Named settings of a {@link Config}, starting from the paper's defaults; {@link #build} checks them. */
        public static final class Builder {
            private int gamma = 2, period = 20, warmupSteps;
            private StatePolicy policy = StatePolicy.DROP;
            private Sampling sampling = new Sampling.Uniform();
            private long seed;

            private Builder() {}

            /** γ, the number of middle layers that train at a time (default 2). */
            public Builder gamma(int layers) { this.gamma = layers; return this; }

            /** K, the optimizer steps between two draws (default 20). */
            public Builder period(int steps) { this.period = steps; return this; }

            /** What happens to the optimizer state of a layer that stops training (default drop). */
            public Builder policy(StatePolicy policy) { this.policy = policy; return this; }

            /** How layers are drawn (default uniform). */
            public Builder sampling(Sampling sampling) { this.sampling = sampling; return this; }

            /** Seeds the draws (default 0). */
            public Builder seed(long seed) { this.seed = seed; return this; }

            /** W, the learning-rate warm-up in steps of a layer that joins (default 0: none). */
            public Builder warmupSteps(int steps) { this.warmupSteps = steps; return this; }

            public Config build() { return new Config(gamma, period, policy, sampling, seed, warmupSteps); }
        }
    }

    private final Config config;
    private final Optimizer optimizer;
    private final List<String> layerNames = new ArrayList<>();
    private final List<Map<String, Parameter>> layers = new ArrayList<>();
    private final Rng rng;
    /** Parked state by parameter; each entry owns its own arena, so unparking truly frees its memory. */
    private final Map<Parameter, Held> parked = new IdentityHashMap<>();
    private long parkedBytes;
    private int[] active = new int[0];
    /** Per layer: the step it joined at (while active), or WARMED for one whose warm-up is over or unknown. */
    private final long[] joined;
    private long lastDraw = -1;

    private static final long WARMED = Long.MIN_VALUE;

    /**
     * @param middle   the sampled layers in model order (name → its parameters), e.g. "layer.0" … "layer.N-1"
     * @param optimizer the optimizer over all trainable parameters (always-on ones included)
     */
    public Lisa(Map<String, Map<String, Parameter>> middle, Optimizer optimizer, Config config) {
        if (config.gamma() > middle.size()) {
            throw new IllegalArgumentException("LISA: gamma " + config.gamma() + " exceeds the " + middle.size() + " middle layers");
        }
        if (config.sampling() instanceof Sampling.Weights w && w.probabilities().length != middle.size()) {
            throw new IllegalArgumentException("LISA: " + w.probabilities().length + " layer probabilities for "
                    + middle.size() + " middle layers");
        }
        this.config = config;
        this.optimizer = optimizer;
        this.rng = new Rng(config.seed());
        middle.forEach((name, params) -> {
            layerNames.add(name);
            layers.add(new LinkedHashMap<>(params));
        });
        this.joined = new long[layers.size()];
        Arrays.fill(joined, WARMED);
        for (Map<String, Parameter> layer : layers) for (Parameter p : layer.values()) p.requiresGrad(false);
    }

    public Config config() { return config; }

    /**
     * Call before each optimizer step's forward pass: draws new layers when a period starts. Only layers
     * that leave are frozen and only layers that join are unfrozen: a layer drawn again keeps its state.
     */
    public void beforeStep(long step) {
        if (lastDraw < 0 || step - lastDraw >= config.period()) {
            int[] next = draw();
            for (int i : active) {
                if (contains(next, i)) continue;
                freeze(layers.get(i));
                joined[i] = WARMED;
                setLrScale(i, 1);
            }
            for (int i : next) {
                if (contains(active, i)) continue;
                unfreeze(layers.get(i));
                joined[i] = step;
            }
            active = next;
            lastDraw = step;
        }
        if (config.warmupSteps() > 0) for (int i : active) setLrScale(i, warmupScale(i, step));
    }

    /** Layer {@code i}'s learning-rate multiplier at {@code step} (see {@link Config}). */
    private double warmupScale(int i, long step) {
        int w = config.warmupSteps();
        if (w == 0 || joined[i] == WARMED) return 1;
        return Math.min(1.0, (step - joined[i] + 1) / (w + 1.0));
    }

    private void setLrScale(int layer, double scale) {
        for (Parameter p : layers.get(layer).values()) if (optimizer.nameOf(p) != null) optimizer.setLrScale(p, scale);
    }

    private static boolean contains(int[] sorted, int i) { return Arrays.binarySearch(sorted, i) >= 0; }

    /** The active middle layers' names, in model order. */
    public List<String> activeLayers() {
        List<String> out = new ArrayList<>();
        for (int i : active) out.add(layerNames.get(i));
        return out;
    }

    public List<String> layerNames() { return List.copyOf(layerNames); }

    /**
     * Parameters that train at once at most: every optimizer parameter outside the sampled layers (the
     * always-on groups) plus the γ largest sampled layers. What gradients and optimizer state are sized by.
     */
    public long parametersTrainingAtOnce() {
        java.util.Set<Parameter> middle = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        long[] sizes = new long[layers.size()];
        for (int i = 0; i < layers.size(); i++) {
            for (Parameter p : layers.get(i).values()) {
                middle.add(p);
                sizes[i] += p.data().numel();
            }
        }
        long n = 0;
        for (Parameter p : optimizer.namedParameters().values()) if (!middle.contains(p)) n += p.data().numel();
        Arrays.sort(sizes);
        for (int i = 0; i < config.gamma(); i++) n += sizes[sizes.length - 1 - i];
        return n;
    }

    private void freeze(Map<String, Parameter> layer) {
        for (Parameter p : layer.values()) {
            p.requiresGrad(false);    // also drops its gradient
            switch (config.policy()) {
                case DROP -> optimizer.dropState(p);
                case PARK -> park(p);
                case KEEP -> { }
            }
        }
    }

    private void unfreeze(Map<String, Parameter> layer) {
        for (Parameter p : layer.values()) {
            p.requiresGrad(true);
            if (config.policy() == StatePolicy.PARK) unpark(p);
        }
    }

    /** One parameter's parked state: its tensors in off-heap memory of {@code arena}, and its update count. */
    private record Held(Arena arena, Optimizer.Parked state, long bytes) {}

    /** Moves {@code p}'s state (from the heap or from device memory) to off-heap host memory. */
    private void park(Parameter p) {
        Optional<Optimizer.Parked> taken = optimizer.takeState(p);
        if (taken.isEmpty()) return;
        Optimizer.Parked s = taken.get();
        parked.put(p, hold(s.tensors(), s.steps()));
        for (Tensor t : s.tensors().values()) t.storage().release();
    }

    private void unpark(Parameter p) {
        Held h = parked.remove(p);
        if (h == null) return;
        Map<String, Tensor> back = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : h.state().tensors().entrySet()) {
            back.put(e.getKey(), optimizer.newState(p.data()).copyFrom(e.getValue()));   // beside the parameter, or on the active backend
        }
        free(h);
        optimizer.putState(p, new Optimizer.Parked(back, h.state().steps()));
    }

    /** Copies {@code tensors} into a new arena's off-heap PARKED_STATE memory. */
    private Held hold(Map<String, Tensor> tensors, long steps) {
        Arena arena = Arena.ofShared();    // shared: kernels may read the copy from worker threads
        Map<String, Tensor> off = new LinkedHashMap<>();
        long bytes = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            SegmentStorage seg = SegmentStorage.allocate(t.dtype(), t.numel(), arena, MemoryKind.PARKED_STATE);
            off.put(e.getKey(), new Tensor(seg, t.shape(), jlisa.tensor.Shapes.contiguousStrides(t.shape()), 0).copyFrom(t));
            bytes += seg.segment().byteSize();
        }
        parkedBytes += bytes;
        return new Held(arena, new Optimizer.Parked(off, steps), bytes);
    }

    /** Un-counts and frees one parked entry: the ledger and the memory go together. */
    private void free(Held h) {
        for (Tensor t : h.state().tensors().values()) t.storage().release();
        h.arena().close();
        parkedBytes -= h.bytes();
    }

    /** Off-heap bytes this sampler holds for parked state right now (what PARKED_STATE in the ledger should show). */
    public long parkedBytesHeld() { return parkedBytes; }

    /**
     * The parked state for a checkpoint, as {@link Optimizer#stateDict()} names it: {@code <param name>.<role>}
     * → tensor and {@code <param name>.step} → a one-element F64 count. The tensors are views of the parked
     * memory (no copy): use them before the next {@link #beforeStep} or {@link #close}.
     */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map<String, Parameter> layer : layers) {
            for (Parameter p : layer.values()) {
                Held h = parked.get(p);
                if (h == null) continue;
                String name = optimizer.nameOf(p);
                h.state().tensors().forEach((role, t) -> out.put(name + "." + role, t));
                out.put(name + ".step", Tensor.full(h.state().steps(), DType.F64, 1));
            }
        }
        return out;
    }

    /**
     * Replaces the parked state with {@link #stateDict()} output (copied into off-heap PARKED_STATE memory).
     * Every entry must name a sampled layer's parameter that holds no live optimizer state, with a matching
     * shape, and every parked parameter needs its tensors and its step count.
     */
    public void loadStateDict(Map<String, Tensor> dict) {
        Map<String, Parameter> byName = new LinkedHashMap<>();
        for (Map<String, Parameter> layer : layers) {
            for (Parameter p : layer.values()) if (optimizer.nameOf(p) != null) byName.put(optimizer.nameOf(p), p);
        }
        Map<Parameter, Map<String, Tensor>> tensors = new IdentityHashMap<>();
        Map<Parameter, Long> steps = new IdentityHashMap<>();
        for (Map.Entry<String, Tensor> e : dict.entrySet()) {
            String key = e.getKey();
            int dot = key.lastIndexOf('.');
            Parameter p = dot < 0 ? null : byName.get(key.substring(0, dot));
            if (p == null) throw new IllegalArgumentException("LISA parked state: '" + key + "' names no sampled layer's parameter");
            if (optimizer.hasState(p)) {
                throw new IllegalArgumentException("LISA parked state: '" + key + "' belongs to a parameter whose state is live");
            }
            String role = key.substring(dot + 1);
            if (role.equals("step")) {
                steps.put(p, (long) e.getValue().item());
            } else if (!Arrays.equals(e.getValue().shape(), p.data().shape())) {
                throw new IllegalArgumentException("LISA parked state: '" + key + "' has shape " + Arrays.toString(e.getValue().shape())
                        + " but the parameter has " + Arrays.toString(p.data().shape()));
            } else {
                tensors.computeIfAbsent(p, k -> new LinkedHashMap<>()).put(role, e.getValue());
            }
        }
        if (!tensors.keySet().equals(steps.keySet())) {
            throw new IllegalArgumentException("LISA parked state: every parked parameter needs its tensors and a step count");
        }
        // Copy everything first, free the old entries after: the dict may hold views of this sampler's own memory.
        Map<Parameter, Held> loaded = new IdentityHashMap<>();
        try {
            tensors.forEach((p, ts) -> loaded.put(p, hold(ts, steps.get(p))));
        } catch (RuntimeException e) {
            for (Held h : loaded.values()) free(h);
            throw e;
        }
        freeParked();
        parked.putAll(loaded);
    }

    private void freeParked() {
        for (Held h : parked.values()) free(h);
        parked.clear();
    }

    /** γ distinct layer indices, sorted, drawn without replacement from the sampling distribution. */
    private int[] draw() {
        int n = layers.size();
        double[] w = weights();
        int[] picked = new int[config.gamma()];
        for (int k = 0; k < picked.length; k++) {
            double total = 0;
            for (double x : w) total += x;
            if (!(total > 0)) throw new IllegalStateException("LISA: fewer than gamma layers have a non-zero probability");
            double u = rng.nextDouble() * total, acc = 0;
            int chosen = -1;
            for (int i = 0; i < n; i++) {
                if (w[i] <= 0) continue;
                acc += w[i];
                chosen = i;
                if (u < acc) break;
            }
            picked[k] = chosen;
            w[chosen] = 0;
        }
        Arrays.sort(picked);
        return picked;
    }

    private double[] weights() {
        int n = layers.size();
        double[] w = new double[n];
        switch (config.sampling()) {
            case Sampling.Uniform u -> Arrays.fill(w, 1.0);
            case Sampling.Weights ws -> {
                for (int i = 0; i < n; i++) {
                    double p = ws.probabilities()[i];
                    if (!(p >= 0)) throw new IllegalArgumentException("LISA: layer probability " + i + " is " + p);
                    w[i] = p;
                }
            }
            case Sampling.WeightNorm wn -> {
                for (int i = 0; i < n; i++) {
                    double ss = 0;
                    for (Parameter p : layers.get(i).values()) for (float x : p.data().toFloatArray()) ss += (double) x * x;
                    w[i] = Math.sqrt(ss);
                }
            }
        }
        return w;
    }

    /**
     * The sampler's state for a checkpoint: RNG, the step of the last draw, the active layers, and the step
     * each active layer joined at (its warm-up position; Long.MIN_VALUE once warm or unknown).
     */
    public long[] state() {
        long[] r = rng.state();
        long[] out = new long[r.length + 2 + 2 * active.length];
        System.arraycopy(r, 0, out, 0, r.length);
        out[r.length] = lastDraw;
        out[r.length + 1] = active.length;
        for (int i = 0; i < active.length; i++) {
            out[r.length + 2 + i] = active[i];
            out[r.length + 2 + active.length + i] = joined[active[i]];
        }
        return out;
    }

    /**
     * Restores {@link #state()}: freezes and unfreezes layers to match. Also takes the older format without
     * join steps, whose active layers count as fully warmed up. Optimizer and parked state are restored
     * separately (the optimizer's state dict and {@link #loadStateDict}).
     */
    public void restore(long[] state) {
        int rl = rng.state().length;
        long n = state.length >= rl + 2 ? state[rl + 1] : -1;
        boolean withJoins = n >= 0 && state.length == rl + 2 + 2 * n, old = n >= 0 && state.length == rl + 2 + n;
        if (!withJoins && !old) {
            throw new IllegalArgumentException("LISA state: expected " + rl + " + 2 + 2 × active count longs, got " + state.length);
        }
        int[] next = new int[(int) n];
        for (int i = 0; i < next.length; i++) {
            long layer = state[rl + 2 + i];
            if (layer < 0 || layer >= layers.size()) {
                throw new IllegalArgumentException("LISA state: layer " + layer + " of " + layers.size() + " middle layers");
            }
            next[i] = (int) layer;
        }
        rng.restore(Arrays.copyOf(state, rl));
        lastDraw = state[rl];
        active = next;
        Arrays.fill(joined, WARMED);
        for (int i = 0; i < layers.size(); i++) {
            for (Parameter p : layers.get(i).values()) p.requiresGrad(false);
            setLrScale(i, 1);
        }
        for (int i = 0; i < active.length; i++) {
            joined[active[i]] = withJoins ? state[rl + 2 + active.length + i] : WARMED;
            for (Parameter p : layers.get(active[i]).values()) p.requiresGrad(true);
        }
    }

    /**
     * Frees everything parked (idempotent). Only the parked memory is tied to this call: a sampler used again
     * afterwards parks into fresh memory, freed by the next close.
     */
    @Override public void close() { freeParked(); }
}
