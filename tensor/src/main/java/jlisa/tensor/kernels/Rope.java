package jlisa.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.Parallel;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * Rotary position embedding (RoPE, Su et al. 2021) on x of shape (B, H, T, D), forward and backward.
 *
 * <p>With h = rotaryDim / 2, inv_freq[i] = 1 / theta^(2i / rotaryDim) for i in [0, h), and the angle of time
 * step t is positions[t] · inv_freq[i]. Each pair (a, b) of the first rotaryDim dims of a row is rotated by
 * that angle: (a, b) → (a·cos − b·sin, b·cos + a·sin), i.e. the complex product (a + ib)·e^{iθ}; dims past
 * rotaryDim pass through unchanged. Which dims form pair i is the {@link Layout}:
 * <ul>
 *   <li>{@link Layout#HALF} ("rotate half", HF LLaMA checkpoints): (x[i], x[i + h]);</li>
 *   <li>{@link Layout#INTERLEAVED} (GPT-J, Meta's LLaMA reference): (x[2i], x[2i + 1]).</li>
 * </ul>
 * A rotation is orthogonal, so the backward is the rotation by −angle (its transpose): dx = R(−θ)·dout.
 *
 * <p>Raw kernels take x as {@code rows = B·H} contiguous (T, D) slabs and cos/sin tables of (T, h) from a
 * {@link Cache}. The B·H·T head vectors are split across {@link Parallel} threads and every element is computed
 * the same way wherever it falls (vector lanes and scalar tails use the same mul/sub, which is also HF's
 * {@code x * cos + rotate_half(x) * sin} rounding for rounding), so results are the same bits for any thread count.
 * HALF is vectorised over i; INTERLEAVED is a plain scalar loop (its pairs straddle lanes).
 */
public final class Rope {
    private Rope() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** The theta base of the original paper, GPT-NeoX and LLaMA 1/2 (LLaMA 3 uses 500000). */
    public static final double DEFAULT_THETA = 10000.0;

    /** Which dims of a head form the rotated pairs. */
    public enum Layout {
        /** Pairs (x[i], x[i + rotaryDim/2]): HF transformers' {@code rotate_half}, as in HF LLaMA/Mistral/Qwen checkpoints. */
        HALF,
        /** Pairs (x[2i], x[2i + 1]): GPT-J and Meta's reference LLaMA ({@code view_as_complex}). */
        INTERLEAVED
    }

    // ================================================================ cos/sin tables

    /**
     * The rotary inverse frequencies of the first rotaryDim = 2·n dims: {@code f32} as HF computes them in float32
     * (what the F32 tables use), {@code f64} the same formula in float64 (F64 tensors: references, gradcheck).
     * {@link #of} gives RoPE's own 1/θ^(2i/rotaryDim); a model's rope_scaling (linear, Llama-3) transforms them
     * before the tables are built. The arrays are shared, not copied: do not write to them.
     */
    public record Frequencies(float[] f32, double[] f64) {
        public Frequencies {
            if (f32 == null || f64 == null || f32.length != f64.length || f32.length == 0) {
                throw new IllegalArgumentException("rope: expected one or more inverse frequencies in float32 and float64 alike");
            }
        }

        /** 1/θ^(2i/rotaryDim) for i &lt; rotaryDim/2, in float32 as HF computes it and in float64. */
        public static Frequencies of(double theta, int rotaryDim) {
            if (!(theta > 0) || Double.isInfinite(theta)) {
                throw new IllegalArgumentException("rope: expected a finite theta > 0, got " + theta);
            }
            if (rotaryDim < 2 || rotaryDim % 2 != 0) {
                throw new IllegalArgumentException("rope: expected an even rotaryDim ≥ 2, got " + rotaryDim);
            }
            int h = rotaryDim / 2;
            float thetaF = (float) theta;
            float[] invFreq = new float[h];
            double[] invFreq64 = new double[h];
            for (int i = 0; i < h; i++) {
                float exponent = (float) (2 * i) / (float) rotaryDim;     // HF: arange(0, dim, 2).float() / dim
                invFreq[i] = 1f / (float) Math.pow(thetaF, exponent);     // HF: 1.0 / base ** exponent, in float32
                invFreq64[i] = 1.0 / Math.pow(theta, 2.0 * i / rotaryDim);
            }
            return new Frequencies(invFreq, invFreq64);
        }
    }

    /**
     * cos and sin of every (time step, frequency) angle for one set of positions, built once and reused by q and
     * k of every layer. Tables are (T, rotaryDim/2) row-major: entry {@code t * (rotaryDim/2) + i}.
     *
     * <p>Two precisions, on purpose. {@code cos}/{@code sin} (used for F32 tensors) follow HF transformers'
     * float32 arithmetic step by step: inv_freq = 1f / (float) theta^((float) 2i / rotaryDim), angle =
     * (float) pos · inv_freq rounded to float, then cos/sin of that float angle evaluated in double and rounded
     * to float (torch's float cos is within an ulp of that). Computing the angle in double instead would be
     * "more exact" but differs from HF by up to pos·2⁻²⁴ rad (≈5e-4 at position 8192), while this matches HF
     * LLaMA's cos/sin to about an ulp (~6e-8) at every position. {@code cos64}/{@code sin64} (used for F64
     * tensors: references, gradcheck) are the exact formula in double throughout.
     *
     * <p>The arrays are shared, not copied: do not write to them.
     */
    public record Cache(int[] positions, Frequencies frequencies, int rotaryDim,
                        float[] cos, float[] sin, double[] cos64, double[] sin64) {

        /** Tables for {@code positions} (one per time step) with base {@code theta} over the first {@code rotaryDim} dims. */
        public static Cache of(int[] positions, double theta, int rotaryDim) {
            return of(positions, Frequencies.of(theta, rotaryDim));
        }

        /** Tables for {@code positions} with the given inverse frequencies (plain, or scaled as rope_scaling asks). */
        public static Cache of(int[] positions, Frequencies frequencies) {
            if (positions == null) throw new IllegalArgumentException("rope: positions is null");
            float[] invFreq = frequencies.f32();
            double[] invFreq64 = frequencies.f64();
            int T = positions.length, h = invFreq.length;
            float[] cos = new float[T * h], sin = new float[T * h];
            double[] cos64 = new double[T * h], sin64 = new double[T * h];
            for (int t = 0; t < T; t++) {
                for (int i = 0; i < h; i++) {
                    float angle = (float) positions[t] * invFreq[i];    // HF: inv_freq @ position_ids, in float32
                    cos[t * h + i] = (float) Math.cos(angle);
                    sin[t * h + i] = (float) Math.sin(angle);
                    double angle64 = positions[t] * invFreq64[i];
                    cos64[t * h + i] = Math.cos(angle64);
                    sin64[t * h + i] = Math.sin(angle64);
                }
            }
            return new Cache(positions.clone(), frequencies, 2 * h, cos, sin, cos64, sin64);
        }

        /** Tables for positions startPos, startPos + 1, …, startPos + T − 1 (KV-cache decode starts past the prompt). */
        public static Cache of(int startPos, int T, double theta, int rotaryDim) {
            return of(Rope.positions(startPos, T), theta, rotaryDim);
        }

        /** Time steps covered. */
        public int length() { return positions.length; }
    }

    /** startPos, startPos + 1, …, startPos + T − 1. */
    public static int[] positions(int startPos, int T) {
        if (T < 0) throw new IllegalArgumentException("rope: expected T ≥ 0, got " + T);
        int[] p = new int[T];
        for (int t = 0; t < T; t++) p[t] = startPos + t;
        return p;
    }

    // ================================================================ F32 kernels

    /**
     * out = RoPE(x): x and out are {@code rows} contiguous (T, D) slabs from their offsets; cos/sin are
     * (T, rotaryDim/2) tables (see {@link Cache}). Dims [rotaryDim, D) are copied. out may alias x (same offset).
     */
    public static void forward(float[] out, int outOff, float[] x, int xOff, float[] cos, float[] sin,
                               int rows, int T, int D, int rotaryDim, Layout layout) {
        rotate(out, outOff, x, xOff, cos, sin, rows, T, D, rotaryDim, layout, false);
    }

    /** dx = RoPE⁻¹(dout), the rotation by −angle (the transpose of the forward's). dx may alias dout (same offset). */
    public static void backward(float[] dx, int dxOff, float[] dout, int doutOff, float[] cos, float[] sin,
                                int rows, int T, int D, int rotaryDim, Layout layout) {
        rotate(dx, dxOff, dout, doutOff, cos, sin, rows, T, D, rotaryDim, layout, true);
    }

    private static void rotate(float[] out, int outOff, float[] x, int xOff, float[] cos, float[] sin,
                               int rows, int T, int D, int rotaryDim, Layout layout, boolean inverse) {
        int h = rotaryDim / 2;
        boolean inPlace = out == x && outOff == xOff;
        Parallel.forRange(0, rows * T, Softmax.rowGrain(D), (lo, hi) -> {
            int upper = S.loopBound(h);
            for (int r = lo; r < hi; r++) {
                int t = r % T, xo = xOff + r * D, oo = outOff + r * D, co = t * h;
                if (layout == Layout.HALF) {
                    int i = 0;
                    for (; i < upper; i += L) {
                        FloatVector a = FloatVector.fromArray(S, x, xo + i), b = FloatVector.fromArray(S, x, xo + h + i);
                        FloatVector c = FloatVector.fromArray(S, cos, co + i), s = FloatVector.fromArray(S, sin, co + i);
                        if (inverse) s = s.neg();
                        a.mul(c).sub(b.mul(s)).intoArray(out, oo + i);
                        b.mul(c).add(a.mul(s)).intoArray(out, oo + h + i);
                    }
                    for (; i < h; i++) {
                        float a = x[xo + i], b = x[xo + h + i], c = cos[co + i], s = inverse ? -sin[co + i] : sin[co + i];
                        out[oo + i] = a * c - b * s;
                        out[oo + h + i] = b * c + a * s;
                    }
                } else {
                    for (int i = 0; i < h; i++) {
                        float a = x[xo + 2 * i], b = x[xo + 2 * i + 1], c = cos[co + i], s = inverse ? -sin[co + i] : sin[co + i];
                        out[oo + 2 * i] = a * c - b * s;
                        out[oo + 2 * i + 1] = b * c + a * s;
                    }
                }
                if (!inPlace && rotaryDim < D) System.arraycopy(x, xo + rotaryDim, out, oo + rotaryDim, D - rotaryDim);
            }
        });
    }

    // ================================================================ F64 kernels (plain loops, for gradcheck)

    /** Float64 {@link #forward(float[], int, float[], int, float[], float[], int, int, int, int, Layout)}. */
    public static void forward(double[] out, int outOff, double[] x, int xOff, double[] cos, double[] sin,
                               int rows, int T, int D, int rotaryDim, Layout layout) {
        rotate(out, outOff, x, xOff, cos, sin, rows, T, D, rotaryDim, layout, false);
    }

    /** Float64 {@link #backward(float[], int, float[], int, float[], float[], int, int, int, int, Layout)}. */
    public static void backward(double[] dx, int dxOff, double[] dout, int doutOff, double[] cos, double[] sin,
                                int rows, int T, int D, int rotaryDim, Layout layout) {
        rotate(dx, dxOff, dout, doutOff, cos, sin, rows, T, D, rotaryDim, layout, true);
    }

    private static void rotate(double[] out, int outOff, double[] x, int xOff, double[] cos, double[] sin,
                               int rows, int T, int D, int rotaryDim, Layout layout, boolean inverse) {
        int h = rotaryDim / 2;
        // HALF pairs dims (i, i + h); INTERLEAVED pairs (2i, 2i + 1).
        int first = layout == Layout.HALF ? 1 : 2, second = layout == Layout.HALF ? h : 1;
        for (int r = 0; r < rows * T; r++) {
            int t = r % T, xo = xOff + r * D, oo = outOff + r * D;
            for (int i = 0; i < h; i++) {
                int p = i * first, q = i * first + second;
                double a = x[xo + p], b = x[xo + q], c = cos[t * h + i], s = inverse ? -sin[t * h + i] : sin[t * h + i];
                out[oo + p] = a * c - b * s;
                out[oo + q] = b * c + a * s;
            }
            for (int d = rotaryDim; d < D; d++) out[oo + d] = x[xo + d];
        }
    }

    // ================================================================ Tensor entry points

    /** RoPE with HF LLaMA's defaults: theta 10000, every dim rotated, {@link Layout#HALF}. */
    public static Tensor forward(Tensor x, int[] positions) {
        return forward(x, positions, DEFAULT_THETA, checkRank(x, "rope").size(3), Layout.HALF);
    }

    /**
     * RoPE of x (B, H, T, D) (any layout; F32, BF16 → F32, or F64) at {@code positions} (one per time step),
     * rotating the first {@code rotaryDim} dims of each head. Returns a new contiguous tensor.
     */
    public static Tensor forward(Tensor x, int[] positions, double theta, int rotaryDim, Layout layout) {
        return apply(x, Cache.of(positions, theta, rotaryDim), layout, false, "rope");
    }

    /** RoPE at positions startPos, startPos + 1, …, startPos + T − 1. */
    public static Tensor forward(Tensor x, int startPos, double theta, int rotaryDim, Layout layout) {
        return forward(x, positions(startPos, checkRank(x, "rope").size(2)), theta, rotaryDim, layout);
    }

    /** RoPE with precomputed tables (one {@link Cache} serves q and k of every layer). */
    public static Tensor forward(Tensor x, Cache cache, Layout layout) {
        return apply(x, cache, layout, false, "rope");
    }

    /** dx for {@link #forward(Tensor, int[])}. */
    public static Tensor backward(Tensor dout, int[] positions) {
        return backward(dout, positions, DEFAULT_THETA, checkRank(dout, "ropeBackward").size(3), Layout.HALF);
    }

    /** dx = R(−angle)·dout for {@link #forward(Tensor, int[], double, int, Layout)} with the same arguments. */
    public static Tensor backward(Tensor dout, int[] positions, double theta, int rotaryDim, Layout layout) {
        return apply(dout, Cache.of(positions, theta, rotaryDim), layout, true, "ropeBackward");
    }

    /** dx for {@link #forward(Tensor, int, double, int, Layout)} with the same arguments. */
    public static Tensor backward(Tensor dout, int startPos, double theta, int rotaryDim, Layout layout) {
        return backward(dout, positions(startPos, checkRank(dout, "ropeBackward").size(2)), theta, rotaryDim, layout);
    }

    /** dx for {@link #forward(Tensor, Cache, Layout)} with the same tables. */
    public static Tensor backward(Tensor dout, Cache cache, Layout layout) {
        return apply(dout, cache, layout, true, "ropeBackward");
    }

    private static Tensor apply(Tensor x, Cache cache, Layout layout, boolean inverse, String op) {
        DType dt = Softmax.floatType(x, op, inverse ? "dout" : "x");
        checkRank(x, op);
        if (cache == null) throw new IllegalArgumentException(op + ": cache is null");
        if (layout == null) throw new IllegalArgumentException(op + ": layout is null");
        int[] shape = x.shape();
        int B = shape[0], H = shape[1], T = shape[2], D = shape[3];
        if (D % 2 != 0) {
            throw new IllegalArgumentException(op + ": expected an even head dim D, got D = " + D + " in " + Shapes.str(shape));
        }
        if (cache.rotaryDim() > D) {
            throw new IllegalArgumentException(op + ": rotaryDim " + cache.rotaryDim() + " exceeds the head dim D = " + D
                    + " of " + Shapes.str(shape));
        }
        if (cache.length() != T) {
            throw new IllegalArgumentException(op + ": expected " + T + " positions (T of " + Shapes.str(shape) + "), got "
                    + cache.length());
        }
        if (DeviceKernels.of(x) instanceof DeviceKernels device) return device.rope(x, cache, layout, inverse);
        Tensor xd = x.dense();
        Tensor out = Tensor.zeros(dt, shape);
        int rows = B * H;
        if (dt == DType.F64) {
            rotate(out.doubleArray(), 0, xd.doubleArray(), xd.offset(), cache.cos64(), cache.sin64(), rows, T, D,
                    cache.rotaryDim(), layout, inverse);
        } else {
            rotate(out.floatArray(), 0, xd.floatArray(), xd.offset(), cache.cos(), cache.sin(), rows, T, D,
                    cache.rotaryDim(), layout, inverse);
        }
        return out;
    }

    private static Tensor checkRank(Tensor x, String op) {
        if (x == null) throw new IllegalArgumentException(op + ": x is null");
        if (x.dim() != 4) {
            throw new IllegalArgumentException(op + ": expected x of rank 4 (B, H, T, D), got rank " + x.dim()
                    + " " + Shapes.str(x.shape()));
        }
        return x;
    }
}
