package jlisa.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.Parallel;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

import java.util.Arrays;

/**
 * Softmax and log-softmax over the last dim, forward and backward, on rows of {@code cols} contiguous
 * elements. Numerically stable: every row is shifted by its maximum before {@code exp}. A row that is
 * all {@code -inf} (or holds a NaN) gives NaN, as in PyTorch.
 *
 * <p>Raw kernels take arrays and offsets; row r of an operand starts at {@code off + r * cols}. Rows are
 * split across {@link Parallel} threads; each row is computed the same way whatever thread runs it, and
 * row sums are reduced in a fixed lane order, so results are bitwise identical for any thread count.
 */
public final class Softmax {
    private Softmax() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** Rows per parallel chunk: at least ~16K elements, so small inputs stay on the calling thread. */
    static int rowGrain(int cols) { return Math.max(1, (1 << 14) / Math.max(cols, 1)); }

    /** Sum of the lanes in lane order (reduceLanes(ADD) leaves the order to the JIT, which would cost determinism). */
    static float sumLanes(FloatVector v) {
        float s = 0f;
        for (int k = 0; k < L; k++) s += v.lane(k);
        return s;
    }

    // ---------------------------------------------------------------- exp, the same bits in every JIT tier

    // exp(x) = 2^k · e^r with k = round(x·log2 e) and |r| ≤ ln2/2 (Cody–Waite split of ln 2), e^r by Cephes'
    // expf polynomial (about 1 ulp). Built from fma/mul/add only, so the interpreter, C1, C2, vector lanes and
    // scalar tails all give the same bits; lanewise(EXP) does not (C2 calls SVML, the fallback Math.exp), which
    // would make results depend on warm-up and on where a row's vector loop ends.
    private static final float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f; // 1.5·2^23: adding it rounds to an integer, kept in the low bits
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);
    private static final float EXP_LO = -87.33654f, EXP_HI = 88.37626f; // above: k = 128, past the float exponent range
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /** e^x per lane: 0 below -87.34 (where e^x leaves the normal floats), +inf above 88.38 (near float overflow), NaN stays NaN. */
    static FloatVector exp(FloatVector x) {
        FloatVector t = x.fma(FloatVector.broadcast(S, LOG2E), FloatVector.broadcast(S, ROUND));
        FloatVector k = t.sub(ROUND);
        FloatVector r = k.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = k.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(S, P0), FloatVector.broadcast(S, P1));
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        FloatVector scale = t.reinterpretAsInts().sub(ROUND_BITS - 127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector e = y.mul(scale);
        e = e.blend(0f, x.compare(VectorOperators.LT, EXP_LO));
        return e.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_HI));
    }

    /** e^x with exactly the arithmetic of {@link #exp(FloatVector)}, for scalar tails. */
    static float exp(float x) {
        if (x < EXP_LO) return 0f;
        if (x > EXP_HI) return Float.POSITIVE_INFINITY;
        float t = Math.fma(x, LOG2E, ROUND);
        float k = t - ROUND;
        float r = Math.fma(k, -LN2_HI, x);
        r = Math.fma(k, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = Math.fma(p, r * r, r) + 1f;
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(t) - (ROUND_BITS - 127)) << 23);
        return y * scale;
    }

    // ================================================================ softmax, F32

    /** out[r,:] = exp(x[r,:] - max_r) / Σ exp(x[r,:] - max_r). {@code out} may alias {@code x} (same offset). */
    public static void softmaxForward(float[] out, int outOff, float[] x, int xOff, int rows, int cols) {
        Parallel.forRange(0, rows, rowGrain(cols), (lo, hi) -> {
            for (int r = lo; r < hi; r++) softmaxRow(out, outOff + r * cols, x, xOff + r * cols, cols);
        });
    }

    private static void softmaxRow(float[] out, int oo, float[] x, int xo, int cols) {
        int upper = S.loopBound(cols);
        float max = Float.NEGATIVE_INFINITY;
        int i = 0;
        if (upper > 0) {
            FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; i < upper; i += L) vmax = vmax.max(FloatVector.fromArray(S, x, xo + i));
            max = vmax.reduceLanes(VectorOperators.MAX); // max is exact in any order
        }
        for (; i < cols; i++) max = Math.max(max, x[xo + i]);

        FloatVector vm = FloatVector.broadcast(S, max);
        FloatVector vsum = FloatVector.zero(S);
        for (i = 0; i < upper; i += L) {
            FloatVector e = exp(FloatVector.fromArray(S, x, xo + i).sub(vm));
            e.intoArray(out, oo + i);
            vsum = vsum.add(e);
        }
        float sum = sumLanes(vsum);
        for (; i < cols; i++) {
            float e = exp(x[xo + i] - max);
            out[oo + i] = e;
            sum += e;
        }

        float inv = 1f / sum;
        FloatVector vinv = FloatVector.broadcast(S, inv);
        for (i = 0; i < upper; i += L) FloatVector.fromArray(S, out, oo + i).mul(vinv).intoArray(out, oo + i);
        for (; i < cols; i++) out[oo + i] *= inv;
    }

    /** dx[r,:] = y[r,:] * (dy[r,:] - Σ y[r,:]·dy[r,:]), with y the softmax output. dx is overwritten (may alias dy). */
    public static void softmaxBackward(float[] dx, int dxOff, float[] y, int yOff, float[] dy, int dyOff, int rows, int cols) {
        Parallel.forRange(0, rows, rowGrain(cols), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int xo = dxOff + r * cols, yo = yOff + r * cols, go = dyOff + r * cols;
                int upper = S.loopBound(cols), i = 0;
                FloatVector vdot = FloatVector.zero(S);
                for (; i < upper; i += L) {
                    vdot = vdot.add(FloatVector.fromArray(S, y, yo + i).mul(FloatVector.fromArray(S, dy, go + i)));
                }
                float dot = sumLanes(vdot);
                for (; i < cols; i++) dot += y[yo + i] * dy[go + i];
                FloatVector vd = FloatVector.broadcast(S, dot);
                for (i = 0; i < upper; i += L) {
                    FloatVector yv = FloatVector.fromArray(S, y, yo + i);
                    yv.mul(FloatVector.fromArray(S, dy, go + i).sub(vd)).intoArray(dx, xo + i);
                }
                for (; i < cols; i++) dx[xo + i] = y[yo + i] * (dy[go + i] - dot);
            }
        });
    }

    // ================================================================ log-softmax, F32

    /** out[r,:] = x[r,:] - max_r - log Σ exp(x[r,:] - max_r). {@code out} may alias {@code x} (same offset). */
    public static void logSoftmaxForward(float[] out, int outOff, float[] x, int xOff, int rows, int cols) {
        Parallel.forRange(0, rows, rowGrain(cols), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int oo = outOff + r * cols, xo = xOff + r * cols;
                int upper = S.loopBound(cols), i = 0;
                float max = Float.NEGATIVE_INFINITY;
                if (upper > 0) {
                    FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
                    for (; i < upper; i += L) vmax = vmax.max(FloatVector.fromArray(S, x, xo + i));
                    max = vmax.reduceLanes(VectorOperators.MAX);
                }
                for (; i < cols; i++) max = Math.max(max, x[xo + i]);
                FloatVector vm = FloatVector.broadcast(S, max);
                FloatVector vsum = FloatVector.zero(S);
                for (i = 0; i < upper; i += L) {
                    vsum = vsum.add(exp(FloatVector.fromArray(S, x, xo + i).sub(vm)));
                }
                float sum = sumLanes(vsum);
                for (; i < cols; i++) sum += exp(x[xo + i] - max);
                float shift = max + (float) Math.log(sum);
                FloatVector vs = FloatVector.broadcast(S, shift);
                for (i = 0; i < upper; i += L) FloatVector.fromArray(S, x, xo + i).sub(vs).intoArray(out, oo + i);
                for (; i < cols; i++) out[oo + i] = x[xo + i] - shift;
            }
        });
    }

    /** dx[r,:] = dy[r,:] - exp(y[r,:]) * Σ dy[r,:], with y the log-softmax output. dx is overwritten (may alias dy). */
    public static void logSoftmaxBackward(float[] dx, int dxOff, float[] y, int yOff, float[] dy, int dyOff, int rows, int cols) {
        Parallel.forRange(0, rows, rowGrain(cols), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int xo = dxOff + r * cols, yo = yOff + r * cols, go = dyOff + r * cols;
                int upper = S.loopBound(cols), i = 0;
                FloatVector vs = FloatVector.zero(S);
                for (; i < upper; i += L) vs = vs.add(FloatVector.fromArray(S, dy, go + i));
                float sum = sumLanes(vs);
                for (; i < cols; i++) sum += dy[go + i];
                FloatVector vsum = FloatVector.broadcast(S, sum);
                for (i = 0; i < upper; i += L) {
                    FloatVector p = exp(FloatVector.fromArray(S, y, yo + i));
                    FloatVector.fromArray(S, dy, go + i).sub(p.mul(vsum)).intoArray(dx, xo + i);
                }
                for (; i < cols; i++) dx[xo + i] = dy[go + i] - exp(y[yo + i]) * sum;
            }
        });
    }

    // ================================================================ F64 (plain loops, for gradcheck)

    /** Float64 {@link #softmaxForward(float[], int, float[], int, int, int)}. */
    public static void softmaxForward(double[] out, int outOff, double[] x, int xOff, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int oo = outOff + r * cols, xo = xOff + r * cols;
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < cols; i++) max = Math.max(max, x[xo + i]);
            double sum = 0;
            for (int i = 0; i < cols; i++) {
                double e = Math.exp(x[xo + i] - max);
                out[oo + i] = e;
                sum += e;
            }
            double inv = 1.0 / sum;
            for (int i = 0; i < cols; i++) out[oo + i] *= inv;
        }
    }

    /** Float64 {@link #softmaxBackward(float[], int, float[], int, float[], int, int, int)}. */
    public static void softmaxBackward(double[] dx, int dxOff, double[] y, int yOff, double[] dy, int dyOff, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int xo = dxOff + r * cols, yo = yOff + r * cols, go = dyOff + r * cols;
            double dot = 0;
            for (int i = 0; i < cols; i++) dot += y[yo + i] * dy[go + i];
            for (int i = 0; i < cols; i++) dx[xo + i] = y[yo + i] * (dy[go + i] - dot);
        }
    }

    /** Float64 {@link #logSoftmaxForward(float[], int, float[], int, int, int)}. */
    public static void logSoftmaxForward(double[] out, int outOff, double[] x, int xOff, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int oo = outOff + r * cols, xo = xOff + r * cols;
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < cols; i++) max = Math.max(max, x[xo + i]);
            double sum = 0;
            for (int i = 0; i < cols; i++) sum += Math.exp(x[xo + i] - max);
            double shift = max + Math.log(sum);
            for (int i = 0; i < cols; i++) out[oo + i] = x[xo + i] - shift;
        }
    }

    /** Float64 {@link #logSoftmaxBackward(float[], int, float[], int, float[], int, int, int)}. */
    public static void logSoftmaxBackward(double[] dx, int dxOff, double[] y, int yOff, double[] dy, int dyOff, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int xo = dxOff + r * cols, yo = yOff + r * cols, go = dyOff + r * cols;
            double sum = 0;
            for (int i = 0; i < cols; i++) sum += dy[go + i];
            for (int i = 0; i < cols; i++) dx[xo + i] = dy[go + i] - Math.exp(y[yo + i]) * sum;
        }
    }

    // ================================================================ Tensor entry points

    /** Softmax over the last dim of {@code x} (any layout; F32, BF16 → F32, or F64). */
    public static Tensor softmax(Tensor x) { return forward(x, false, "softmax"); }

    /** Log-softmax over the last dim of {@code x}. */
    public static Tensor logSoftmax(Tensor x) { return forward(x, true, "logSoftmax"); }

    /** dx for {@code y = softmax(x)} given the output {@code y} and its gradient {@code dy} (same shape). */
    public static Tensor softmaxBackward(Tensor y, Tensor dy) { return backward(y, dy, false, "softmaxBackward"); }

    /** dx for {@code y = logSoftmax(x)} given the output {@code y} and its gradient {@code dy} (same shape). */
    public static Tensor logSoftmaxBackward(Tensor y, Tensor dy) { return backward(y, dy, true, "logSoftmaxBackward"); }

    private static Tensor forward(Tensor x, boolean log, String op) {
        if (DeviceKernels.of(x) instanceof DeviceKernels device) throw device.missing(op);
        DType dt = floatType(x, op, "x");
        if (x.dim() == 0) throw new IllegalArgumentException(op + ": expected a tensor with at least 1 dim, got a scalar");
        Tensor xd = x.dense();
        int cols = x.size(-1), rows = cols == 0 ? 0 : x.numel() / cols;
        Tensor out = Tensor.empty(dt, x.shape());
        if (dt == DType.F64) {
            if (log) logSoftmaxForward(out.doubleArray(), 0, xd.doubleArray(), xd.offset(), rows, cols);
            else softmaxForward(out.doubleArray(), 0, xd.doubleArray(), xd.offset(), rows, cols);
        } else {
            if (log) logSoftmaxForward(out.floatArray(), 0, xd.floatArray(), xd.offset(), rows, cols);
            else softmaxForward(out.floatArray(), 0, xd.floatArray(), xd.offset(), rows, cols);
        }
        return out;
    }

    private static Tensor backward(Tensor y, Tensor dy, boolean log, String op) {
        if (DeviceKernels.of(y, dy) instanceof DeviceKernels device) throw device.missing(op);
        DType dt = floatType(y, op, "y");
        DType gt = floatType(dy, op, "dy");
        if (gt != dt) throw new IllegalArgumentException(op + ": dy is " + dy.dtype() + " but y is " + y.dtype());
        if (!Arrays.equals(y.shape(), dy.shape())) {
            throw new IllegalArgumentException(op + ": dy has shape " + Shapes.str(dy.shape()) + " but y has shape "
                    + Shapes.str(y.shape()));
        }
        if (y.dim() == 0) throw new IllegalArgumentException(op + ": expected a tensor with at least 1 dim, got a scalar");
        Tensor yd = y.dense(), gd = dy.dense();
        int cols = y.size(-1), rows = cols == 0 ? 0 : y.numel() / cols;
        Tensor dx = Tensor.empty(dt, y.shape());
        if (dt == DType.F64) {
            if (log) logSoftmaxBackward(dx.doubleArray(), 0, yd.doubleArray(), yd.offset(), gd.doubleArray(), gd.offset(), rows, cols);
            else softmaxBackward(dx.doubleArray(), 0, yd.doubleArray(), yd.offset(), gd.doubleArray(), gd.offset(), rows, cols);
        } else {
            if (log) logSoftmaxBackward(dx.floatArray(), 0, yd.floatArray(), yd.offset(), gd.floatArray(), gd.offset(), rows, cols);
            else softmaxBackward(dx.floatArray(), 0, yd.floatArray(), yd.offset(), gd.floatArray(), gd.offset(), rows, cols);
        }
        return dx;
    }

    /** The dtype kernels compute {@code t} in (F32 or F64), or an exception naming the operand. */
    static DType floatType(Tensor t, String op, String name) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        DType dt = t.dtype().computeType();
        if (dt != DType.F32 && dt != DType.F64) {
            throw new IllegalArgumentException(op + ": " + name + " must be F32, BF16 or F64, got " + t.dtype()
                    + " " + Shapes.str(t.shape()));
        }
        return dt;
    }
}
