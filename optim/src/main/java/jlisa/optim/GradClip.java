package jlisa.optim;

import java.util.Collection;

import jlisa.autograd.Parameter;
import jlisa.tensor.Tensor;

/** Global gradient-norm clipping, as torch.nn.utils.clip_grad_norm_. */
public final class GradClip {
    private GradClip() {}

    /**
     * Scales every gradient by {@code maxNorm / (‖g‖ + 1e-6)} when the global L2 norm ‖g‖ over all of
     * them exceeds {@code maxNorm}; returns ‖g‖ (NaN or infinite when a gradient is).
     */
    public static double clipGradNorm(Collection<Parameter> params, double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("clipGradNorm: maxNorm must be > 0, got " + maxNorm);
        double total = norm(params);
        if (total > maxNorm) {
            double scale = maxNorm / (total + 1e-6);
            for (Parameter p : params) if (p.grad() != null) p.grad().mulInPlace(scale);
        }
        return total;
    }

    /** The global L2 norm of the gradients (parameters without one count as zero). */
    public static double norm(Collection<Parameter> params) {
        double ss = 0;
        for (Parameter p : params) {
            Tensor g = p.grad();
            if (g == null) continue;
            for (float x : g.toFloatArray()) ss += (double) x * x;
        }
        return Math.sqrt(ss);
    }
}
