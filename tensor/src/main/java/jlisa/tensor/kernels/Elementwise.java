package jlisa.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.HeapStorage;
import jlisa.tensor.Parallel;
import jlisa.tensor.Runs;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * Elementwise maps: {@code out = f(x)} and {@code out = f(a, b)} with NumPy broadcasting, on any
 * layout. The strided walk is {@link Runs}; along each run the F32 loop is vectorised when the
 * operands are contiguous or broadcast scalars along it, and scalar otherwise; long runs are split
 * across the {@link Parallel} pool (every element is computed alone, so any split gives the same
 * bits). F64 runs plain loops.
 * Mixed dtypes compute in {@link DType#promote}.
 *
 * <p>Stateless; safe to call from any thread on outputs no other thread touches.
 */
public final class Elementwise {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Elements below which a run is not worth splitting across threads (memory-bound work). */
    private static final int GRAIN = 1 << 15;

    private Elementwise() {}

    /** One-argument maps. */
    public enum Unary {
        NEG, EXP, LOG, SQRT, RSQRT, ABS, TANH, SIGMOID, RELU, SQUARE, RECIPROCAL,
        /** −1, 0 or 1 (NaN stays NaN): the derivative of abs. */
        SIGN,
        /** 1 where x &gt; 0, else 0: the derivative of relu. */
        STEP;

        /** The map in float64, also the scalar definition the vector path must agree with. */
        public double apply(double x) {
            return switch (this) {
                case NEG -> -x;
                case EXP -> Math.exp(x);
                case LOG -> Math.log(x);
                case SQRT -> Math.sqrt(x);
                case RSQRT -> 1.0 / Math.sqrt(x);
                case ABS -> Math.abs(x);
                case TANH -> Math.tanh(x);
                case SIGMOID -> x >= 0 ? 1.0 / (1.0 + Math.exp(-x)) : Math.exp(x) / (1.0 + Math.exp(x));
                case RELU -> x > 0 ? x : (Double.isNaN(x) ? x : 0.0);
                case SQUARE -> x * x;
                case RECIPROCAL -> 1.0 / x;
                case SIGN -> Double.isNaN(x) ? x : Math.signum(x) + 0.0;
                case STEP -> x > 0 ? 1.0 : 0.0;
            };
        }
    }

    /** Two-argument maps. MAX and MIN propagate NaN, as PyTorch's maximum/minimum. */
    public enum Binary {
        ADD, SUB, MUL, DIV, MAX, MIN, POW;

        public double apply(double a, double b) {
            return switch (this) {
                case ADD -> a + b;
                case SUB -> a - b;
                case MUL -> a * b;
                case DIV -> a / b;
                case MAX -> Math.max(a, b);
                case MIN -> Math.min(a, b);
                case POW -> Math.pow(a, b);
            };
        }

        float apply(float a, float b) {
            return switch (this) {
                case ADD -> a + b;
                case SUB -> a - b;
                case MUL -> a * b;
                case DIV -> a / b;
                case MAX -> Math.max(a, b);
                case MIN -> Math.min(a, b);
                case POW -> (float) Math.pow(a, b);
            };
        }
    }

    // ---------------------------------------------------------------- tensor level

    /** {@code op(x)} elementwise; the result is a new contiguous tensor (BF16 and I32 compute in F32). */
    public static Tensor unary(Unary op, Tensor x) {
        if (DeviceKernels.of(x) instanceof DeviceKernels device) return device.unary(op, x);
        DType dtype = x.dtype() == DType.F64 ? DType.F64 : DType.F32;
        Tensor in = readable(x, dtype);
        Tensor out = Tensor.empty(dtype, x.shape());
        int[] shape = x.shape();
        Runs.forEach(shape, new int[][] {out.strides(), in.strides()}, new int[] {out.offset(), in.offset()}, (o, n, s) ->
            Parallel.forRange(0, n, GRAIN, (lo, hi) -> {
                if (dtype == DType.F32) {
                    unaryRun(op, in.floatArray(), o[1] + lo * s[1], s[1], out.floatArray(), o[0] + lo, hi - lo);
                } else {
                    double[] a = in.doubleArray(), r = out.doubleArray();
                    for (int i = lo, p = o[1] + lo * s[1]; i < hi; i++, p += s[1]) r[o[0] + i] = op.apply(a[p]);
                }
            }));
        return out;
    }

    /** {@code op(a, b)} elementwise with broadcasting; the result has the broadcast shape. */
    public static Tensor binary(Binary op, Tensor a, Tensor b) {
        int[] shape = Shapes.broadcast(a.shape(), b.shape(), op.name().toLowerCase());
        Tensor place = a.isOnDevice() ? a : b;   // the result goes where the operands are
        Tensor out = Tensor.emptyOn(place, DType.promote(a.dtype(), b.dtype()), shape);
        return binaryInto(op, a, b, out);
    }

    /**
     * {@code out = op(a, b)} into an existing dense F32 or F64 heap tensor whose shape is the broadcast
     * shape; {@code out} may be {@code a} or {@code b} itself (in-place updates: optimizers, gradient
     * accumulation), since every element is read before it is written at the same position.
     */
    public static Tensor binaryInto(Binary op, Tensor a, Tensor b, Tensor out) {
        int[] shape = Shapes.broadcast(a.shape(), b.shape(), op.name().toLowerCase());
        if (!java.util.Arrays.equals(shape, out.shape())) {
            throw new IllegalArgumentException(op.name().toLowerCase() + ": result of " + Shapes.str(a.shape()) + " and "
                    + Shapes.str(b.shape()) + " has shape " + Shapes.str(shape) + " but the destination is "
                    + Shapes.str(out.shape()));
        }
        if (DeviceKernels.of(out, a, b) instanceof DeviceKernels device) {
            if (!out.isOnDevice() || !out.isContiguous()) {
                throw new IllegalArgumentException(op.name().toLowerCase() + ": operands in device memory need a contiguous "
                        + "destination there, got " + out.describe());
            }
            out.storage().bumpVersion();
            return device.binaryInto(op, a, b, out);
        }
        if (!out.isDense() || (out.dtype() != DType.F32 && out.dtype() != DType.F64) || out.storage().isReadOnly()) {
            throw new IllegalArgumentException(op.name().toLowerCase() + ": destination must be a dense writable F32 or F64 "
                    + "heap tensor, got " + out.describe());
        }
        DType dtype = out.dtype();
        Tensor x = readable(a, dtype), y = readable(b, dtype);
        out.storage().bumpVersion();
        int[] sx = Shapes.broadcastStrides(x.shape(), x.strides(), shape);
        int[] sy = Shapes.broadcastStrides(y.shape(), y.strides(), shape);
        Runs.forEach(shape, new int[][] {out.strides(), sx, sy}, new int[] {out.offset(), x.offset(), y.offset()}, (o, n, s) ->
            Parallel.forRange(0, n, GRAIN, (lo, hi) -> {
                int ox = o[1] + lo * s[1], oy = o[2] + lo * s[2];
                if (dtype == DType.F32) {
                    binaryRun(op, x.floatArray(), ox, s[1], y.floatArray(), oy, s[2], out.floatArray(), o[0] + lo, hi - lo);
                } else {
                    double[] p = x.doubleArray(), q = y.doubleArray(), r = out.doubleArray();
                    for (int i = lo, i1 = ox, i2 = oy; i < hi; i++, i1 += s[1], i2 += s[2]) r[o[0] + i] = op.apply(p[i1], q[i2]);
                }
            }));
        return out;
    }

    /** {@code op(a, scalar)} elementwise. */
    public static Tensor scalar(Binary op, Tensor a, double scalar) {
        DType dtype = a.dtype() == DType.F64 ? DType.F64 : DType.F32;
        Tensor s = Tensor.full(scalar, dtype);
        return binary(op, a, s);
    }

    /** A view of {@code t} whose storage is a heap array of {@code dtype} (a converted copy when needed). */
    private static Tensor readable(Tensor t, DType dtype) {
        if (t.storage() instanceof HeapStorage && t.dtype() == dtype) return t;
        return Tensor.empty(dtype, t.shape()).copyFrom(t);
    }

    // ---------------------------------------------------------------- raw F32 kernels

    /**
     * {@code out[outOff + i] = op(x[xOff + i*xStride])} for i in [0, n); vectorised when xStride is 1.
     * Lanes and the scalar tail compute the same bits (exp is {@link Softmax#exp}, not SVML), so where
     * a vector loop ends, and so the thread count, never changes a result. LOG has no such vector
     * form here and runs the scalar {@code Math.log}, which is the same in every JIT tier.
     */
    public static void unaryRun(Unary op, float[] x, int xOff, int xStride, float[] out, int outOff, int n) {
        int i = 0;
        if (xStride == 1 && op != Unary.LOG) {
            for (int bound = S.loopBound(n); i < bound; i += S.length()) {
                apply(op, FloatVector.fromArray(S, x, xOff + i)).intoArray(out, outOff + i);
            }
        }
        for (int p = xOff + i * xStride; i < n; i++, p += xStride) out[outOff + i] = apply(op, x[p]);
    }

    /**
     * {@code out[outOff + i] = op(a[aOff + i*aStride], b[bOff + i*bStride])} for i in [0, n);
     * vectorised when each input stride is 1 or 0 (a broadcast scalar).
     */
    public static void binaryRun(Binary op, float[] a, int aOff, int aStride, float[] b, int bOff, int bStride,
                                 float[] out, int outOff, int n) {
        int i = 0;
        boolean vectors = op != Binary.POW   // POW: scalar Math.pow, the same in every JIT tier
                && (aStride == 1 || aStride == 0) && (bStride == 1 || bStride == 0) && (aStride | bStride) != 0;
        if (vectors && n > 0) {
            i = binaryVectors(op, a, aOff, aStride == 0, b, bOff, bStride == 0, out, outOff, S.loopBound(n));
        }
        for (int p = aOff + i * aStride, q = bOff + i * bStride; i < n; i++, p += aStride, q += bStride) {
            out[outOff + i] = op.apply(a[p], b[q]);
        }
    }

    /**
     * The whole vectors of {@link #binaryRun}, an operand with stride 0 broadcast; returns how many elements it did.
     * One loop per op, each a straight line: with the op switched inside the loop (or a vector passed to a helper),
     * C2 gave up inlining and boxed every vector.
     */
    private static int binaryVectors(Binary op, float[] a, int aOff, boolean aScalar, float[] b, int bOff,
                                     boolean bScalar, float[] out, int outOff, int bound) {
        FloatVector ca = FloatVector.broadcast(S, a[aOff]), cb = FloatVector.broadcast(S, b[bOff]);
        int L = S.length();
        switch (op) {
            case ADD -> {
                for (int i = 0; i < bound; i += L) {
                    FloatVector x = aScalar ? ca : FloatVector.fromArray(S, a, aOff + i);
                    FloatVector y = bScalar ? cb : FloatVector.fromArray(S, b, bOff + i);
                    x.add(y).intoArray(out, outOff + i);
                }
            }
            case SUB -> {
                for (int i = 0; i < bound; i += L) {
                    FloatVector x = aScalar ? ca : FloatVector.fromArray(S, a, aOff + i);
                    FloatVector y = bScalar ? cb : FloatVector.fromArray(S, b, bOff + i);
                    x.sub(y).intoArray(out, outOff + i);
                }
            }
            case MUL -> {
                for (int i = 0; i < bound; i += L) {
                    FloatVector x = aScalar ? ca : FloatVector.fromArray(S, a, aOff + i);
                    FloatVector y = bScalar ? cb : FloatVector.fromArray(S, b, bOff + i);
                    x.mul(y).intoArray(out, outOff + i);
                }
            }
            case DIV -> {
                for (int i = 0; i < bound; i += L) {
                    FloatVector x = aScalar ? ca : FloatVector.fromArray(S, a, aOff + i);
                    FloatVector y = bScalar ? cb : FloatVector.fromArray(S, b, bOff + i);
                    x.div(y).intoArray(out, outOff + i);
                }
            }
            case MAX -> {
                for (int i = 0; i < bound; i += L) {
                    FloatVector x = aScalar ? ca : FloatVector.fromArray(S, a, aOff + i);
                    FloatVector y = bScalar ? cb : FloatVector.fromArray(S, b, bOff + i);
                    x.max(y).intoArray(out, outOff + i);
                }
            }
            case MIN -> {
                for (int i = 0; i < bound; i += L) {
                    FloatVector x = aScalar ? ca : FloatVector.fromArray(S, a, aOff + i);
                    FloatVector y = bScalar ? cb : FloatVector.fromArray(S, b, bOff + i);
                    x.min(y).intoArray(out, outOff + i);
                }
            }
            case POW -> { return 0; }
        }
        return bound;
    }

    // Small enough to inline into the unary loop above, so vectors are never boxed. Each case computes
    // what the float version below computes, bit for bit.
    private static FloatVector apply(Unary op, FloatVector x) {
        return switch (op) {
            case NEG -> x.neg();
            case EXP -> Softmax.exp(x);
            case LOG -> throw new AssertionError("LOG runs the scalar loop");
            case SQRT -> x.sqrt();
            case RSQRT -> x.broadcast(1f).div(x.sqrt());
            case ABS -> x.abs();
            case TANH -> {      // tanh|x| = (1 - e)/(1 + e) with e = exp(-2|x|), which never overflows
                FloatVector e = Softmax.exp(x.abs().mul(-2f));
                FloatVector t = x.broadcast(1f).sub(e).div(e.add(1f));
                yield t.blend(t.neg(), x.lt(0f)).blend(x, x.test(VectorOperators.IS_NAN));
            }
            case SIGMOID -> {   // e = exp(-|x|) never overflows: σ(x) = 1/(1+e) for x ≥ 0, e/(1+e) below
                FloatVector e = Softmax.exp(x.abs().neg());
                FloatVector r = x.broadcast(1f).div(e.add(1f));
                yield r.blend(e.mul(r), x.lt(0f));
            }
            case RELU -> x.max(0f).blend(x, x.test(VectorOperators.IS_NAN));
            case SQUARE -> x.mul(x);
            case RECIPROCAL -> x.broadcast(1f).div(x);
            case SIGN -> x.broadcast(0f).blend(1f, x.compare(VectorOperators.GT, 0f)).blend(-1f, x.lt(0f))
                    .blend(x, x.test(VectorOperators.IS_NAN));
            case STEP -> x.broadcast(0f).blend(1f, x.compare(VectorOperators.GT, 0f));
        };
    }

    private static float apply(Unary op, float x) {
        return switch (op) {
            case NEG -> -x;
            case EXP -> Softmax.exp(x);
            case LOG -> (float) Math.log(x);
            case SQRT -> (float) Math.sqrt(x);
            case RSQRT -> 1f / (float) Math.sqrt(x);
            case ABS -> Math.abs(x);
            case TANH -> {
                float e = Softmax.exp(-2f * Math.abs(x));
                float t = (1f - e) / (e + 1f);
                yield Float.isNaN(x) ? x : x < 0 ? -t : t;
            }
            case SIGMOID -> {
                float e = Softmax.exp(-Math.abs(x));
                float r = 1f / (e + 1f);
                yield x < 0 ? e * r : r;
            }
            case RELU -> x > 0 || Float.isNaN(x) ? x : 0f;
            case SQUARE -> x * x;
            case RECIPROCAL -> 1f / x;
            case SIGN -> Float.isNaN(x) ? x : x > 0 ? 1f : x < 0 ? -1f : 0f;
            case STEP -> x > 0 ? 1f : 0f;
        };
    }

}
