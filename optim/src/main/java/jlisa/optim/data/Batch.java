package jlisa.optim.data;

import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.CrossEntropy;

/**
 * A batch for next-token prediction: {@code inputs} and {@code targets}, both I32 of shape (B, T).
 * Input position t predicts {@code targets[b, t]}, the token at t + 1 of the row; a target of
 * {@link #IGNORE} (-100, the cross-entropy ignore index) is not counted — padding, prompt tokens.
 *
 * <p>Not thread-safe beyond its tensors: read-only use from several threads is safe.
 */
public record Batch(Tensor inputs, Tensor targets) {
    /** Targets that do not count toward the loss. */
    public static final int IGNORE = CrossEntropy.DEFAULT_IGNORE_INDEX;

    public int batchSize() { return inputs.size(0); }

    public int blockSize() { return inputs.size(1); }

    /** How many targets count (not {@link #IGNORE}): the divisor of a mean loss. */
    public int targetCount() {
        int n = 0;
        for (int t : targets.intArray()) if (t != IGNORE) n++;
        return n;
    }

    /** Rows {@code [from, to)} as a batch of their own (copied): one process's share of a data-parallel batch. */
    public Batch rows(int from, int to) {
        java.util.Objects.checkFromToIndex(from, to, batchSize());
        int t = blockSize();
        return new Batch(Tensor.of(rowsOf(inputs, from, to), to - from, t), Tensor.of(rowsOf(targets, from, to), to - from, t));
    }

    private static int[] rowsOf(Tensor ids, int from, int to) {
        Tensor c = ids.contiguous();
        int t = ids.size(1);
        return java.util.Arrays.copyOfRange(c.intArray(), c.offset() + from * t, c.offset() + to * t);
    }
}
