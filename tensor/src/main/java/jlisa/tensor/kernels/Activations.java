package jlisa.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.Parallel;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

import java.util.Arrays;

/**
 * Elementwise activations of transformer MLPs, forward and backward: GELU with the tanh approximation
 * (GPT-2), exact GELU through erf (BERT, PyTorch's default), and SiLU (LLaMA's SwiGLU gate).
 *
 * <p>Raw kernels read {@code n} contiguous elements from each offset; backward kernels overwrite dx with
 * {@code f'(x) * dout} (dx may alias dout). Work is split over blocks of whole vectors, so an element is
 * computed the same way whatever the thread count.
 */
public final class Activations {
    private Activations() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Vector blocks per parallel chunk (~32K elements). */
    private static final int BLOCK_GRAIN = Math.max(1, (1 << 15) / L);

    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);
    private static final double INV_SQRT_2 = 1.0 / Math.sqrt(2.0);
    private static final double INV_SQRT_2PI = 1.0 / Math.sqrt(2.0 * Math.PI);
    private static final float K = (float) SQRT_2_OVER_PI, C = 0.044715f, C3 = 3 * 0.044715f;
    private static final float KF_INV_SQRT_2 = (float) INV_SQRT_2, KF_INV_SQRT_2PI = (float) INV_SQRT_2PI;

    /** Body over elements [lo, hi) of a kernel; chunks start at multiples of the vector length. */
    private interface Span { void run(int lo, int hi); }

    private static void forBlocks(int n, Span body) {
        int blocks = (n + L - 1) / L;
        Parallel.forRange(0, blocks, BLOCK_GRAIN, (b0, b1) -> body.run(b0 * L, Math.min(n, b1 * L)));
    }

    // ================================================================ GELU, tanh approximation

    // 0.5·(1 + tanh(u)) = σ(2u), so GELU_tanh(x) = x / (1 + e^(-2u)): no cancellation for negative x, and
    // (1 - tanh²(u)) = 4·σ(2u)·(1 - σ(2u)) in the backward. Scalar tails repeat the vector arithmetic
    // exactly (Softmax.exp is the same in both), so an element's bits do not depend on where it falls.

    /** out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as x·σ(2u). out may alias x. */
    public static void geluTanhForward(float[] out, int outOff, float[] x, int xOff, int n) {
        forBlocks(n, (lo, hi) -> {
            int upper = lo + S.loopBound(hi - lo), i = lo;
            for (; i < upper; i += L) {
                FloatVector v = FloatVector.fromArray(S, x, xOff + i);
                FloatVector u = v.mul(v).mul(v).mul(C).add(v).mul(K);
                v.div(Softmax.exp(u.mul(-2f)).add(1f)).intoArray(out, outOff + i);
            }
            for (; i < hi; i++) {
                float v = x[xOff + i];
                float u = (v * v * v * C + v) * K;
                out[outOff + i] = v / (Softmax.exp(u * -2f) + 1f);
            }
        });
    }

    /** dx = dout · (s + 2·x·s·(1 - s)·√(2/π)·(1 + 3·0.044715·x²)), s = σ(2u) = 0.5·(1 + tanh(u)). Overwrites dx. */
    public static void geluTanhBackward(float[] dx, int dxOff, float[] x, int xOff, float[] dout, int doutOff, int n) {
        forBlocks(n, (lo, hi) -> {
            int upper = lo + S.loopBound(hi - lo), i = lo;
            for (; i < upper; i += L) {
                FloatVector v = FloatVector.fromArray(S, x, xOff + i);
                FloatVector v2 = v.mul(v);
                FloatVector u = v2.mul(v).mul(C).add(v).mul(K);
                FloatVector s = FloatVector.broadcast(S, 1f).div(Softmax.exp(u.mul(-2f)).add(1f));
                FloatVector local = s.add(v.mul(2f).mul(s).mul(s.neg().add(1f)).mul(K).mul(v2.mul(C3).add(1f)));
                local.mul(FloatVector.fromArray(S, dout, doutOff + i)).intoArray(dx, dxOff + i);
            }
            for (; i < hi; i++) {
                float v = x[xOff + i];
                float v2 = v * v;
                float u = (v2 * v * C + v) * K;
                float s = 1f / (Softmax.exp(u * -2f) + 1f);
                float local = s + v * 2f * s * (1f - s) * K * (v2 * C3 + 1f);
                dx[dxOff + i] = local * dout[doutOff + i];
            }
        });
    }

    // ================================================================ GELU, exact (erf)

    /**
     * out = x·Φ(x) = 0.5·x·erfc(-x/√2), with erfc from Numerical Recipes' Chebyshev fit (fractional error
     * below 1.2e-7 everywhere, so GELU keeps float precision also far into the negative tail). out may alias x.
     */
    public static void geluErfForward(float[] out, int outOff, float[] x, int xOff, int n) {
        forBlocks(n, (lo, hi) -> {
            int upper = lo + S.loopBound(hi - lo), i = lo;
            for (; i < upper; i += L) {
                FloatVector v = FloatVector.fromArray(S, x, xOff + i);
                FloatVector z = v.mul(-KF_INV_SQRT_2);
                FloatVector a = z.abs();
                FloatVector t = FloatVector.broadcast(S, 1f).div(a.mul(0.5f).add(1f));
                FloatVector p = t.mul(0.17087277f).add(-0.82215223f);
                p = t.mul(p).add(1.48851587f);
                p = t.mul(p).add(-1.13520398f);
                p = t.mul(p).add(0.27886807f);
                p = t.mul(p).add(-0.18628806f);
                p = t.mul(p).add(0.09678418f);
                p = t.mul(p).add(0.37409196f);
                p = t.mul(p).add(1.00002368f);
                p = t.mul(p).add(-1.26551223f).sub(a.mul(a));
                FloatVector ans = t.mul(Softmax.exp(p));
                VectorMask<Float> negZ = z.compare(VectorOperators.LT, 0f);
                FloatVector erfc = ans.blend(ans.neg().add(2f), negZ);
                v.mul(0.5f).mul(erfc).intoArray(out, outOff + i);
            }
            for (; i < hi; i++) {
                float v = x[xOff + i];
                out[outOff + i] = v * 0.5f * erfcf(v * -KF_INV_SQRT_2);
            }
        });
    }

    /** dx = dout · (Φ(x) + x·φ(x)) = dout · (0.5·erfc(-x/√2) + x·exp(-x²/2)/√(2π)). Overwrites dx. */
    public static void geluErfBackward(float[] dx, int dxOff, float[] x, int xOff, float[] dout, int doutOff, int n) {
        forBlocks(n, (lo, hi) -> {
            int upper = lo + S.loopBound(hi - lo), i = lo;
            for (; i < upper; i += L) {
                FloatVector v = FloatVector.fromArray(S, x, xOff + i);
                FloatVector z = v.mul(-KF_INV_SQRT_2);
                FloatVector a = z.abs();
                FloatVector t = FloatVector.broadcast(S, 1f).div(a.mul(0.5f).add(1f));
                FloatVector p = t.mul(0.17087277f).add(-0.82215223f);
                p = t.mul(p).add(1.48851587f);
                p = t.mul(p).add(-1.13520398f);
                p = t.mul(p).add(0.27886807f);
                p = t.mul(p).add(-0.18628806f);
                p = t.mul(p).add(0.09678418f);
                p = t.mul(p).add(0.37409196f);
                p = t.mul(p).add(1.00002368f);
                FloatVector a2 = a.mul(a);
                p = t.mul(p).add(-1.26551223f).sub(a2);
                FloatVector ans = t.mul(Softmax.exp(p));
                VectorMask<Float> negZ = z.compare(VectorOperators.LT, 0f);
                FloatVector erfc = ans.blend(ans.neg().add(2f), negZ);
                FloatVector pdf = Softmax.exp(a2.neg()).mul(KF_INV_SQRT_2PI); // exp(-x²/2) = exp(-z²)
                erfc.mul(0.5f).add(v.mul(pdf)).mul(FloatVector.fromArray(S, dout, doutOff + i)).intoArray(dx, dxOff + i);
            }
            for (; i < hi; i++) {
                float v = x[xOff + i];
                float z = v * -KF_INV_SQRT_2, a = Math.abs(z);
                float pdf = Softmax.exp(-(a * a)) * KF_INV_SQRT_2PI;
                float local = erfcf(z) * 0.5f + v * pdf;
                dx[dxOff + i] = local * dout[doutOff + i];
            }
        });
    }

    /** Scalar float erfc with exactly the arithmetic of the vector loops. */
    private static float erfcf(float z) {
        float a = Math.abs(z);
        float t = 1f / (a * 0.5f + 1f);
        float p = t * 0.17087277f + -0.82215223f;
        p = t * p + 1.48851587f;
        p = t * p + -1.13520398f;
        p = t * p + 0.27886807f;
        p = t * p + -0.18628806f;
        p = t * p + 0.09678418f;
        p = t * p + 0.37409196f;
        p = t * p + 1.00002368f;
        p = t * p + -1.26551223f - a * a;
        float ans = t * Softmax.exp(p);
        return z < 0 ? -ans + 2f : ans;
    }

    // ================================================================ SiLU

    /** out = x·σ(x) = x / (1 + exp(-x)). out may alias x. */
    public static void siluForward(float[] out, int outOff, float[] x, int xOff, int n) {
        forBlocks(n, (lo, hi) -> {
            int upper = lo + S.loopBound(hi - lo), i = lo;
            for (; i < upper; i += L) {
                FloatVector v = FloatVector.fromArray(S, x, xOff + i);
                v.div(Softmax.exp(v.neg()).add(1f)).intoArray(out, outOff + i);
            }
            for (; i < hi; i++) {
                float v = x[xOff + i];
                out[outOff + i] = v / (Softmax.exp(-v) + 1f);
            }
        });
    }

    /** dx = dout · σ(x)·(1 + x·(1 - σ(x))). Overwrites dx. */
    public static void siluBackward(float[] dx, int dxOff, float[] x, int xOff, float[] dout, int doutOff, int n) {
        forBlocks(n, (lo, hi) -> {
            int upper = lo + S.loopBound(hi - lo), i = lo;
            for (; i < upper; i += L) {
                FloatVector v = FloatVector.fromArray(S, x, xOff + i);
                FloatVector s = FloatVector.broadcast(S, 1f).div(Softmax.exp(v.neg()).add(1f));
                FloatVector local = s.mul(v.mul(s.neg().add(1f)).add(1f));
                local.mul(FloatVector.fromArray(S, dout, doutOff + i)).intoArray(dx, dxOff + i);
            }
            for (; i < hi; i++) {
                float v = x[xOff + i];
                float s = 1f / (Softmax.exp(-v) + 1f);
                dx[dxOff + i] = s * (v * (1f - s) + 1f) * dout[doutOff + i];
            }
        });
    }

    // ================================================================ F64 kernels (plain loops, for gradcheck)

    /** Float64 {@link #geluTanhForward(float[], int, float[], int, int)}. */
    public static void geluTanhForward(double[] out, int outOff, double[] x, int xOff, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[xOff + i];
            out[outOff + i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
        }
    }

    /** Float64 {@link #geluTanhBackward(float[], int, float[], int, float[], int, int)}. */
    public static void geluTanhBackward(double[] dx, int dxOff, double[] x, int xOff, double[] dout, int doutOff, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[xOff + i];
            double u = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
            double t = Math.tanh(u);
            double local = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
            dx[dxOff + i] = local * dout[doutOff + i];
        }
    }

    /** Float64 {@link #geluErfForward(float[], int, float[], int, int)}, with a double-precision {@link #erfc(double)}. */
    public static void geluErfForward(double[] out, int outOff, double[] x, int xOff, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[xOff + i];
            out[outOff + i] = 0.5 * v * erfc(-v * INV_SQRT_2);
        }
    }

    /** Float64 {@link #geluErfBackward(float[], int, float[], int, float[], int, int)}. */
    public static void geluErfBackward(double[] dx, int dxOff, double[] x, int xOff, double[] dout, int doutOff, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[xOff + i];
            double local = 0.5 * erfc(-v * INV_SQRT_2) + v * Math.exp(-0.5 * v * v) * INV_SQRT_2PI;
            dx[dxOff + i] = local * dout[doutOff + i];
        }
    }

    /** Float64 {@link #siluForward(float[], int, float[], int, int)}. */
    public static void siluForward(double[] out, int outOff, double[] x, int xOff, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[xOff + i];
            out[outOff + i] = v / (1 + Math.exp(-v));
        }
    }

    /** Float64 {@link #siluBackward(float[], int, float[], int, float[], int, int)}. */
    public static void siluBackward(double[] dx, int dxOff, double[] x, int xOff, double[] dout, int doutOff, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[xOff + i];
            double s = 1 / (1 + Math.exp(-v));
            dx[dxOff + i] = s * (1 + v * (1 - s)) * dout[doutOff + i];
        }
    }

    /**
     * The complementary error function in double precision (the JDK has none): the Maclaurin series of erf
     * for |z| &lt; 2 (erfc = 1 - erf there is at least 4.7e-3, so little is lost), and erfc's continued
     * fraction, evaluated bottom-up, beyond. Relative error about 1e-14 or better.
     */
    public static double erfc(double z) {
        if (Double.isNaN(z)) return z;
        if (z < 0) return 2 - erfc(-z);
        if (z < 2) {
            double z2 = z * z, term = z, sum = z;
            for (int n = 1; n < 100; n++) {
                term *= -z2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            return 1 - 2 / Math.sqrt(Math.PI) * sum;
        }
        if (z > 27) return 0; // below the smallest double
        // erfc(z) = exp(-z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))), a_k = k/2
        double f = z;
        for (int k = 300; k >= 1; k--) f = z + (k / 2.0) / f;
        return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
    }

    // ================================================================ Tensor entry points

    /** GELU (tanh approximation) of any tensor; F32/BF16 compute in F32, F64 in F64. */
    public static Tensor geluTanh(Tensor x) {
        if (DeviceKernels.of(x) instanceof DeviceKernels device) return device.geluTanh(x);
        return forward(x, Kind.GELU_TANH, "geluTanh");
    }

    /** dx of {@link #geluTanh(Tensor)} given the input {@code x} and {@code dout} (same shape). */
    public static Tensor geluTanhBackward(Tensor x, Tensor dout) {
        if (DeviceKernels.of(x, dout) instanceof DeviceKernels device) {
            if (!java.util.Arrays.equals(x.shape(), dout.shape())) {
                throw new IllegalArgumentException("geluTanhBackward: dout has shape " + Shapes.str(dout.shape()) + " but x has "
                        + Shapes.str(x.shape()));
            }
            return device.geluTanhBackward(x, dout);
        }
        return backward(x, dout, Kind.GELU_TANH, "geluTanhBackward");
    }

    /** Exact GELU, x·Φ(x). */
    public static Tensor geluErf(Tensor x) { return forward(x, Kind.GELU_ERF, "geluErf"); }   // device: refused in forward()

    /** dx of {@link #geluErf(Tensor)}. */
    public static Tensor geluErfBackward(Tensor x, Tensor dout) { return backward(x, dout, Kind.GELU_ERF, "geluErfBackward"); }

    /** SiLU (swish), x·σ(x). */
    public static Tensor silu(Tensor x) {
        if (DeviceKernels.of(x) instanceof DeviceKernels device) return device.silu(x);
        return forward(x, Kind.SILU, "silu");
    }

    /** dx of {@link #silu(Tensor)}. */
    public static Tensor siluBackward(Tensor x, Tensor dout) {
        if (DeviceKernels.of(x, dout) instanceof DeviceKernels device) {
            if (!java.util.Arrays.equals(x.shape(), dout.shape())) {
                throw new IllegalArgumentException("siluBackward: dout has shape " + Shapes.str(dout.shape()) + " but x has "
                        + Shapes.str(x.shape()));
            }
            return device.siluBackward(x, dout);
        }
        return backward(x, dout, Kind.SILU, "siluBackward");
    }

    private enum Kind { GELU_TANH, GELU_ERF, SILU }

    private static Tensor forward(Tensor x, Kind kind, String op) {
        if (DeviceKernels.of(x) instanceof DeviceKernels device) throw device.missing(op);
        DType dt = Softmax.floatType(x, op, "x");
        Tensor xd = x.dense();
        Tensor out = Tensor.empty(dt, x.shape());
        int n = x.numel();
        if (dt == DType.F64) {
            double[] o = out.doubleArray(), a = xd.doubleArray();
            switch (kind) {
                case GELU_TANH -> geluTanhForward(o, 0, a, xd.offset(), n);
                case GELU_ERF -> geluErfForward(o, 0, a, xd.offset(), n);
                case SILU -> siluForward(o, 0, a, xd.offset(), n);
            }
        } else {
            float[] o = out.floatArray(), a = xd.floatArray();
            switch (kind) {
                case GELU_TANH -> geluTanhForward(o, 0, a, xd.offset(), n);
                case GELU_ERF -> geluErfForward(o, 0, a, xd.offset(), n);
                case SILU -> siluForward(o, 0, a, xd.offset(), n);
            }
        }
        return out;
    }

    private static Tensor backward(Tensor x, Tensor dout, Kind kind, String op) {
        if (DeviceKernels.of(x, dout) instanceof DeviceKernels device) throw device.missing(op);
        DType dt = Softmax.floatType(x, op, "x");
        DType gt = Softmax.floatType(dout, op, "dout");
        if (!Arrays.equals(x.shape(), dout.shape())) {
            throw new IllegalArgumentException(op + ": dout has shape " + Shapes.str(dout.shape()) + " but x has shape "
                    + Shapes.str(x.shape()));
        }
        if (gt != dt) throw new IllegalArgumentException(op + ": dout is " + dout.dtype() + " but x is " + x.dtype());
        Tensor xd = x.dense(), gd = dout.dense();
        Tensor dx = Tensor.empty(dt, x.shape());
        int n = x.numel();
        if (dt == DType.F64) {
            double[] d = dx.doubleArray(), a = xd.doubleArray(), g = gd.doubleArray();
            switch (kind) {
                case GELU_TANH -> geluTanhBackward(d, 0, a, xd.offset(), g, gd.offset(), n);
                case GELU_ERF -> geluErfBackward(d, 0, a, xd.offset(), g, gd.offset(), n);
                case SILU -> siluBackward(d, 0, a, xd.offset(), g, gd.offset(), n);
            }
        } else {
            float[] d = dx.floatArray(), a = xd.floatArray(), g = gd.floatArray();
            switch (kind) {
                case GELU_TANH -> geluTanhBackward(d, 0, a, xd.offset(), g, gd.offset(), n);
                case GELU_ERF -> geluErfBackward(d, 0, a, xd.offset(), g, gd.offset(), n);
                case SILU -> siluBackward(d, 0, a, xd.offset(), g, gd.offset(), n);
            }
        }
        return dx;
    }
}
