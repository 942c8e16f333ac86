package jlisa.tensor;

import java.util.Arrays;

/**
 * Shape arithmetic shared by tensors and kernels: sizes, contiguous strides, broadcasting, dims.
 *
 * <p>Stateless; safe to call from any thread.
 */
public final class Shapes {
    private Shapes() {}

    /** Product of the sizes; throws if it does not fit an int (heap arrays cannot hold more). */
    public static int numel(int[] shape) {
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative size in shape " + str(shape));
            n *= s;
            if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("shape " + str(shape) + " has more than 2^31 elements");
        }
        return (int) n;
    }

    /** Row-major strides for {@code shape}. */
    public static int[] contiguousStrides(int[] shape) {
        int[] strides = new int[shape.length];
        int s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = s;
            s *= Math.max(shape[i], 1);
        }
        return strides;
    }

    /** Resolves a possibly negative dim against {@code rank}, or throws naming the dim and the rank. */
    public static int dim(int dim, int rank, String op) {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) {
            throw new IllegalArgumentException(op + ": dim " + dim + " is out of range for a tensor of rank " + rank
                    + " (expected " + (rank == 0 ? "no dim" : "-" + rank + " .. " + (rank - 1)) + ")");
        }
        return d;
    }

    /** NumPy broadcasting of two shapes, or an exception naming both. */
    public static int[] broadcast(int[] a, int[] b, String op) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
            int db = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(op + ": shapes " + str(a) + " and " + str(b)
                        + " cannot be broadcast (dim " + i + ": " + da + " vs " + db + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /**
     * Strides that read a tensor of {@code shape}/{@code strides} as if it had {@code target} shape
     * (broadcast dims get stride 0). The caller has checked that the shapes broadcast.
     */
    public static int[] broadcastStrides(int[] shape, int[] strides, int[] target) {
        int[] out = new int[target.length];
        int lead = target.length - shape.length;
        for (int i = 0; i < target.length; i++) {
            int j = i - lead;
            out[i] = j < 0 || shape[j] == 1 ? 0 : strides[j];
        }
        return out;
    }

    /** "(2, 3, 4)" */
    public static String str(int[] shape) {
        if (shape.length == 1) return "(" + shape[0] + ",)";
        String s = Arrays.toString(shape);
        return "(" + s.substring(1, s.length() - 1) + ")";
    }
}
