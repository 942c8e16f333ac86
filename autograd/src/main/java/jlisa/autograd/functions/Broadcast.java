package jlisa.autograd.functions;

import java.util.Arrays;

import jlisa.tensor.Tensor;

/**
 * The gradient side of broadcasting: a gradient of the broadcast shape summed back to an input's shape.
 *
 * <p>Stateless; safe to call from any thread.
 */
public final class Broadcast {
    private Broadcast() {}

    /**
     * Sums {@code grad} over the dims that broadcasting added or stretched, so it has {@code shape}
     * again. Returns {@code grad} itself when nothing was broadcast.
     */
    public static Tensor sumToShape(Tensor grad, int[] shape) {
        int[] g = grad.shape();
        if (Arrays.equals(g, shape)) return grad;
        int lead = g.length - shape.length;
        int[] dims = new int[g.length];
        int n = 0;
        for (int i = 0; i < g.length; i++) {
            if (i < lead || (shape[i - lead] == 1 && g[i] != 1)) dims[n++] = i;
        }
        Tensor summed = grad.sum(true, Arrays.copyOf(dims, n));
        return summed.reshape(shape);
    }
}
