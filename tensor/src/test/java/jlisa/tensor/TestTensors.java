package jlisa.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.function.Consumer;

/** Helpers for tensor tests: random tensors in odd layouts, index iteration, comparison. */
public final class TestTensors {
    private TestTensors() {}

    /** Calls {@code visit} with every multi-index of {@code shape} in row-major order. */
    public static void forEachIndex(int[] shape, Consumer<int[]> visit) {
        for (int s : shape) if (s == 0) return;
        int[] idx = new int[shape.length];
        while (true) {
            visit.accept(idx.clone());
            int d = shape.length - 1;
            while (d >= 0 && ++idx[d] == shape[d]) idx[d--] = 0;
            if (d < 0) return;
        }
    }

    /** Random normal tensor of {@code shape}; when {@code strided}, a non-contiguous view with the same values layout-wise random. */
    public static Tensor random(Rng rng, DType dtype, boolean strided, int... shape) {
        if (!strided || shape.length == 0) return Tensor.randn(rng, 0, 1, dtype, shape);
        // Build a bigger tensor with the dims reversed and padded, then transpose back and narrow: strides are odd.
        int r = shape.length;
        int[] big = new int[r];
        for (int i = 0; i < r; i++) big[i] = shape[r - 1 - i] + 1;
        Tensor t = Tensor.randn(rng, 0, 1, dtype, big);
        int[] order = new int[r];
        for (int i = 0; i < r; i++) order[i] = r - 1 - i;
        t = t.permute(order);
        for (int i = 0; i < r; i++) t = t.narrow(i, 1, shape[i]);
        return t;
    }

    /** Asserts equal shapes and values within {@code tol} (absolute + relative to the expected magnitude). */
    public static void assertClose(Tensor actual, Tensor expected, double tol) {
        assertThat(actual.shape()).as("shape").containsExactly(expected.shape());
        forEachIndex(expected.shape(), idx -> {
            double e = expected.get(idx), a = actual.get(idx);
            if (Double.isNaN(e)) {
                assertThat(a).as("at %s", java.util.Arrays.toString(idx)).isNaN();
            } else if (Double.isInfinite(e)) {
                assertThat(a).as("at %s", java.util.Arrays.toString(idx)).isEqualTo(e);
            } else {
                assertThat(Math.abs(a - e)).as("at %s: %s vs expected %s", java.util.Arrays.toString(idx), a, e)
                        .isLessThanOrEqualTo(tol * (1 + Math.abs(e)));
            }
        });
    }
}
