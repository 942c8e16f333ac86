package jlisa.tensor.kernels;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.HeapStorage;
import jlisa.tensor.Parallel;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * Causal scaled-dot-product attention with grouped key/value heads, flash-attention style.
 *
 * <pre>
 *   q: (B, H, Tq, D)   k, v: (B, Hkv, Tk, D)   H % Hkv == 0, Tq ≤ Tk
 *   query head h reads kv head h / (H / Hkv)          (Hkv == H: multi-head, Hkv == 1: multi-query)
 *   query row i sits at position p = Tk − Tq + i and sees keys 0..p   (Tq == Tk: plain causal; Tq &lt; Tk: KV-cache decode)
 *   S = q·kᵀ·scale, soft-capped to c·tanh(S/c) when c &gt; 0 (Gemma-2)   (+ causal mask, and with a window W
 *   query row i sees only keys p − W &lt; j ≤ p)   lse_i = log Σ_j exp S_ij   out = exp(S − lse)·v
 * </pre>
 * The settings are one {@link Spec}: scale, soft-cap and window.
 *
 * The F32 kernels never hold a Tq×Tk score matrix: each (b, h) walks tiles of {@value #BQ} query rows, streams
 * over tiles of {@value #BK} keys with an online softmax (running max and sum) and keeps only the log-sum-exp per
 * query row for the backward pass, which recomputes the probabilities tile by tile. Score tiles are stored
 * transposed (keys × queries), so each vector holds {@code L} query rows and the softmax bookkeeping is lanewise; the
 * five tile products per step run through one small register-blocked {@code gemm} that reads either operand layout
 * in place. exp is a fixed polynomial, so the bits never depend on the JIT. The F64 kernels are plain loops (one
 * score row at a time) for gradcheck and references.
 *
 * <p>No layout copies: the F32 kernels address every operand as {@link Rows} (a base per (b, head) and a stride
 * between rows of D contiguous floats), so q, k, v may be transposed (B, T, H, D) views or views into one packed qkv
 * projection, and outputs and gradients may be written into such views ({@link #unpack}, {@link #splitHeads});
 * new outputs come laid out (B, T, H, D) ({@link #newHeads}), so merging the heads back is a view too.
 *
 * <p>Deterministic for any thread count: the forward pass gives each (b, h) to one task; the backward pass gives
 * each (b, kv head) to one task, which loops over the query heads of its group in order, so dk and dv are summed in
 * a fixed order and dq of each query head is written by one task.
 */
public final class Attention {
    static { // see Jit: C1 can trap the tiles; vector helpers inline, tile routines stay compile units of their own
        String at = "jlisa/tensor/kernels/Attention.";
        jlisa.tensor.Jit.c2Only(at + "*", "+" + at + "exp", "+" + at + "softcap", "+" + at + "laneBelow", "-" + at + "gemm", "-" + at + "block8x2",
                "-" + at + "block8x1", "-" + at + "onlineSoftmax", "-" + at + "scoreGradients", "-" + at + "scaleRow", "-" + at + "rowDots");
    }

    private Attention() {}

    /** Query rows per tile: the lanes of the transposed score tiles, a multiple of 2·L (two vectors per gemm step). */
    static final int BQ = 32;
    /** Keys per tile. */
    static final int BK = 64;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    /** 1/√D, the usual scale. */
    public static double defaultScale(int headDim) { return 1.0 / Math.sqrt(headDim); }

    /**
     * How scores are made and which keys a query sees: S = q·kᵀ·{@code scale}, then c·tanh(S/c) when
     * {@code softcap} c &gt; 0 (0: no cap), and with {@code window} W &gt; 0 a query at position p sees only keys
     * p − W &lt; j ≤ p (itself and the W − 1 before it; 0: every key up to p). Immutable.
     */
    public record Spec(double scale, double softcap, int window) {
        public Spec {
            if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("attention: scale must be finite and > 0, got " + scale);
            if (!(softcap >= 0) || Double.isInfinite(softcap)) {
                throw new IllegalArgumentException("attention: softcap must be finite and ≥ 0 (0 = off), got " + softcap);
            }
            if (window < 0) throw new IllegalArgumentException("attention: window must be ≥ 0 (0 = off), got " + window);
        }

        /** The usual attention: scale 1/√headDim, no cap, no window. */
        public static Spec of(int headDim) { return new Spec(defaultScale(headDim), 0, 0); }

        /** Plain causal attention with this scale. */
        public static Spec ofScale(double scale) { return new Spec(scale, 0, 0); }

        public Spec withSoftcap(double c) { return new Spec(scale, c, window); }

        public Spec withWindow(int w) { return new Spec(scale, softcap, w); }

        /** True when neither a soft-cap nor a window is set. */
        public boolean isPlain() { return softcap == 0 && window == 0; }

        @Override public String toString() {
            return "Spec[scale=" + scale + (softcap > 0 ? ", softcap=" + softcap : "") + (window > 0 ? ", window=" + window : "") + "]";
        }
    }

    // ================================================================ tensor API

    /** The attention output (B, H, Tq, D) and the log-sum-exp of each query row (B, H, Tq), kept for backward. */
    public record Result(Tensor out, Tensor lse) {}

    /** Gradients of q (B, H, Tq, D), k and v (B, Hkv, Tk, D). */
    public record Grads(Tensor dq, Tensor dk, Tensor dv) {}

    /** Causal attention with the default scale 1/√D. */
    public static Result forward(Tensor q, Tensor k, Tensor v) {
        return forward(q, k, v, defaultScale(q.dim() == 4 ? q.size(3) : 1));
    }

    /**
     * Causal attention of q (B, H, Tq, D) over k, v (B, Hkv, Tk, D), F32 or F64 (BF16 computes in F32). The output is
     * a new tensor laid out (B, Tq, H, D) — see {@link #newHeads} — so {@code out.transpose(1, 2).reshape(B, Tq, H·D)}
     * is a view; lse is new and contiguous.
     */
    public static Result forward(Tensor q, Tensor k, Tensor v, double scale) {
        return forward(q, k, v, scale, null);
    }

    /**
     * As {@link #forward(Tensor, Tensor, Tensor, double)}, writing the output into {@code out} (B, H, Tq, D) of the
     * compute dtype, heap, any strides with the last dim contiguous; a new one when {@code out} is null. F32 inputs
     * on the heap whose last dim is contiguous (views into a fused qkv projection, transposed (B, T, H, D) heads) are
     * read in place; anything else is first copied dense.
     */
    public static Result forward(Tensor q, Tensor k, Tensor v, double scale, Tensor out) {
        return forward(q, k, v, Spec.ofScale(scale), out);
    }

    /** As {@link #forward(Tensor, Tensor, Tensor, double, Tensor)} with a soft-cap and window as {@code spec} says. */
    public static Result forward(Tensor q, Tensor k, Tensor v, Spec spec) { return forward(q, k, v, spec, null); }

    /** As {@link #forward(Tensor, Tensor, Tensor, double, Tensor)} with a soft-cap and window as {@code spec} says. */
    public static Result forward(Tensor q, Tensor k, Tensor v, Spec spec, Tensor out) {
        checkInputs(q, k, v);
        double scale = spec.scale();
        DType dtype = computeType("attention", q, k, v);
        int[] qs = q.shape(), ks = k.shape();
        int B = qs[0], H = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2];
        if (DeviceKernels.of(q, k, v, out) instanceof DeviceKernels device) {
            checkPlainOnDevice(spec);
            if (out == null) out = Tensor.emptyOn(q, dtype, B, Tq, H, D).transpose(1, 2);
            else checkDeviceTarget("out", out, qs);
            return device.attention(q, k, v, scale, out);
        }
        if (out == null) out = newHeads(dtype, B, H, Tq, D);
        else checkTarget("out", out, dtype, qs);
        Tensor lse = Tensor.empty(dtype, B, H, Tq);   // every row is written
        if (dtype == DType.F32) {
            forward(rows(out), lse.floatArray(), lse.offset(), rows(q), rows(k), rows(v), B, H, Hkv, Tq, Tk, D, spec);
        } else {
            Tensor o = Tensor.empty(dtype, qs);
            forward(o.doubleArray(), lse.doubleArray(), flat(q, dtype).doubleArray(), flat(k, dtype).doubleArray(),
                    flat(v, dtype).doubleArray(), B, H, Hkv, Tq, Tk, D, spec);
            out.copyFrom(o);
        }
        return new Result(out, lse);
    }

    /**
     * Backward of {@link #forward(Tensor, Tensor, Tensor, double)} given its inputs, output and lse; the gradients are
     * new tensors laid out as {@link #newHeads} lays them out.
     */
    public static Grads backward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, double scale) {
        return backward(dout, q, k, v, out, lse, Spec.ofScale(scale));
    }

    /** Backward of {@link #forward(Tensor, Tensor, Tensor, Spec)}; the gradients are new tensors as {@link #newHeads} lays them out. */
    public static Grads backward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Spec spec) {
        checkInputs(q, k, v);
        DType dtype = computeType("attention backward", q, k, v, dout, out, lse);
        int[] qs = q.shape(), ks = k.shape();
        if (DeviceKernels.of(dout, q, k, v, out, lse) != null) {
            return backward(dout, q, k, v, out, lse, spec, Tensor.emptyOn(q, dtype, qs[0], qs[2], qs[1], qs[3]).transpose(1, 2),
                    Tensor.emptyOn(q, dtype, ks[0], ks[2], ks[1], ks[3]).transpose(1, 2),
                    Tensor.emptyOn(q, dtype, ks[0], ks[2], ks[1], ks[3]).transpose(1, 2));
        }
        return backward(dout, q, k, v, out, lse, spec, newHeads(dtype, qs[0], qs[1], qs[2], qs[3]),
                newHeads(dtype, ks[0], ks[1], ks[2], ks[3]), newHeads(dtype, ks[0], ks[1], ks[2], ks[3]));
    }

    /**
     * Backward writing dq (B, H, Tq, D), dk and dv (B, Hkv, Tk, D) into the given tensors (compute dtype, heap, last
     * dim contiguous, any other strides: three views into one fused gradient work); every element is overwritten.
     * Inputs are read in place as in {@link #forward(Tensor, Tensor, Tensor, double, Tensor)}.
     */
    public static Grads backward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, double scale,
                                 Tensor dq, Tensor dk, Tensor dv) {
        return backward(dout, q, k, v, out, lse, Spec.ofScale(scale), dq, dk, dv);
    }

    /** As {@link #backward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, double, Tensor, Tensor, Tensor)} for {@code spec}. */
    public static Grads backward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Spec spec,
                                 Tensor dq, Tensor dk, Tensor dv) {
        checkInputs(q, k, v);
        double scale = spec.scale();
        int[] qs = q.shape(), ks = k.shape();
        int B = qs[0], H = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2];
        if (!Arrays.equals(dout.shape(), qs) || !Arrays.equals(out.shape(), qs)
                || !Arrays.equals(lse.shape(), new int[] {B, H, Tq})) {
            throw new IllegalArgumentException("attention backward: expected dout and out " + Shapes.str(qs) + " and lse "
                    + Shapes.str(new int[] {B, H, Tq}) + ", got dout " + Shapes.str(dout.shape()) + ", out "
                    + Shapes.str(out.shape()) + ", lse " + Shapes.str(lse.shape()));
        }
        DType dtype = computeType("attention backward", q, k, v, dout, out, lse);
        if (DeviceKernels.of(dout, q, k, v, out, lse, dq, dk, dv) instanceof DeviceKernels device) {
            checkPlainOnDevice(spec);
            checkDeviceTarget("dq", dq, qs);
            checkDeviceTarget("dk", dk, ks);
            checkDeviceTarget("dv", dv, ks);
            return device.attentionBackward(dout, q, k, v, out, lse, scale, dq, dk, dv);
        }
        checkTarget("dq", dq, dtype, qs);
        checkTarget("dk", dk, dtype, ks);
        checkTarget("dv", dv, dtype, ks);
        Tensor ld = flat(lse, dtype);
        if (dtype == DType.F32) {
            backward(rows(dq), rows(dk), rows(dv), rows(dout), rows(q), rows(k), rows(v), rows(out), ld.floatArray(),
                    0, B, H, Hkv, Tq, Tk, D, spec);
        } else {
            Tensor dqd = Tensor.empty(dtype, qs), dkd = Tensor.empty(dtype, ks), dvd = Tensor.empty(dtype, ks);
            backward(dqd.doubleArray(), dkd.doubleArray(), dvd.doubleArray(), flat(dout, dtype).doubleArray(),
                    flat(q, dtype).doubleArray(), flat(k, dtype).doubleArray(), flat(v, dtype).doubleArray(),
                    flat(out, dtype).doubleArray(), ld.doubleArray(), B, H, Hkv, Tq, Tk, D, spec);
            dq.copyFrom(dqd);
            dk.copyFrom(dkd);
            dv.copyFrom(dvd);
        }
        return new Grads(dq, dk, dv);
    }

    /**
     * A new (B, H, T, D) tensor whose memory is laid out (B, T, H, D): {@code transpose(1, 2)} of it is contiguous, so
     * merging the heads back into (B, T, H·D) — what every model does after attention — copies nothing. Its contents
     * are unspecified ({@link Tensor#empty}): the kernels write every element.
     */
    public static Tensor newHeads(DType dtype, int B, int H, int T, int D) {
        return Tensor.empty(dtype, B, T, H, D).transpose(1, 2);
    }

    /**
     * Views q (B, H, T, D), k and v (B, Hkv, T, D) of a packed projection qkv (B, T, (H + 2·Hkv)·D) that holds the
     * three side by side along its last dim (GPT-2's c_attn); copies only if that last dim is not contiguous.
     */
    public static Tensor[] unpack(Tensor qkv, int heads, int kvHeads) {
        int width = heads + 2 * kvHeads;
        if (qkv.dim() != 3 || heads <= 0 || kvHeads <= 0 || qkv.size(2) % width != 0) {
            throw new IllegalArgumentException("attention: expected a packed qkv (B, T, (" + heads + " + 2·" + kvHeads
                    + ")·D), got " + Shapes.str(qkv.shape()));
        }
        int B = qkv.size(0), T = qkv.size(1), D = qkv.size(2) / width;
        return new Tensor[] {
            qkv.narrow(2, 0, heads * D).reshape(B, T, heads, D).transpose(1, 2),
            qkv.narrow(2, heads * D, kvHeads * D).reshape(B, T, kvHeads, D).transpose(1, 2),
            qkv.narrow(2, (heads + kvHeads) * D, kvHeads * D).reshape(B, T, kvHeads, D).transpose(1, 2)};
    }

    /** The heads (B, H, T, D) view of x (B, T, H·D): the inverse of merging them back. */
    public static Tensor splitHeads(Tensor x, int heads) {
        if (x.dim() != 3 || heads <= 0 || x.size(2) % heads != 0) {
            throw new IllegalArgumentException("attention: expected (B, T, " + heads + "·D), got " + Shapes.str(x.shape()));
        }
        return x.reshape(x.size(0), x.size(1), heads, x.size(2) / heads).transpose(1, 2);
    }

    private static void checkPlainOnDevice(Spec spec) {
        if (!spec.isPlain()) {
            throw new IllegalArgumentException("attention: " + spec + ": soft-capping and sliding windows are not implemented "
                    + "on the GPU backend; run this model's attention on the CPU");
        }
    }

    private static void checkInputs(Tensor q, Tensor k, Tensor v) {
        String shapes = "q " + Shapes.str(q.shape()) + ", k " + Shapes.str(k.shape()) + ", v " + Shapes.str(v.shape());
        if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) {
            throw new IllegalArgumentException("attention: expected q (B, H, Tq, D) and k, v (B, Hkv, Tk, D) of rank 4, got "
                    + shapes);
        }
        if (!Arrays.equals(k.shape(), v.shape())) {
            throw new IllegalArgumentException("attention: k and v must have the same shape, got " + shapes);
        }
        int H = q.size(1), Hkv = k.size(1);
        if (Hkv == 0 ? H != 0 : H % Hkv != 0) {
            throw new IllegalArgumentException("attention: " + H + " query heads are not a multiple of " + Hkv
                    + " kv heads (" + shapes + ")");
        }
        if (q.size(0) != k.size(0)) {
            throw new IllegalArgumentException("attention: batch sizes differ, q has " + q.size(0) + " and k, v have "
                    + k.size(0) + " (" + shapes + ")");
        }
        if (q.size(3) != k.size(3)) {
            throw new IllegalArgumentException("attention: head dims differ, q has " + q.size(3) + " and k, v have "
                    + k.size(3) + " (" + shapes + ")");
        }
        if (q.size(2) > k.size(2)) {
            throw new IllegalArgumentException("attention: q has " + q.size(2) + " positions but k, v have only "
                    + k.size(2) + "; expected Tq ≤ Tk (" + shapes + ")");
        }
    }

    /** An output the kernels write in place: the compute dtype, the expected shape, on the heap, last dim contiguous. */
    private static void checkTarget(String name, Tensor t, DType dtype, int[] shape) {
        if (!Arrays.equals(t.shape(), shape) || t.dtype() != dtype || !(t.storage() instanceof HeapStorage)
                || (dtype == DType.F32 && !rowsInPlace(t))) {
            throw new IllegalArgumentException("attention: " + name + " must be a heap " + dtype + " tensor " + Shapes.str(shape)
                    + " with a contiguous last dim, got " + t.describe());
        }
    }

    /** An output a device kernel writes: the expected shape, in device memory. */
    private static void checkDeviceTarget(String name, Tensor t, int[] shape) {
        if (!Arrays.equals(t.shape(), shape) || !t.isOnDevice()) {
            throw new IllegalArgumentException("attention: " + name + " must be a device tensor " + Shapes.str(shape) + " beside "
                    + "device inputs, got " + t.describe());
        }
    }

    private static DType computeType(String op, Tensor... ts) {
        DType dtype = ts[0].dtype().computeType();
        for (Tensor t : ts) {
            if (t.dtype().computeType() != dtype || (dtype != DType.F32 && dtype != DType.F64)) {
                StringBuilder got = new StringBuilder();
                for (Tensor u : ts) got.append(got.isEmpty() ? "" : ", ").append(u.dtype());
                throw new IllegalArgumentException(op + ": expected F32 or F64 inputs all of one dtype, got " + got);
            }
        }
        return dtype;
    }

    /** A dense heap tensor of {@code dtype} starting at element 0 of its array (copies only when needed): the F64 path. */
    private static Tensor flat(Tensor t, DType dtype) {
        Tensor d = t.to(dtype).dense();
        return d.offset() == 0 ? d : d.copy();
    }

    /** True if the F32 kernels can read or write t where it lies: an F32 heap array, each row of D contiguous. */
    private static boolean rowsInPlace(Tensor t) {
        return t.dtype() == DType.F32 && t.storage() instanceof HeapStorage && (t.size(3) <= 1 || t.stride(3) == 1);
    }

    /** The rows of a (B, heads, T, D) F32 tensor where they lie, or in a dense copy when they cannot be read there. */
    private static Rows rows(Tensor t) {
        Tensor r = rowsInPlace(t) ? t : t.dense();
        return new Rows(r.floatArray(), r.offset(), r.stride(0), r.stride(1), r.stride(2));
    }

    /**
     * Where a (B, heads, T, D) F32 operand lives: row t of head (b, h) starts at
     * {@code offset + b·batchStride + h·headStride + t·rowStride} of {@code a}, its D elements contiguous.
     */
    record Rows(float[] a, int offset, int batchStride, int headStride, int rowStride) {
        int head(int b, int h) { return offset + b * batchStride + h * headStride; }

        /** A contiguous (B, heads, T, D) array from element 0. */
        static Rows dense(float[] a, int heads, int T, int D) { return new Rows(a, 0, heads * T * D, T * D, D); }
    }

    // ================================================================ F32 kernels

    /** Plain causal self-attention: Tq == Tk == T. See {@link #forward(float[], float[], float[], float[], float[], int, int, int, int, int, int, float)}. */
    public static void forward(float[] out, float[] lse, float[] q, float[] k, float[] v,
                               int B, int H, int Hkv, int T, int D, float scale) {
        forward(out, lse, q, k, v, B, H, Hkv, T, T, D, scale);
    }

    /**
     * out (B, H, Tq, D) and lse (B, H, Tq) from q (B, H, Tq, D), k, v (B, Hkv, Tk, D), all contiguous from element 0.
     * Overwrites out and lse.
     */
    public static void forward(float[] out, float[] lse, float[] q, float[] k, float[] v,
                               int B, int H, int Hkv, int Tq, int Tk, int D, float scale) {
        checkForward(out.length, lse.length, q.length, k.length, v.length, B, H, Hkv, Tq, Tk, D);
        forward(Rows.dense(out, H, Tq, D), lse, 0, Rows.dense(q, H, Tq, D), Rows.dense(k, Hkv, Tk, D),
                Rows.dense(v, Hkv, Tk, D), B, H, Hkv, Tq, Tk, D, Spec.ofScale(scale));
    }

    /** The F32 forward over operands laid out as {@link Rows}; lse (B, H, Tq) is contiguous from {@code lseOff}. */
    private static void forward(Rows out, float[] lse, int lseOff, Rows q, Rows k, Rows v,
                                int B, int H, int Hkv, int Tq, int Tk, int D, Spec spec) {
        if (B == 0 || H == 0 || Tq == 0) return;
        int group = H / Hkv;
        Parallel.forRange(0, B * H, 1, (lo, hi) -> {
            Tiles s = new Tiles(Tk, D);
            for (int bh = lo; bh < hi; bh++) {
                int b = bh / H, h = bh % H;
                forwardHead(out, lse, lseOff + bh * Tq, q, k, v, b, h, h / group, Tq, Tk, D, spec, s);
            }
        });
    }

    /**
     * One (b, h) over kv head {@code hk}. Scores are kept transposed, keys × queries (Sᵀ = k·qᵀ), so a vector holds L
     * query rows: the running max, running sum, rescale factors and causal mask are lanewise, with no horizontal
     * reductions, and k and v are read in place as the row operand of the tile products.
     */
    private static void forwardHead(Rows out, float[] lse, int lseOff, Rows q, Rows k, Rows v, int b, int h, int hk,
                                    int Tq, int Tk, int D, Spec spec, Tiles s) {
        int dp = s.dp, offset = Tk - Tq, window = spec.window();
        float scale = (float) spec.scale(), cap = (float) spec.softcap();
        float[] qa = q.a(), ka = k.a(), oa = out.a();
        int qBase = q.head(b, h), qrs = q.rowStride(), kBase = k.head(b, hk), krs = k.rowStride();
        int oBase = out.head(b, h), ors = out.rowStride();
        float[] vRows = v.a();
        int vOff = v.head(b, hk), vrs = v.rowStride();
        if (D != dp) {
            padRows(vRows, vOff, vrs, Tk, D, s.kvPadded, dp);
            vRows = s.kvPadded;
            vOff = 0;
            vrs = dp;
        }
        float[] qt = s.qT, st = s.scoresT, acc = s.acc, m = s.rowMax, l = s.rowSum, alpha = s.alpha;
        for (int i0 = 0; i0 < Tq; i0 += BQ) {
            int rows = Math.min(BQ, Tq - i0);
            loadTransposed(qa, qBase + i0 * qrs, qrs, rows, D, scale, qt);
            Arrays.fill(m, Float.NEGATIVE_INFINITY);
            Arrays.fill(l, 0f);
            Arrays.fill(acc, 0, rows * dp, 0f);
            int firstPos = offset + i0, keyEnd = firstPos + rows; // query row r sits at firstPos + r
            for (int j0 = firstKey(firstPos, window); j0 < keyEnd; j0 += BK) {
                int jw = Math.min(BK, keyEnd - j0);
                boolean masked = j0 + jw - 1 > firstPos;             // some key is after some query of the tile
                int windowEnd = windowEdge(window, j0, firstPos, rows);
                gemm(ka, kBase + j0 * krs, krs, 1, qt, 0, BQ, st, 0, BQ, jw, BQ, D, false); // Sᵀ = k·(q·scale)ᵀ
                onlineSoftmax(st, jw, masked, j0 - firstPos, windowEnd, cap, m, l, alpha);
                for (int r = 0; r < rows; r++) if (alpha[r] != 1f) scaleRow(acc, r * dp, dp, alpha[r]);
                gemm(st, 0, 1, BQ, vRows, vOff + j0 * vrs, vrs, acc, 0, dp, rows, dp, jw, true); // acc += P·v
            }
            for (int r = 0; r < rows; r++) {
                int o = oBase + (i0 + r) * ors;
                float inv = 1f / l[r];
                for (int d = 0; d < D; d++) oa[o + d] = acc[r * dp + d] * inv;
                lse[lseOff + i0 + r] = m[r] + (float) Math.log(l[r]);
            }
        }
    }

    /** The first key any query from {@code firstPos} on sees: 0, or with a window the first key inside it. */
    private static int firstKey(int firstPos, int window) { return window == 0 ? 0 : Math.max(0, firstPos - window + 1); }

    /**
     * For a key tile from {@code j0}: the window's lower edge relative to the tile, when some query of the tile's rows
     * has keys of it outside its window (lane r sees key jj only while r &lt; jj + edge); {@link Integer#MAX_VALUE} when
     * none has.
     */
    private static int windowEdge(int window, int j0, int firstPos, int rows) {
        if (window == 0 || j0 + window > firstPos + rows - 1) return Integer.MAX_VALUE;
        return j0 - firstPos + window;
    }

    /**
     * One key tile of the online softmax, lanewise over the BQ query rows of Sᵀ (jw × BQ): soft-caps the scores when
     * {@code cap} &gt; 0, masks keys after each query (lane r sees key jj iff r ≥ jj + shift) and keys before its
     * window (r &lt; jj + windowEdge), raises the running max m, overwrites Sᵀ with exp(S − m), adds the tile's sums
     * into l after rescaling it, and leaves the rescale factors exp(m_old − m) in alpha. A row that sees no key of the
     * tile and none before keeps m = −∞ and l = 0.
     */
    private static void onlineSoftmax(float[] st, int jw, boolean masked, int shift, int windowEdge, float cap,
                                      float[] m, float[] l, float[] alpha) {
        boolean windowed = windowEdge != Integer.MAX_VALUE;
        for (int c0 = 0; c0 < BQ; c0 += L) {
            FloatVector mOld = FloatVector.fromArray(F, m, c0), mx = mOld;
            for (int jj = 0; jj < jw; jj++) {
                FloatVector sv = FloatVector.fromArray(F, st, jj * BQ + c0);
                if (cap > 0) sv = softcap(sv, cap);
                if (masked) sv = sv.blend(Float.NEGATIVE_INFINITY, laneBelow(jj + shift - c0));
                if (windowed) sv = sv.blend(Float.NEGATIVE_INFINITY, laneBelow(jj + windowEdge - c0).not());
                if (masked || windowed || cap > 0) sv.intoArray(st, jj * BQ + c0);
                mx = mx.max(sv);
            }
            // where a row has seen no key yet the max is −∞: subtract 0 there, so exp gives 0 and not exp(NaN)
            FloatVector base = windowed ? mx.blend(0f, mx.eq(Float.NEGATIVE_INFINITY)) : mx;
            FloatVector sum = FloatVector.zero(F);
            for (int jj = 0; jj < jw; jj++) {
                FloatVector p = exp(FloatVector.fromArray(F, st, jj * BQ + c0).sub(base));
                p.intoArray(st, jj * BQ + c0);
                sum = sum.add(p);
            }
            FloatVector a = exp(mOld.sub(base)); // 0 on the first tile (mOld = −∞), 1 while the max holds
            a.intoArray(alpha, c0);
            FloatVector.fromArray(F, l, c0).fma(a, sum).intoArray(l, c0);
            mx.intoArray(m, c0);
        }
    }

    /**
     * c·tanh(s/c), lanewise, through the kernel's own exp so the bits never depend on the JIT:
     * tanh(x) = sign(x)·(1 − e^{−2|x|})/(1 + e^{−2|x|}).
     */
    static FloatVector softcap(FloatVector s, float cap) {
        FloatVector x = s.div(cap);
        FloatVector e = exp(x.abs().mul(-2f));
        FloatVector t = FloatVector.broadcast(F, 1f).sub(e).div(e.add(1f));
        return t.blend(t.neg(), x.lt(0f)).mul(cap);
    }

    /** Lanes whose index is below {@code n} (n may be ≤ 0: none, or ≥ L: all). */
    private static VectorMask<Float> laneBelow(int n) {
        return IOTA.compare(VectorOperators.LT, (float) n);
    }

    private static final FloatVector IOTA = FloatVector.fromArray(F, iota(), 0);

    private static float[] iota() {
        float[] a = new float[L];
        for (int i = 0; i < L; i++) a[i] = i;
        return a;
    }

    /** Plain causal self-attention backward: Tq == Tk == T. */
    public static void backward(float[] dq, float[] dk, float[] dv, float[] dout, float[] q, float[] k, float[] v,
                                float[] out, float[] lse, int B, int H, int Hkv, int T, int D, float scale) {
        backward(dq, dk, dv, dout, q, k, v, out, lse, B, H, Hkv, T, T, D, scale);
    }

    /**
     * dq (B, H, Tq, D), dk and dv (B, Hkv, Tk, D) from dout, q, out (B, H, Tq, D), k, v (B, Hkv, Tk, D) and lse
     * (B, H, Tq); overwrites dq, dk, dv. With P = exp(S − lse) recomputed tile by tile and D_i = Σ_d dout_id·out_id:
     * dv = Pᵀ·dout, dP = dout·vᵀ, dS = P ∘ (dP − D_i), dq = dS·k·scale, dk = dSᵀ·q·scale (dk, dv summed over the
     * query heads of each kv head).
     */
    public static void backward(float[] dq, float[] dk, float[] dv, float[] dout, float[] q, float[] k, float[] v,
                                float[] out, float[] lse, int B, int H, int Hkv, int Tq, int Tk, int D, float scale) {
        checkSizes(B, H, Hkv, Tq, Tk, D);
        long qn = (long) B * H * Tq * D, kn = (long) B * Hkv * Tk * D;
        checkLength("dq", dq.length, qn);
        checkLength("dk", dk.length, kn);
        checkLength("dv", dv.length, kn);
        checkLength("dout", dout.length, qn);
        checkLength("q", q.length, qn);
        checkLength("k", k.length, kn);
        checkLength("v", v.length, kn);
        checkLength("out", out.length, qn);
        checkLength("lse", lse.length, (long) B * H * Tq);
        backward(Rows.dense(dq, H, Tq, D), Rows.dense(dk, Hkv, Tk, D), Rows.dense(dv, Hkv, Tk, D), Rows.dense(dout, H, Tq, D),
                Rows.dense(q, H, Tq, D), Rows.dense(k, Hkv, Tk, D), Rows.dense(v, Hkv, Tk, D), Rows.dense(out, H, Tq, D),
                lse, 0, B, H, Hkv, Tq, Tk, D, Spec.ofScale(scale));
    }

    /** The F32 backward over operands laid out as {@link Rows}; lse (B, H, Tq) is contiguous from {@code lseOff}. */
    private static void backward(Rows dq, Rows dk, Rows dv, Rows dout, Rows q, Rows k, Rows v, Rows out, float[] lse,
                                 int lseOff, int B, int H, int Hkv, int Tq, int Tk, int D, Spec spec) {
        if (B == 0 || Hkv == 0 || Tk == 0 || D == 0) {
            zeroRows(dq, B, H, Tq, D);
            zeroRows(dk, B, Hkv, Tk, D);
            zeroRows(dv, B, Hkv, Tk, D);
            return;
        }
        Parallel.forRange(0, B * Hkv, 1, (lo, hi) -> {
            Tiles s = new Tiles(Tk, D);
            s.allocateBackward(Tk);
            for (int bkv = lo; bkv < hi; bkv++) {
                backwardKvHead(dq, dk, dv, dout, q, k, v, out, lse, lseOff, bkv / Hkv, bkv % Hkv, H, Hkv, Tq, Tk, D, spec, s);
            }
        });
    }

    private static void zeroRows(Rows t, int B, int heads, int T, int D) {
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0, o = t.head(b, h); i < T; i++, o += t.rowStride()) Arrays.fill(t.a(), o, o + D, 0f);
            }
        }
    }

    /**
     * One (b, kv head): every query head of its group, query tiles × key tiles, in a fixed order. Scores and their
     * gradients are kept transposed (keys × queries) as in the forward pass. When D is a multiple of L, q, dout and k
     * are read in place as the column operand of the products; q enters them unscaled and dk takes the scale when written.
     */
    private static void backwardKvHead(Rows dq, Rows dk, Rows dv, Rows dout, Rows q, Rows k, Rows v, Rows out,
                                       float[] lse, int lseOff, int b, int kvh, int H, int Hkv, int Tq, int Tk, int D,
                                       Spec spec, Tiles s) {
        int dp = s.dp, offset = Tk - Tq, group = H / Hkv, window = spec.window();
        float scale = (float) spec.scale(), cap = (float) spec.softcap();
        boolean padded = D != dp;
        float[] qa = q.a(), ga = dout.a(), oa = out.a(), ka = k.a(), va = v.a();
        int qrs = q.rowStride(), grs = dout.rowStride(), ors = out.rowStride();
        int kBase = k.head(b, kvh), krs = k.rowStride(), vBase = v.head(b, kvh), vrs = v.rowStride();
        float[] kRows = ka;
        int kOff = kBase, kld = krs;
        if (padded) {
            padRows(ka, kBase, krs, Tk, D, s.kvPadded, dp);
            kRows = s.kvPadded;
            kOff = 0;
            kld = dp;
        }
        float[] dkAcc = s.dkAcc, dvAcc = s.dvAcc, dqAcc = s.acc;
        float[] qt = s.qT, got = s.gradOutT, pt = s.scoresT, dst = s.dScoresT, lseRow = s.rowMax, di = s.rowSum;
        Arrays.fill(dkAcc, 0f);
        Arrays.fill(dvAcc, 0f);
        for (int h = kvh * group; h < (kvh + 1) * group; h++) {
            int qBase = q.head(b, h), gBase = dout.head(b, h), oBase = out.head(b, h);
            int lseBase = lseOff + (b * H + h) * Tq;
            int dqBase = dq.head(b, h), dqrs = dq.rowStride();
            for (int i0 = 0; i0 < Tq; i0 += BQ) {
                int rows = Math.min(BQ, Tq - i0);
                int qTile = qBase + i0 * qrs, gTile = gBase + i0 * grs;
                loadTransposed(qa, qTile, qrs, rows, D, scale, qt);
                loadTransposed(ga, gTile, grs, rows, D, 1f, got);
                float[] qs = qa, go = ga;
                int qsOff = qTile, qsld = qrs, goOff = gTile, gold = grs;
                if (padded) { // the column operands need rows of dp
                    loadRows(qa, qTile, qrs, rows, D, s.qRows, dp);
                    loadRows(ga, gTile, grs, rows, D, s.gradOutRows, dp);
                    qs = s.qRows;
                    go = s.gradOutRows;
                    qsOff = goOff = 0;
                    qsld = gold = dp;
                }
                Arrays.fill(lseRow, 0f);
                Arrays.fill(di, 0f);
                System.arraycopy(lse, lseBase + i0, lseRow, 0, rows);
                rowDots(ga, gTile, grs, oa, oBase + i0 * ors, ors, rows, D, di, s.lanes);
                Arrays.fill(dqAcc, 0, rows * dp, 0f);
                int firstPos = offset + i0, keyEnd = firstPos + rows;
                for (int j0 = firstKey(firstPos, window); j0 < keyEnd; j0 += BK) {
                    int jw = Math.min(BK, keyEnd - j0);
                    boolean masked = j0 + jw - 1 > firstPos || rows < BQ;
                    int windowEnd = windowEdge(window, j0, firstPos, rows);
                    gemm(ka, kBase + j0 * krs, krs, 1, qt, 0, BQ, pt, 0, BQ, jw, BQ, D, false);   // Sᵀ
                    gemm(va, vBase + j0 * vrs, vrs, 1, got, 0, BQ, dst, 0, BQ, jw, BQ, D, false); // dPᵀ = v·doutᵀ
                    scoreGradients(pt, dst, jw, masked || windowEnd != Integer.MAX_VALUE, j0 - firstPos, windowEnd, cap,
                            rows, lseRow, di);
                    // P and dS are zero outside the mask and in padding lanes, so the products below may run over BQ lanes.
                    gemm(pt, 0, BQ, 1, go, goOff, gold, dvAcc, j0 * dp, dp, jw, dp, rows, true);   // dv += Pᵀ·dout
                    gemm(dst, 0, BQ, 1, qs, qsOff, qsld, dkAcc, j0 * dp, dp, jw, dp, rows, true);  // dk += dSᵀ·q
                    gemm(dst, 0, 1, BQ, kRows, kOff + j0 * kld, kld, dqAcc, 0, dp, rows, dp, jw, true); // dq += dS·k
                }
                float[] dqa = dq.a();
                for (int r = 0; r < rows; r++) {
                    int o = dqBase + (i0 + r) * dqrs;
                    for (int d = 0; d < D; d++) dqa[o + d] = dqAcc[r * dp + d] * scale;
                }
            }
        }
        float[] dka = dk.a(), dva = dv.a();
        int dkBase = dk.head(b, kvh), dvBase = dv.head(b, kvh), dkrs = dk.rowStride(), dvrs = dv.rowStride();
        for (int j = 0; j < Tk; j++) {
            int ok = dkBase + j * dkrs;
            for (int d = 0; d < D; d++) dka[ok + d] = dkAcc[j * dp + d] * scale;
            System.arraycopy(dvAcc, j * dp, dva, dvBase + j * dvrs, D);
        }
    }

    /**
     * One key tile of the backward, lanewise over query rows: Pᵀ = exp(Sᵀ − lse) overwrites Sᵀ in {@code pt} and
     * dSᵀ = P ∘ (dPᵀ − D_i) overwrites dPᵀ in {@code dst}; both are zero for masked keys (after the query, or before
     * its window: r ≥ jj + windowEdge) and padding lanes. With a soft-cap, P is of the capped scores and dS is carried
     * back through the cap: dS_raw = dS · (1 − (S_capped/c)²).
     */
    private static void scoreGradients(float[] pt, float[] dst, int jw, boolean masked, int shift, int windowEdge, float cap,
                                       int rows, float[] lseRow, float[] di) {
        boolean windowed = windowEdge != Integer.MAX_VALUE;
        for (int c0 = 0; c0 < BQ; c0 += L) {
            FloatVector lv = FloatVector.fromArray(F, lseRow, c0), dv0 = FloatVector.fromArray(F, di, c0);
            VectorMask<Float> padding = laneBelow(rows - c0).not();
            for (int jj = 0; jj < jw; jj++) {
                int t = jj * BQ + c0;
                FloatVector sv = FloatVector.fromArray(F, pt, t), capped = cap > 0 ? softcap(sv, cap) : sv;
                FloatVector p = exp(capped.sub(lv));
                if (masked) {
                    VectorMask<Float> off = laneBelow(jj + shift - c0).or(padding);
                    if (windowed) off = off.or(laneBelow(jj + windowEdge - c0).not());
                    p = p.blend(0f, off);
                }
                p.intoArray(pt, t);
                FloatVector ds = p.mul(FloatVector.fromArray(F, dst, t).sub(dv0));
                if (cap > 0) {
                    FloatVector y = capped.div(cap);
                    ds = ds.mul(FloatVector.broadcast(F, 1f).sub(y.mul(y)));
                }
                ds.intoArray(dst, t);
            }
        }
    }

    /**
     * dots[r] = Σ_d a[aOff + r·ars + d]·b[bOff + r·brs + d] for r &lt; rows: D_i of the backward, L lanes at a time
     * and the last D % L scalar. The lanes are summed in index order through {@code lanes} (L floats), not by
     * reduceLanes, whose order may differ between the interpreter and C2: the bits must not depend on the JIT.
     */
    private static void rowDots(float[] a, int aOff, int ars, float[] b, int bOff, int brs, int rows, int D, float[] dots,
                                float[] lanes) {
        int dv = D - D % L;
        for (int r = 0; r < rows; r++) {
            int ao = aOff + r * ars, bo = bOff + r * brs;
            FloatVector acc = FloatVector.zero(F);
            for (int d = 0; d < dv; d += L) {
                acc = FloatVector.fromArray(F, a, ao + d).fma(FloatVector.fromArray(F, b, bo + d), acc);
            }
            acc.intoArray(lanes, 0);
            float sum = 0f;
            for (int l = 0; l < L; l++) sum += lanes[l];
            for (int d = dv; d < D; d++) sum += a[ao + d] * b[bo + d];
            dots[r] = sum;
        }
    }

    /** Per-task scratch, sized for one head: nothing here grows with Tq·Tk. */
    private static final class Tiles {
        final int dp;
        final float[] kvPadded, qT, scoresT, acc, rowMax, rowSum, alpha, lanes = new float[L];
        float[] gradOutT, dScoresT, qRows, gradOutRows, dkAcc, dvAcc;

        Tiles(int Tk, int D) {
            dp = roundUp(D, L);
            kvPadded = D == dp ? null : new float[Tk * dp];
            qT = new float[D * BQ];
            scoresT = new float[BK * BQ];
            acc = new float[BQ * dp];
            rowMax = new float[BQ];
            rowSum = new float[BQ];
            alpha = new float[BQ];
        }

        void allocateBackward(int Tk) {
            gradOutT = new float[qT.length];
            dScoresT = new float[BK * BQ];
            if (kvPadded != null) {
                qRows = new float[BQ * dp];
                gradOutRows = new float[BQ * dp];
            }
            dkAcc = new float[Tk * dp];
            dvAcc = new float[Tk * dp];
        }
    }

    /** Rows of the gemm register block. */
    static final int MR = 8;

    /**
     * c[m×n] (+)= a[m×kDim]·b[kDim×n]: element (r, p) of a at aOff + r·ars + p·acs (ars = lda, acs = 1 reads a as
     * stored; ars = 1, acs = lda reads its transpose, so Pᵀ·dout needs no transposed copy), b and c row-major with
     * leading dims ldb, ldc; n a multiple of L. An 8-row × 2-vector register block (16 accumulators, as
     * {@link GemmKernel}): per step of the reduction, 8 broadcasts of a and 2 loads of b feed 16 FMAs; an 8 × 1-vector
     * block takes an odd last vector, single rows the last m % 8. Each block is its own small method, so C2 compiles
     * it whole with every vector in a register (one big method ran out of inlining budget and boxed its vectors).
     */
    private static void gemm(float[] a, int aOff, int ars, int acs, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc,
                             int m, int n, int kDim, boolean accumulate) {
        int n2 = n - n % (2 * L), m8 = m - m % MR;
        for (int j = 0; j < n2; j += 2 * L) { // column blocks outside: one kDim × 2L panel of b stays in L1
            for (int i = 0; i < m8; i += MR) {
                block8x2(a, aOff + i * ars, ars, acs, b, bOff + j, ldb, c, cOff + i * ldc + j, ldc, kDim, accumulate);
            }
        }
        if (n2 < n) {
            for (int i = 0; i < m8; i += MR) {
                block8x1(a, aOff + i * ars, ars, acs, b, bOff + n2, ldb, c, cOff + i * ldc + n2, ldc, kDim, accumulate);
            }
        }
        for (int i = m8; i < m; i++) { // the last m % 8 rows, one vector at a time
            for (int j = 0; j < n; j += L) row1(a, aOff + i * ars, acs, b, bOff + j, ldb, c, cOff + i * ldc + j, kDim, accumulate);
        }
    }

    /** c[8 × 2L] at c0 (+)= a[8 × kDim] at a0 · b[kDim × 2L] at b0. */
    private static void block8x2(float[] a, int a0, int ars, int acs, float[] b, int b0, int ldb, float[] c, int c0, int ldc,
                                 int kDim, boolean accumulate) {
        FloatVector x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51, x60, x61, x70, x71;
        if (accumulate) {
            x00 = FloatVector.fromArray(F, c, c0); x01 = FloatVector.fromArray(F, c, c0 + L);
            x10 = FloatVector.fromArray(F, c, c0 + ldc); x11 = FloatVector.fromArray(F, c, c0 + ldc + L);
            x20 = FloatVector.fromArray(F, c, c0 + 2 * ldc); x21 = FloatVector.fromArray(F, c, c0 + 2 * ldc + L);
            x30 = FloatVector.fromArray(F, c, c0 + 3 * ldc); x31 = FloatVector.fromArray(F, c, c0 + 3 * ldc + L);
            x40 = FloatVector.fromArray(F, c, c0 + 4 * ldc); x41 = FloatVector.fromArray(F, c, c0 + 4 * ldc + L);
            x50 = FloatVector.fromArray(F, c, c0 + 5 * ldc); x51 = FloatVector.fromArray(F, c, c0 + 5 * ldc + L);
            x60 = FloatVector.fromArray(F, c, c0 + 6 * ldc); x61 = FloatVector.fromArray(F, c, c0 + 6 * ldc + L);
            x70 = FloatVector.fromArray(F, c, c0 + 7 * ldc); x71 = FloatVector.fromArray(F, c, c0 + 7 * ldc + L);
        } else {
            x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = x40 = x41 = x50 = x51 = x60 = x61 = x70 = x71 = FloatVector.zero(F);
        }
        for (int p = 0, ap = a0, bp = b0; p < kDim; p++, ap += acs, bp += ldb) {
            FloatVector b0v = FloatVector.fromArray(F, b, bp), b1v = FloatVector.fromArray(F, b, bp + L), s;
            s = FloatVector.broadcast(F, a[ap]); x00 = s.fma(b0v, x00); x01 = s.fma(b1v, x01);
            s = FloatVector.broadcast(F, a[ap + ars]); x10 = s.fma(b0v, x10); x11 = s.fma(b1v, x11);
            s = FloatVector.broadcast(F, a[ap + 2 * ars]); x20 = s.fma(b0v, x20); x21 = s.fma(b1v, x21);
            s = FloatVector.broadcast(F, a[ap + 3 * ars]); x30 = s.fma(b0v, x30); x31 = s.fma(b1v, x31);
            s = FloatVector.broadcast(F, a[ap + 4 * ars]); x40 = s.fma(b0v, x40); x41 = s.fma(b1v, x41);
            s = FloatVector.broadcast(F, a[ap + 5 * ars]); x50 = s.fma(b0v, x50); x51 = s.fma(b1v, x51);
            s = FloatVector.broadcast(F, a[ap + 6 * ars]); x60 = s.fma(b0v, x60); x61 = s.fma(b1v, x61);
            s = FloatVector.broadcast(F, a[ap + 7 * ars]); x70 = s.fma(b0v, x70); x71 = s.fma(b1v, x71);
        }
        x00.intoArray(c, c0); x01.intoArray(c, c0 + L);
        x10.intoArray(c, c0 + ldc); x11.intoArray(c, c0 + ldc + L);
        x20.intoArray(c, c0 + 2 * ldc); x21.intoArray(c, c0 + 2 * ldc + L);
        x30.intoArray(c, c0 + 3 * ldc); x31.intoArray(c, c0 + 3 * ldc + L);
        x40.intoArray(c, c0 + 4 * ldc); x41.intoArray(c, c0 + 4 * ldc + L);
        x50.intoArray(c, c0 + 5 * ldc); x51.intoArray(c, c0 + 5 * ldc + L);
        x60.intoArray(c, c0 + 6 * ldc); x61.intoArray(c, c0 + 6 * ldc + L);
        x70.intoArray(c, c0 + 7 * ldc); x71.intoArray(c, c0 + 7 * ldc + L);
    }

    /** c[8 × L] at c0 (+)= a[8 × kDim] at a0 · b[kDim × L] at b0. */
    private static void block8x1(float[] a, int a0, int ars, int acs, float[] b, int b0, int ldb, float[] c, int c0, int ldc,
                                 int kDim, boolean accumulate) {
        FloatVector x0, x1, x2, x3, x4, x5, x6, x7;
        if (accumulate) {
            x0 = FloatVector.fromArray(F, c, c0);
            x1 = FloatVector.fromArray(F, c, c0 + ldc);
            x2 = FloatVector.fromArray(F, c, c0 + 2 * ldc);
            x3 = FloatVector.fromArray(F, c, c0 + 3 * ldc);
            x4 = FloatVector.fromArray(F, c, c0 + 4 * ldc);
            x5 = FloatVector.fromArray(F, c, c0 + 5 * ldc);
            x6 = FloatVector.fromArray(F, c, c0 + 6 * ldc);
            x7 = FloatVector.fromArray(F, c, c0 + 7 * ldc);
        } else {
            x0 = x1 = x2 = x3 = x4 = x5 = x6 = x7 = FloatVector.zero(F);
        }
        for (int p = 0, ap = a0, bp = b0; p < kDim; p++, ap += acs, bp += ldb) {
            FloatVector bv = FloatVector.fromArray(F, b, bp);
            x0 = FloatVector.broadcast(F, a[ap]).fma(bv, x0);
            x1 = FloatVector.broadcast(F, a[ap + ars]).fma(bv, x1);
            x2 = FloatVector.broadcast(F, a[ap + 2 * ars]).fma(bv, x2);
            x3 = FloatVector.broadcast(F, a[ap + 3 * ars]).fma(bv, x3);
            x4 = FloatVector.broadcast(F, a[ap + 4 * ars]).fma(bv, x4);
            x5 = FloatVector.broadcast(F, a[ap + 5 * ars]).fma(bv, x5);
            x6 = FloatVector.broadcast(F, a[ap + 6 * ars]).fma(bv, x6);
            x7 = FloatVector.broadcast(F, a[ap + 7 * ars]).fma(bv, x7);
        }
        x0.intoArray(c, c0);
        x1.intoArray(c, c0 + ldc);
        x2.intoArray(c, c0 + 2 * ldc);
        x3.intoArray(c, c0 + 3 * ldc);
        x4.intoArray(c, c0 + 4 * ldc);
        x5.intoArray(c, c0 + 5 * ldc);
        x6.intoArray(c, c0 + 6 * ldc);
        x7.intoArray(c, c0 + 7 * ldc);
    }

    /** c[1 × L] at c0 (+)= a[1 × kDim] at a0 · b[kDim × L] at b0. */
    private static void row1(float[] a, int a0, int acs, float[] b, int b0, int ldb, float[] c, int c0, int kDim,
                             boolean accumulate) {
        FloatVector x = accumulate ? FloatVector.fromArray(F, c, c0) : FloatVector.zero(F);
        for (int p = 0, ap = a0, bp = b0; p < kDim; p++, ap += acs, bp += ldb) {
            x = FloatVector.broadcast(F, a[ap]).fma(FloatVector.fromArray(F, b, bp), x);
        }
        x.intoArray(c, c0);
    }

    /** dst[j·dp + d] = src[off + j·rs + d]: T rows of D padded to dp columns (the padding stays zero). */
    private static void padRows(float[] src, int off, int rs, int T, int D, float[] dst, int dp) {
        for (int j = 0; j < T; j++) System.arraycopy(src, off + j * rs, dst, j * dp, D);
    }

    /** {@code rows} rows of D (row stride rs) into dst with row stride dp. */
    private static void loadRows(float[] src, int off, int rs, int rows, int D, float[] dst, int dp) {
        for (int r = 0; r < rows; r++) System.arraycopy(src, off + r * rs, dst, r * dp, D);
    }

    /** dst[d·BQ + r] = src[off + r·rs + d]·scale: a query tile transposed to D × BQ, lanes r ≥ rows zero. */
    private static void loadTransposed(float[] src, int off, int rs, int rows, int D, float scale, float[] dst) {
        if (rows < BQ) Arrays.fill(dst, 0, D * BQ, 0f);
        for (int r = 0; r < rows; r++) {
            int o = off + r * rs;
            for (int d = 0; d < D; d++) dst[d * BQ + r] = src[o + d] * scale;
        }
    }

    private static void scaleRow(float[] a, int off, int n, float s) {
        FloatVector sv = FloatVector.broadcast(F, s);
        for (int c = 0; c < n; c += L) FloatVector.fromArray(F, a, off + c).mul(sv).intoArray(a, off + c);
    }

    private static final float EXP_HI = 88f, EXP_LO = -87f, LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f, ROUND = 0x1.8p23f;

    /**
     * e^x per lane, Cephes expf (about 1 ulp): x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial, 2^n
     * through the exponent bits. Lanes below −87 (and −∞) give exactly 0. Built from add, mul and fma only, so the
     * interpreter, C1 and C2 give the same bits — the JDK's lanewise(EXP) does not (SVML when compiled, Math.exp not).
     */
    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.min(EXP_HI).max(EXP_LO);
        FloatVector z = xc.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, ROUND)); // n + 1.5·2²³, rounded
        FloatVector n = z.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(F, 1.9875691500e-4f);
        p = p.fma(r, FloatVector.broadcast(F, 1.3981999507e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(F, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(F, 5.0000001201e-1f));
        p = p.fma(r.mul(r), r).add(1f);
        // the low bits of z hold n; (n + 127) << 23 are the bits of 2^n
        FloatVector pow2n = z.viewAsIntegralLanes().sub(0x4B400000 - 127).lanewise(VectorOperators.LSHL, 23)
                .viewAsFloatingLanes().reinterpretAsFloats();
        return p.mul(pow2n).blend(0f, x.lt(EXP_LO));
    }

    private static int roundUp(int x, int m) { return (x + m - 1) / m * m; }

    /** The forward kernels' size and array-length checks (F32 and F64 alike). */
    private static void checkForward(long out, long lse, long q, long k, long v, int B, int H, int Hkv, int Tq, int Tk, int D) {
        checkSizes(B, H, Hkv, Tq, Tk, D);
        checkLength("out", out, (long) B * H * Tq * D);
        checkLength("lse", lse, (long) B * H * Tq);
        checkLength("q", q, (long) B * H * Tq * D);
        checkLength("k", k, (long) B * Hkv * Tk * D);
        checkLength("v", v, (long) B * Hkv * Tk * D);
    }

    // ================================================================ F64 reference kernels (plain loops)

    /** Plain causal self-attention in float64: Tq == Tk == T. */
    public static void forward(double[] out, double[] lse, double[] q, double[] k, double[] v,
                               int B, int H, int Hkv, int T, int D, double scale) {
        forward(out, lse, q, k, v, B, H, Hkv, T, T, D, scale);
    }

    /** Float64 plain-loop forward, one score row at a time; same shapes and contract as the F32 kernel. */
    public static void forward(double[] out, double[] lse, double[] q, double[] k, double[] v,
                               int B, int H, int Hkv, int Tq, int Tk, int D, double scale) {
        forward(out, lse, q, k, v, B, H, Hkv, Tq, Tk, D, Spec.ofScale(scale));
    }

    /** Float64 plain-loop forward with a soft-cap and window as {@code spec} says. */
    public static void forward(double[] out, double[] lse, double[] q, double[] k, double[] v,
                               int B, int H, int Hkv, int Tq, int Tk, int D, Spec spec) {
        checkForward(out.length, lse.length, q.length, k.length, v.length, B, H, Hkv, Tq, Tk, D);
        double scale = spec.scale(), cap = spec.softcap();
        int window = spec.window();
        if (B == 0 || H == 0 || Tq == 0) return;
        int group = H / Hkv, offset = Tk - Tq;
        Parallel.forRange(0, B * H, 1, (lo, hi) -> {
            double[] s = new double[Tk];
            for (int bh = lo; bh < hi; bh++) {
                int b = bh / H, h = bh % H, kvBase = (b * Hkv + h / group) * Tk * D;
                for (int i = 0; i < Tq; i++) {
                    int qi = (bh * Tq + i) * D, last = offset + i, first = firstKey(last, window);
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = first; j <= last; j++) {
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += q[qi + d] * k[kvBase + j * D + d];
                        s[j] = cap > 0 ? cap * Math.tanh(dot * scale / cap) : dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = first; j <= last; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int d = 0; d < D; d++) out[qi + d] = 0;
                    for (int j = first; j <= last; j++) {
                        double pj = s[j] / sum;
                        for (int d = 0; d < D; d++) out[qi + d] += pj * v[kvBase + j * D + d];
                    }
                    lse[bh * Tq + i] = max + Math.log(sum);
                }
            }
        });
    }

    /** Plain causal self-attention backward in float64: Tq == Tk == T. */
    public static void backward(double[] dq, double[] dk, double[] dv, double[] dout, double[] q, double[] k,
                                double[] v, double[] out, double[] lse, int B, int H, int Hkv, int T, int D, double scale) {
        backward(dq, dk, dv, dout, q, k, v, out, lse, B, H, Hkv, T, T, D, scale);
    }

    /** Float64 plain-loop backward; same shapes and contract as the F32 kernel (overwrites dq, dk, dv). */
    public static void backward(double[] dq, double[] dk, double[] dv, double[] dout, double[] q, double[] k,
                                double[] v, double[] out, double[] lse, int B, int H, int Hkv, int Tq, int Tk, int D,
                                double scale) {
        backward(dq, dk, dv, dout, q, k, v, out, lse, B, H, Hkv, Tq, Tk, D, Spec.ofScale(scale));
    }

    /** Float64 plain-loop backward with a soft-cap and window as {@code spec} says. */
    public static void backward(double[] dq, double[] dk, double[] dv, double[] dout, double[] q, double[] k,
                                double[] v, double[] out, double[] lse, int B, int H, int Hkv, int Tq, int Tk, int D,
                                Spec spec) {
        double scale = spec.scale(), cap = spec.softcap();
        int window = spec.window();
        checkSizes(B, H, Hkv, Tq, Tk, D);
        long qn = (long) B * H * Tq * D, kn = (long) B * Hkv * Tk * D;
        checkLength("dq", dq.length, qn);
        checkLength("dk", dk.length, kn);
        checkLength("dv", dv.length, kn);
        checkLength("dout", dout.length, qn);
        checkLength("q", q.length, qn);
        checkLength("k", k.length, kn);
        checkLength("v", v.length, kn);
        checkLength("out", out.length, qn);
        checkLength("lse", lse.length, (long) B * H * Tq);
        Arrays.fill(dq, 0, (int) qn, 0);
        Arrays.fill(dk, 0, (int) kn, 0);
        Arrays.fill(dv, 0, (int) kn, 0);
        if (B == 0 || Hkv == 0 || Tq == 0) return;
        int group = H / Hkv, offset = Tk - Tq;
        Parallel.forRange(0, B * Hkv, 1, (lo, hi) -> {
            for (int bkv = lo; bkv < hi; bkv++) {
                int b = bkv / Hkv, kvh = bkv % Hkv, kvBase = bkv * Tk * D;
                for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                    int bh = b * H + h;
                    for (int i = 0; i < Tq; i++) {
                        int qi = (bh * Tq + i) * D;
                        double di = 0;
                        for (int d = 0; d < D; d++) di += dout[qi + d] * out[qi + d];
                        double l = lse[bh * Tq + i];
                        for (int j = firstKey(offset + i, window); j <= offset + i; j++) {
                            int kj = kvBase + j * D;
                            double dot = 0, dpj = 0;
                            for (int d = 0; d < D; d++) {
                                dot += q[qi + d] * k[kj + d];
                                dpj += dout[qi + d] * v[kj + d];
                            }
                            double sc = cap > 0 ? cap * Math.tanh(dot * scale / cap) : dot * scale;
                            double pj = Math.exp(sc - l), ds = pj * (dpj - di) * scale;
                            if (cap > 0) ds *= 1 - (sc / cap) * (sc / cap);
                            for (int d = 0; d < D; d++) {
                                dv[kj + d] += pj * dout[qi + d];
                                dq[qi + d] += ds * k[kj + d];
                                dk[kj + d] += ds * q[qi + d];
                            }
                        }
                    }
                }
            }
        });
    }

    // ================================================================ checks

    private static void checkSizes(int B, int H, int Hkv, int Tq, int Tk, int D) {
        if (B < 0 || H < 0 || Hkv < 0 || Tq < 0 || Tk < 0 || D < 0) {
            throw new IllegalArgumentException("attention: negative size in B=" + B + " H=" + H + " Hkv=" + Hkv
                    + " Tq=" + Tq + " Tk=" + Tk + " D=" + D);
        }
        if (Hkv == 0 ? H != 0 : H % Hkv != 0) {
            throw new IllegalArgumentException("attention: " + H + " query heads are not a multiple of " + Hkv + " kv heads");
        }
        if (Tq > Tk) throw new IllegalArgumentException("attention: expected Tq ≤ Tk, got Tq=" + Tq + " Tk=" + Tk);
    }

    private static void checkLength(String name, long length, long needed) {
        if (length < needed) {
            throw new IllegalArgumentException("attention: " + name + " has " + length + " elements, expected at least " + needed);
        }
    }
}
