package jlisa.autograd;

import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;

/**
 * A named, trainable leaf: a model weight. Its {@code requiresGrad} can be switched between steps
 * (LISA freezes and unfreezes layers this way), and a frozen parameter costs no gradient memory
 * and no weight-gradient work.
 *
 * <p>Not thread-safe: a parameter is mutable state of its model; threads that share a model coordinate themselves.
 */
public class Parameter extends Variable {
    private final String name;
    /** Why the value is gone (its model was closed), or null while it may be read. */
    private String closedBecause;

    /** A parameter that requires a gradient. Its storage should be counted as PARAMETER (see {@link #of}). */
    public Parameter(String name, Tensor data) {
        super(data, true);
        if (name == null || name.isBlank()) throw new IllegalArgumentException("Parameter: a name is required");
        this.name = name;
    }

    /**
     * A parameter holding a copy of {@code data} in storage counted as PARAMETER, unless the data
     * already is PARAMETER storage (then it is used as is).
     */
    public static Parameter of(String name, Tensor data) {
        if (data.storage().kind() == MemoryKind.PARAMETER) return new Parameter(name, data);
        Tensor copy = Tensor.zeros(data.dtype(), MemoryKind.PARAMETER, data.shape()).copyFrom(data);
        return new Parameter(name, copy);
    }

    /**
     * Points this parameter at new values of the same shape — loaded weights, possibly a read-only
     * memory-mapped tensor used without a copy. The gradient is dropped.
     */
    public void assign(Tensor value) {
        if (!java.util.Arrays.equals(value.shape(), data().shape())) {
            throw new IllegalArgumentException(name + ": expected shape " + java.util.Arrays.toString(data().shape())
                    + " but the new value has " + java.util.Arrays.toString(value.shape()));
        }
        replaceData(value);
    }

    /**
     * Makes this parameter's values a dense, writable F32 heap tensor counted as PARAMETER, so an optimizer can update
     * it in place: weights loaded memory-mapped (read-only) or in BF16 are copied once and the original storage is
     * released. A no-op when the values already are such a tensor. Returns this.
     */
    public Parameter materialize() {
        Tensor d = data();
        if (d.isDense() && d.dtype() == jlisa.tensor.DType.F32 && !d.storage().isReadOnly() && d.offset() == 0
                && d.numel() == d.storage().length()) return this;
        assign(Tensor.zeros(jlisa.tensor.DType.F32, MemoryKind.PARAMETER, d.shape()).copyFrom(d));
        d.storage().release();   // the mapped (or bf16) original no longer holds this parameter
        return this;
    }

    /**
     * The value. Throws {@link IllegalStateException} with the reason given to {@link #markClosed} once the model
     * that owns this parameter was closed, rather than a bare error from freed memory.
     */
    @Override public Tensor data() {
        if (closedBecause != null) throw new IllegalStateException(name + ": " + closedBecause);
        return super.data();
    }

    /**
     * Makes every later {@link #data()} fail with {@code reason} (e.g. "model gpt2 was closed; load it again"),
     * for the owner that frees this parameter's memory. The gradient is dropped.
     */
    public void markClosed(String reason) {
        if (reason == null || reason.isBlank()) throw new IllegalArgumentException("markClosed: a reason is required");
        zeroGrad();
        closedBecause = reason;
    }

    /** True once {@link #markClosed} was called. */
    public boolean isClosed() { return closedBecause != null; }

    /** The dotted name (e.g. {@code model.layers.3.self_attn.q_proj.weight}). */
    public String name() { return name; }

    /** Freezes (false) or unfreezes (true); freezing also drops the gradient. */
    @Override public Parameter requiresGrad(boolean on) {
        super.requiresGrad(on);
        if (!on) zeroGrad();
        return this;
    }

    @Override public String toString() {
        if (closedBecause != null) return "Parameter(" + name + ", closed)";
        return "Parameter(" + name + ", " + java.util.Arrays.toString(data().shape()) + (requiresGrad() ? "" : ", frozen") + ")";
    }
}
