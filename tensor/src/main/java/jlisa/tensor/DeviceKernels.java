package jlisa.tensor;

import jlisa.tensor.kernels.Attention;
import jlisa.tensor.kernels.Elementwise;
import jlisa.tensor.kernels.LayerNorm;

/**
 * The kernels a {@link Backend} runs on tensors in its own memory, one method per tensor-level entry point of
 * {@code jlisa.tensor.kernels}. Those entry points look at their operands first ({@link #of}): when one lives in
 * a backend's memory the whole call goes to that backend, which allocates its outputs in the same memory, so a
 * model whose parameters and inputs are on a device keeps every activation and gradient there. Model code never
 * names a device.
 *
 * <p>Arguments have passed the CPU entry point's checks (shapes, dtypes), except where a method says otherwise.
 * Operands are in this backend's memory or small host tensors (a broadcast scalar, I32 ids) that the backend
 * moves itself. An op a backend has no kernel for fails with {@link #missing}: never a silent element-by-element
 * round trip through host memory.
 *
 * <p>Implementations say whether they are thread-safe.
 */
public interface DeviceKernels {

    /** A short name for messages, e.g. "cuda". */
    String name();

    /** The error for an op this backend has no device kernel for. */
    default UnsupportedOperationException missing(String op) {
        return new UnsupportedOperationException(name() + " has no device kernel for " + op
                + "; the tensors are in " + name() + " device memory, so the op cannot run there (run on the CPU instead: "
                + "--device cpu)");
    }

    /**
     * The kernels of the backend whose memory holds the first of {@code operands} (nulls skipped) that is in
     * device memory, or null when all are host tensors: the CPU kernel runs. One instanceof per operand.
     */
    static DeviceKernels of(Tensor... operands) {
        for (Tensor t : operands) if (t != null && t.storage() instanceof DeviceStorage d) return d.backend();
        return null;
    }

    /** The kernels of {@code t}'s backend, or null for a host tensor. */
    static DeviceKernels of(Tensor t) {
        return t.storage() instanceof DeviceStorage d ? d.backend() : null;
    }

    // ------------------------------------------------------------------------------------------ memory

    /** An F32 tensor of {@code shape} with unspecified contents in this backend's memory, counted under {@code kind}. */
    default Tensor empty(MemoryKind kind, int... shape) { throw missing("empty"); }

    /** {@code dst = src} element by element (src broadcast to dst's shape), both in this backend's memory, any strides. */
    default void copy(Tensor src, Tensor dst) { throw missing("copy"); }

    // ------------------------------------------------------------------------------------------ elementwise

    /** {@link Elementwise#unary}: a new contiguous tensor. */
    default Tensor unary(Elementwise.Unary op, Tensor x) { throw missing("unary " + op.name().toLowerCase()); }

    /**
     * {@link Elementwise#binaryInto}: {@code out = op(a, b)} with broadcasting; {@code out} (dense, this backend's)
     * may be {@code a} or {@code b}. A one-element host operand is a scalar.
     */
    default Tensor binaryInto(Elementwise.Binary op, Tensor a, Tensor b, Tensor out) {
        throw missing("binary " + op.name().toLowerCase());
    }

    // ------------------------------------------------------------------------------------------ reductions

    /** {@code jlisa.tensor.kernels.Reductions#sum} (and mean when {@code mean}) over {@code dims}. */
    default Tensor sum(Tensor x, boolean keepDim, int[] dims, boolean mean) { throw missing(mean ? "mean" : "sum"); }

    // ------------------------------------------------------------------------------------------ layers

    /** {@link LayerNorm#forward(Tensor, Tensor, Tensor, double)}. */
    default LayerNorm.Result layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) { throw missing("layerNorm"); }

    /** {@link LayerNorm#backward(Tensor, Tensor, Tensor, Tensor, Tensor, boolean, boolean, boolean)}. */
    default LayerNorm.Gradients layerNormBackward(Tensor dout, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                                                  boolean needDx, boolean needDweight, boolean needDbias) {
        throw missing("layerNormBackward");
    }

    /** GELU with the tanh approximation: {@code jlisa.tensor.kernels.Activations#geluTanh}. */
    default Tensor geluTanh(Tensor x) { throw missing("geluTanh"); }

    /** {@code jlisa.tensor.kernels.Activations#geluTanhBackward}. */
    default Tensor geluTanhBackward(Tensor x, Tensor dout) { throw missing("geluTanhBackward"); }

    /** {@code jlisa.tensor.kernels.RmsNorm#forward(Tensor, Tensor, double)}. */
    default jlisa.tensor.kernels.RmsNorm.Result rmsNorm(Tensor x, Tensor weight, double eps) { throw missing("rmsNorm"); }

    /** {@code jlisa.tensor.kernels.RmsNorm#backward(Tensor, Tensor, Tensor, Tensor, boolean, boolean)}. */
    default jlisa.tensor.kernels.RmsNorm.Gradients rmsNormBackward(Tensor dout, Tensor x, Tensor weight, Tensor rstd,
                                                                  boolean needDx, boolean needDweight) {
        throw missing("rmsNormBackward");
    }

    /** SiLU, x·σ(x): {@code jlisa.tensor.kernels.Activations#silu}. */
    default Tensor silu(Tensor x) { throw missing("silu"); }

    /** {@code jlisa.tensor.kernels.Activations#siluBackward}. */
    default Tensor siluBackward(Tensor x, Tensor dout) { throw missing("siluBackward"); }

    /**
     * RoPE of x (B, H, T, D) with {@code cache}'s tables (checked against x), or its inverse rotation (the backward)
     * when {@code inverse}: a new contiguous tensor.
     */
    default Tensor rope(Tensor x, jlisa.tensor.kernels.Rope.Cache cache, jlisa.tensor.kernels.Rope.Layout layout,
                        boolean inverse) {
        throw missing(inverse ? "ropeBackward" : "rope");
    }

    /** Rows of {@code weight} (V, C) for host {@code ids} (checked against [0, V)): shape {@code idsShape} + (C). */
    default Tensor embedding(Tensor weight, int[] ids, int[] idsShape) { throw missing("embedding"); }

    /** The (V, C) weight gradient of {@link #embedding}: rows of {@code dout} summed by id, ids in order. */
    default Tensor embeddingBackward(Tensor dout, int[] ids, int V) { throw missing("embeddingBackward"); }

    /**
     * Cross-entropy of a batch of rows that arrive in chunks (the fused LM head): see
     * {@code jlisa.tensor.kernels.CrossEntropy.Rows}. {@code targets} (from {@code tOff}, {@code n} of them) are
     * already validated; {@code count} is the number of rows not ignored.
     */
    default jlisa.tensor.kernels.CrossEntropy.Rows crossEntropyRows(int[] targets, int tOff, int n, int V, int ignoreIndex,
                                                                    int count) {
        throw missing("crossEntropy");
    }

    /** {@link Attention#forward(Tensor, Tensor, Tensor, double, Tensor)} with {@code out} given (this backend's). */
    default Attention.Result attention(Tensor q, Tensor k, Tensor v, double scale, Tensor out) { throw missing("attention"); }

    /** {@link Attention#backward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, double, Tensor, Tensor, Tensor)}. */
    default Attention.Grads attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, double scale,
                                              Tensor dq, Tensor dk, Tensor dv) {
        throw missing("attentionBackward");
    }
}
