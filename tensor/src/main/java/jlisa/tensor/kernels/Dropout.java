package jlisa.tensor.kernels;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.DeviceStorage;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * Inverted dropout, forward and backward: out = x · mask · scale with mask ~ Bernoulli(1 − p) and
 * scale = 1 / (1 − p), so the expected output is x and evaluation needs no rescaling. Backward: dx = dout · mask · scale.
 *
 * <p>The mask is an F32 tensor of x's shape holding exactly 0 (dropped) or 1 (kept), whatever x's dtype: the
 * simplest exact form, readable on its own and independent of p. It is drawn from the {@link Rng} one element at a
 * time in row-major order of x's logical elements, on the calling thread, so the same seed gives the same mask
 * whatever the thread count or x's layout. Applying the mask is split across threads and elementwise.
 *
 * <p>scale is computed as PyTorch does for each dtype ({@code 1f / (float) (1 − p)} for F32, {@code 1 / (1 − p)}
 * for F64), and every output is the single product x · (mask · scale), so a kept element is exactly x · scale
 * and a dropped one is x · 0 (NaN and ±inf inputs give NaN there, as in PyTorch, rather than hiding them).
 */
public final class Dropout {
    private Dropout() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final int GRAIN = 1 << 14;

    /** The forward's output and the 0/1 F32 mask to hand to {@link #backward(Tensor, Tensor, double)}; mask is null when p = 0. */
    public record Result(Tensor out, Tensor mask) {}

    // ================================================================ kernels

    /** mask[i] = 1 with probability 1 − p, else 0, for i in [0, n): one {@link Rng#nextDouble()} per element, in order. */
    public static void drawMask(float[] mask, int maskOff, int n, double p, Rng rng) {
        for (int i = 0; i < n; i++) mask[maskOff + i] = rng.nextDouble() >= p ? 1f : 0f;
    }

    /** out[i] = x[i] · (mask[i] · scale) for i in [0, n): the forward (x) and the backward (dout). out may alias x. */
    public static void apply(float[] out, int outOff, float[] x, int xOff, float[] mask, int maskOff, int n, float scale) {
        Parallel.forRange(0, n, GRAIN, (lo, hi) -> {
            FloatVector vs = FloatVector.broadcast(S, scale);
            int i = lo, upper = lo + S.loopBound(hi - lo);
            for (; i < upper; i += L) {
                FloatVector m = FloatVector.fromArray(S, mask, maskOff + i).mul(vs);
                FloatVector.fromArray(S, x, xOff + i).mul(m).intoArray(out, outOff + i);
            }
            for (; i < hi; i++) out[outOff + i] = x[xOff + i] * (mask[maskOff + i] * scale);
        });
    }

    /** Float64 {@link #apply(float[], int, float[], int, float[], int, int, float)} (the mask stays F32 0/1). */
    public static void apply(double[] out, int outOff, double[] x, int xOff, float[] mask, int maskOff, int n, double scale) {
        for (int i = 0; i < n; i++) out[outOff + i] = x[xOff + i] * (mask[maskOff + i] * scale);
    }

    // ================================================================ Tensor entry points

    /**
     * Dropout of x (any layout; F32, BF16 → F32, or F64) with drop probability p in [0, 1]. p = 0 returns x itself
     * (not a copy) and a null mask, drawing nothing; p = 1 returns zeros and an all-zero mask, drawing nothing.
     */
    public static Result forward(Tensor x, double p, Rng rng) {
        String op = "dropout";
        DType dt = Softmax.floatType(x, op, "x");
        checkP(op, p);
        if (rng == null) throw new IllegalArgumentException(op + ": rng is null");
        if (p == 0) return new Result(x, null);
        if (x.storage() instanceof DeviceStorage d) {
            // The mask is drawn here from the same generator, element by element as on the CPU (so a run draws the same
            // masks wherever it computes), and goes to the device in one transfer; the products run there.
            Tensor host = Tensor.zeros(DType.F32, MemoryKind.OTHER, x.shape());
            if (p < 1) drawMask(host.floatArray(), 0, x.numel(), p, rng);
            Tensor mask = d.backend().toDevice(host, MemoryLedger.currentKind());
            host.storage().release();
            Tensor out = p == 1 ? Tensor.zerosOn(x, DType.F32, x.shape()) : x.mul(mask.mul(1f / (float) (1.0 - p)));
            return new Result(out, mask);
        }
        Tensor mask = Tensor.zeros(DType.F32, x.shape());
        if (p == 1) return new Result(Tensor.zeros(dt, x.shape()), mask);
        int n = x.numel();
        drawMask(mask.floatArray(), 0, n, p, rng);
        Tensor out = Tensor.zeros(dt, x.shape());
        applyMask(out, x.dense(), mask, p, dt);
        return new Result(out, mask);
    }

    /** dx = dout · mask / (1 − p) with the forward's mask and p (mask may be null when p = 0: dx is dout itself). */
    public static Tensor backward(Tensor dout, Tensor mask, double p) {
        String op = "dropoutBackward";
        DType dt = Softmax.floatType(dout, op, "dout");
        checkP(op, p);
        if (p == 0 && mask == null) return dout;
        if (mask == null) throw new IllegalArgumentException(op + ": mask is null but p = " + p + " (only p = 0 has no mask)");
        if (!Arrays.equals(mask.shape(), dout.shape())) {
            throw new IllegalArgumentException(op + ": mask has shape " + Shapes.str(mask.shape()) + " but dout has shape "
                    + Shapes.str(dout.shape()));
        }
        if (DeviceKernels.of(dout, mask) != null) {   // the device's products, as the forward's: dout · (mask · scale)
            return p == 1 ? Tensor.zerosOn(dout, DType.F32, dout.shape()) : dout.mul(mask.mul(1f / (float) (1.0 - p)));
        }
        if (p == 1) return Tensor.zeros(dt, dout.shape());
        Tensor dx = Tensor.zeros(dt, dout.shape());
        applyMask(dx, dout.dense(), mask.to(DType.F32).dense(), p, dt);
        return dx;
    }

    private static void applyMask(Tensor out, Tensor xd, Tensor md, double p, DType dt) {
        int n = out.numel();
        if (dt == DType.F64) {
            apply(out.doubleArray(), 0, xd.doubleArray(), xd.offset(), md.floatArray(), md.offset(), n, 1.0 / (1.0 - p));
        } else {
            apply(out.floatArray(), 0, xd.floatArray(), xd.offset(), md.floatArray(), md.offset(), n, 1f / (float) (1.0 - p));
        }
    }

    private static void checkP(String op, double p) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException(op + ": expected p in [0, 1], got " + p);
    }
}
