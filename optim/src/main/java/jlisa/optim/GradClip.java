package jlisa.optim;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import jlisa.autograd.Parameter;
import jlisa.tensor.DeviceStorage;
import jlisa.tensor.Tensor;

/**
 * Global gradient-norm clipping, as torch.nn.utils.clip_grad_norm_. Gradients in device memory are
 * reduced and scaled by the backend that holds them.
 *
 * <p>Stateless; safe to call from any thread on gradients no other thread touches.
 */
public final class GradClip {
    private GradClip() {}

    /**
     * Scales every gradient by {@code maxNorm / (‖g‖ + 1e-6)} when the global L2 norm ‖g‖ over all of
     * them exceeds {@code maxNorm}; returns ‖g‖ (NaN or infinite when a gradient is).
     */
    public static double clipGradNorm(Collection<Parameter> params, double maxNorm) {
        return clip(gradients(params), maxNorm);
    }

    /** The global L2 norm of the gradients (parameters without one count as zero). */
    public static double norm(Collection<Parameter> params) { return norm(gradients(params)); }

    private static List<Tensor> gradients(Collection<Parameter> params) {
        List<Tensor> grads = new ArrayList<>();
        for (Parameter p : params) if (p.grad() != null) grads.add(p.grad());
        return grads;
    }

    /** {@link #clipGradNorm} over the gradient tensors themselves. */
    static double clip(List<Tensor> grads, double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("clipGradNorm: maxNorm must be > 0, got " + maxNorm);
        double total = norm(grads);
        if (total > maxNorm) {
            double scale = maxNorm / (total + 1e-6);
            for (Tensor g : grads) {
                if (g.storage() instanceof DeviceStorage device) device.backend().scale(g, scale);
                else g.mulInPlace(scale);
            }
        }
        return total;
    }

    /** {@link #norm(Collection)} over the gradient tensors themselves. */
    static double norm(List<Tensor> grads) {
        if (!grads.isEmpty() && grads.get(0).storage() instanceof DeviceStorage first
                && grads.stream().allMatch(g -> g.storage() instanceof DeviceStorage d && d.backend() == first.backend())) {
            return Math.sqrt(first.backend().sumOfSquares(grads));   // a device-resident model: one transfer for all
        }
        double ss = 0;
        for (Tensor g : grads) {
            if (g.storage() instanceof DeviceStorage device) {
                ss += device.backend().sumOfSquares(g);   // reduced where it lives, not copied to the host
                continue;
            }
            for (float x : g.toFloatArray()) ss += (double) x * x;
        }
        return Math.sqrt(ss);
    }
}
