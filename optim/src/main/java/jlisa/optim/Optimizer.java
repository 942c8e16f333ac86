package jlisa.optim;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

import jlisa.autograd.Parameter;
import jlisa.tensor.Backend;
import jlisa.tensor.Backends;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;

/**
 * Base of the optimizers: parameter groups, a learning rate a schedule can move, and per-parameter
 * state allocated lazily — on a parameter's first update — under the OPTIMIZER_STATE kind of the
 * memory ledger, so a frozen parameter never costs state. The state can be released, parked or
 * saved per parameter, which is what LISA's state policies are built on. With an active {@link Backend}
 * an optimizer that {@link #updatesOnDevice() updates on the device} keeps new state in device memory.
 *
 * <p>{@link #close()} gives every state tensor back at once; a closed optimizer refuses further use. Not
 * thread-safe: an optimizer belongs to one training loop on one thread.
 */
public abstract class Optimizer implements AutoCloseable {
    private final List<ParamGroup> groups;
    private final Map<Parameter, String> names = new IdentityHashMap<>();
    private final Map<Parameter, ParamGroup> groupOf = new IdentityHashMap<>();
    /** Per-parameter state tensors by role ("exp_avg", …); a parameter without state is absent. */
    protected final Map<Parameter, Map<String, Tensor>> state = new IdentityHashMap<>();
    /** Per-parameter update counts (AdamW's bias correction needs each parameter's own). */
    protected final Map<Parameter, Long> steps = new IdentityHashMap<>();
    /** Per-parameter learning-rate multipliers (LISA's warm-up); absent means 1. Not checkpointed: the setter's job. */
    private final Map<Parameter, Double> lrScales = new IdentityHashMap<>();
    private double lr;
    private boolean closed;

    protected Optimizer(List<ParamGroup> groups, double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        this.groups = List.copyOf(groups);
        Set<String> seen = new HashSet<>();
        for (ParamGroup g : groups) {
            for (Map.Entry<String, Parameter> e : g.params().entrySet()) {
                if (!seen.add(e.getKey()) || names.containsKey(e.getValue())) {
                    throw new IllegalArgumentException("parameter " + e.getKey() + " appears in more than one group");
                }
                names.put(e.getValue(), e.getKey());
                groupOf.put(e.getValue(), g);
            }
        }
        this.lr = lr;
    }

    public final double lr() { return lr; }

    /** Sets the base learning rate (schedules call this before each step). */
    public final void setLr(double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        this.lr = lr;
    }

    public final List<ParamGroup> groups() { return groups; }

    /**
     * Multiplies {@code p}'s learning rate by {@code scale} (on top of its group's {@code lrScale}) until set
     * again; 1 restores the plain rate. Whoever sets it (LISA's warm-up) sets it again after a resume.
     */
    public final void setLrScale(Parameter p, double scale) {
        if (!names.containsKey(p)) throw new IllegalArgumentException("setLrScale: " + p + " is not a parameter of this optimizer");
        if (!(scale >= 0)) throw new IllegalArgumentException("learning-rate scale must be >= 0, got " + scale);
        if (scale == 1) lrScales.remove(p);
        else lrScales.put(p, scale);
    }

    /** {@code p}'s learning-rate multiplier from {@link #setLrScale} (1 unless set). */
    public final double lrScale(Parameter p) { return lrScales.getOrDefault(p, 1.0); }

    /** Every parameter with its name, in group order. */
    public final Map<String, Parameter> namedParameters() {
        Map<String, Parameter> m = new LinkedHashMap<>();
        for (ParamGroup g : groups) m.putAll(g.params());
        return m;
    }

    /** Updates every parameter that requires grad and has a gradient; the others are left alone. */
    public final void step() {
        requireOpen("step");
        for (ParamGroup g : groups) {
            for (Parameter p : g.params().values()) {
                if (!p.requiresGrad() || p.grad() == null) continue;
                Tensor data = p.data();
                boolean onDevice = data.isOnDevice() && data.isContiguous();   // a device-resident model's parameter
                if (!(data.isDense() || onDevice) || data.dtype() != DType.F32 || data.storage().isReadOnly()) {
                    throw new IllegalStateException("optimizer: parameter " + names.get(p) + " must be a dense writable F32 "
                            + "heap tensor to be updated, got " + data.describe() + " (call Parameter.materialize() on it first: it "
                            + "copies memory-mapped or BF16 weights once)");
                }
                long t = steps.merge(p, 1L, Long::sum);
                Double scale = lrScales.get(p);    // absent: the rate stays exactly lr · group scale
                double rate = scale == null ? lr * g.lrScale() : lr * g.lrScale() * scale;
                update(p, data, onDevice ? p.grad().contiguous() : p.grad().dense(), g, rate, t);
                data.storage().bumpVersion();
            }
        }
    }

    /** One parameter's update: {@code t} is its update count including this one (1 on the first). */
    protected abstract void update(Parameter p, Tensor param, Tensor grad, ParamGroup group, double lr, long t);

    /** Drops every parameter's gradient. */
    public final void zeroGrad() {
        for (ParamGroup g : groups) for (Parameter p : g.params().values()) p.zeroGrad();
    }

    /** The state tensor {@code role} of {@code p}, allocated as zeros (OPTIMIZER_STATE) on first use. */
    protected final Tensor state(Parameter p, String role) {
        requireOpen("allocate state");
        return state.computeIfAbsent(p, k -> new LinkedHashMap<>()).computeIfAbsent(role, r -> newState(p.data()));
    }

    /**
     * True when this optimizer's update can run on state kept in an accelerator's memory (AdamW's fused
     * update can); then new state goes to the active {@link Backend}'s memory.
     */
    protected boolean updatesOnDevice() { return false; }

    /**
     * Zero state shaped like {@code param}: beside a parameter in device memory; else in the active backend's memory
     * when this optimizer updates there; else on the heap.
     */
    final Tensor newState(Tensor param) {
        int[] shape = param.shape();
        if (param.storage() instanceof jlisa.tensor.DeviceStorage d) {
            if (!updatesOnDevice()) {
                throw new IllegalStateException(getClass().getSimpleName() + " cannot update parameters in " + d.backend().name()
                        + " device memory (only AdamW and LISA-AdamW can); run on the CPU");
            }
            return d.backend().zeros(MemoryKind.OPTIMIZER_STATE, shape);
        }
        Backend accelerator = Backends.active();
        return accelerator != null && updatesOnDevice() ? accelerator.zeros(MemoryKind.OPTIMIZER_STATE, shape)
                : Tensor.zeros(DType.F32, MemoryKind.OPTIMIZER_STATE, shape);
    }

    /** True if {@code p} currently holds optimizer state. */
    public final boolean hasState(Parameter p) { return state.containsKey(p); }

    /**
     * Frees every parameter's state (the ledger's OPTIMIZER_STATE falls by what this optimizer held) and makes
     * later {@link #step}s, state loads and puts fail. Idempotent. Parameters and their gradients are the model's
     * and are left alone.
     */
    @Override public final void close() {
        if (closed) return;
        for (Parameter p : new ArrayList<>(state.keySet())) dropState(p);
        steps.clear();
        lrScales.clear();
        closed = true;
    }

    /** Whether {@link #close()} was called. */
    public final boolean isClosed() { return closed; }

    private void requireOpen(String what) {
        if (closed) throw new IllegalStateException("optimizer: cannot " + what + ": this " + getClass().getSimpleName()
                + " was closed and its state released; make a new optimizer");
    }

    /** Frees {@code p}'s state and forgets its update count: it starts from zero when next updated. */
    public final void dropState(Parameter p) {
        Map<String, Tensor> s = state.remove(p);
        if (s != null) for (Tensor t : s.values()) t.storage().release();
        steps.remove(p);
    }

    /** Takes {@code p}'s state (and count) out of the optimizer, for a caller that parks it elsewhere. */
    public final Optional<Parked> takeState(Parameter p) {
        Map<String, Tensor> s = state.remove(p);
        Long t = steps.remove(p);
        return s == null ? Optional.empty() : Optional.of(new Parked(s, t == null ? 0 : t));
    }

    /** Puts state taken with {@link #takeState} back. */
    public final void putState(Parameter p, Parked parked) {
        requireOpen("put state back");
        Objects.requireNonNull(parked, "optimizer: putState needs the state taken with takeState, got null");
        state.put(p, parked.tensors());
        steps.put(p, parked.steps());
    }

    /** A parameter's state outside the optimizer: its tensors by role and its update count. */
    public record Parked(Map<String, Tensor> tensors, long steps) {}

    /** Bytes of all live state. */
    public final long stateBytes() {
        long b = 0;
        for (Map<String, Tensor> s : state.values()) for (Tensor t : s.values()) b += t.storage().byteSize();
        return b;
    }

    /**
     * The state for a checkpoint: {@code <param name>.<role>} → tensor, and {@code <param name>.step}
     * → a one-element F64 tensor with the update count.
     */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : namedParameters().entrySet()) {
            Map<String, Tensor> s = state.get(e.getValue());
            if (s == null) continue;
            for (Map.Entry<String, Tensor> r : s.entrySet()) out.put(e.getKey() + "." + r.getKey(), r.getValue());
            out.put(e.getKey() + ".step", Tensor.full(steps.getOrDefault(e.getValue(), 0L), DType.F64, 1));
        }
        return out;
    }

    /** Restores {@link #stateDict()} output: every entry must name a known parameter, with matching shapes. */
    public final void loadStateDict(Map<String, Tensor> dict) {
        requireOpen("load a state dict");
        // Copy first, drop the old state after: the dict may hold this optimizer's own state tensors (stateDict()
        // does not copy), and a released storage must not be read again.
        Map<Parameter, Map<String, Tensor>> loaded = new IdentityHashMap<>();
        Map<Parameter, Long> loadedSteps = new IdentityHashMap<>();
        Map<String, Parameter> named = namedParameters();
        for (Map.Entry<String, Tensor> e : dict.entrySet()) {
            String key = e.getKey();
            int dot = key.lastIndexOf('.');
            Parameter p = dot < 0 ? null : named.get(key.substring(0, dot));
            if (p == null) throw new IllegalArgumentException("optimizer state: '" + key + "' names no parameter of this optimizer");
            String role = key.substring(dot + 1);
            if (role.equals("step")) {
                loadedSteps.put(p, (long) e.getValue().item());
                continue;
            }
            if (!java.util.Arrays.equals(e.getValue().shape(), p.data().shape())) {
                throw new IllegalArgumentException("optimizer state: '" + key + "' has shape "
                        + java.util.Arrays.toString(e.getValue().shape()) + " but the parameter has "
                        + java.util.Arrays.toString(p.data().shape()));
            }
            Tensor t = newState(p.data()).copyFrom(e.getValue());
            loaded.computeIfAbsent(p, k -> new LinkedHashMap<>()).put(role, t);
        }
        for (Parameter p : new ArrayList<>(state.keySet())) dropState(p);
        state.putAll(loaded);
        steps.putAll(loadedSteps);
    }

    /** The name this optimizer knows {@code p} by. */
    public final String nameOf(Parameter p) { return names.get(p); }

    /** Parameters currently holding state (for reports). */
    public final Set<Parameter> parametersWithState() { return Collections.unmodifiableSet(state.keySet()); }
}
