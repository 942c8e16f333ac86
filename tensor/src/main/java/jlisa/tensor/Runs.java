package jlisa.tensor;

/**
 * The one strided loop of the tensor module: visits the elements of a shape, seen through several
 * operands' strides at once, as runs along the innermost dim. Adjacent dims that every operand
 * lays out contiguously are merged first, so contiguous tensors make one long run that a kernel
 * can vectorise, and size-1 dims cost nothing.
 *
 * <p>Stateless; safe to call from any thread.
 */
public final class Runs {
    private Runs() {}

    /** Receives one run: each operand's offset of the run's first element, the run length, each operand's stride along it. */
    @FunctionalInterface
    public interface Body {
        void run(int[] offsets, int length, int[] strides);
    }

    /**
     * Calls {@code body} for every run of {@code shape}; operand {@code k} starts at {@code offsets[k]}
     * and has {@code strides[k]} (one stride per dim of {@code shape}). Does nothing for an empty shape.
     */
    public static void forEach(int[] shape, int[][] strides, int[] offsets, Body body) {
        int ops = strides.length;
        for (int s : shape) if (s == 0) return;
        // Coalesce: drop size-1 dims, merge dim i into i+1 when every operand has stride[i] == stride[i+1]*size[i+1].
        int[] dims = new int[shape.length];
        int[][] st = new int[ops][shape.length];
        int rank = 0;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1) continue;
            if (rank > 0) {
                boolean merge = true;
                for (int k = 0; k < ops && merge; k++) merge = st[k][rank - 1] == strides[k][i] * shape[i];
                if (merge) {
                    dims[rank - 1] *= shape[i];
                    for (int k = 0; k < ops; k++) st[k][rank - 1] = strides[k][i];
                    continue;
                }
            }
            dims[rank] = shape[i];
            for (int k = 0; k < ops; k++) st[k][rank] = strides[k][i];
            rank++;
        }
        int[] inner = new int[ops];
        int[] cur = offsets.clone();
        if (rank == 0) {
            body.run(cur, 1, inner);
            return;
        }
        for (int k = 0; k < ops; k++) inner[k] = st[k][rank - 1];
        int length = dims[rank - 1];
        int[] index = new int[rank - 1];
        int[] runOffsets = new int[ops];
        while (true) {
            System.arraycopy(cur, 0, runOffsets, 0, ops);
            body.run(runOffsets, length, inner);
            int d = rank - 2;
            while (d >= 0) {
                index[d]++;
                for (int k = 0; k < ops; k++) cur[k] += st[k][d];
                if (index[d] < dims[d]) break;
                for (int k = 0; k < ops; k++) cur[k] -= st[k][d] * dims[d];
                index[d] = 0;
                d--;
            }
            if (d < 0) return;
        }
    }
}
