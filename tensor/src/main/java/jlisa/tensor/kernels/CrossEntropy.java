package jlisa.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.Parallel;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

import java.util.Arrays;

/**
 * Fused softmax cross-entropy over the last dim: the loss (mean over rows whose target is not the ignore
 * index) and the logits' gradient in one sweep of each row, without materialising the probabilities
 * anywhere but in dlogits itself.
 *
 * <p>Per row r with target t: loss_r = logsumexp(x_r) - x_r[t]; dlogits_r = (softmax(x_r) - onehot(t)) / count,
 * where count is the number of non-ignored rows, so the backward of the mean loss is {@code dlogits · upstream}.
 * Ignored rows get loss 0 and a zero gradient. When every row is ignored the loss is NaN (0/0, as PyTorch's
 * mean reduction gives) and dlogits is all zeros, so such a batch leaves the weights alone.
 *
 * <p>Rows are split across threads; the loss is summed over rows in row order (in double), so results are
 * bitwise identical for any thread count.
 */
public final class CrossEntropy {
    private CrossEntropy() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** PyTorch's default ignore index. */
    public static final int DEFAULT_IGNORE_INDEX = -100;

    /** The mean {@code loss} (a scalar) and {@code dlogits} (logits' shape; null when not asked for). */
    public record Result(Tensor loss, Tensor dlogits) {}

    // ================================================================ F32 kernel

    /**
     * Cross-entropy of {@code rows} rows of {@code V} logits against {@code targets}; returns the mean loss
     * over non-ignored rows (NaN when there are none). {@code dlogits} (rows × V from dOff) is
     * <b>overwritten</b> with the gradient of that mean, or skipped when null (eval); it may alias logits.
     * {@code rowLoss}, when not null, receives each row's loss from index 0 (0 for ignored rows).
     * Throws before writing anything if a target is neither the ignore index nor in [0, V).
     */
    public static double forward(float[] dlogits, int dOff, float[] rowLoss, float[] logits, int lOff,
                                 int[] targets, int tOff, int rows, int V, int ignoreIndex) {
        int count = countTargets(targets, tOff, rows, V, ignoreIndex);
        double total = forwardSum(dlogits, dOff, rowLoss, logits, lOff, targets, tOff, rows, V, ignoreIndex, count, 0);
        return mean(total, count);
    }

    /**
     * The kernel of {@link #forward(float[], int, float[], float[], int, int[], int, int, int, int)} for a chunk of
     * a larger batch (the fused LM head computes its logits a chunk at a time): dlogits is scaled by 1/{@code count},
     * the non-ignored rows of the whole batch, and the chunk's row losses are added in row order to {@code total},
     * which is returned, so the sum over chunks is the same double as over the whole batch at once. The caller has
     * validated the targets ({@link #countTargets}).
     */
    public static double forwardSum(float[] dlogits, int dOff, float[] rowLoss, float[] logits, int lOff,
                                    int[] targets, int tOff, int rows, int V, int ignoreIndex, int count, double total) {
        float scale = count == 0 ? 0f : 1f / count;
        double[] losses = new double[rows];
        Parallel.forRange(0, rows, Softmax.rowGrain(V), (lo, hi) -> {
            int upper = S.loopBound(V);
            for (int r = lo; r < hi; r++) {
                int xo = lOff + r * V, go = dOff + r * V;
                int t = targets[tOff + r];
                if (t == ignoreIndex) {
                    if (dlogits != null) Arrays.fill(dlogits, go, go + V, 0f);
                    continue;
                }
                float xt = logits[xo + t]; // read before dlogits (which may alias logits) is written
                int i = 0;
                float max = Float.NEGATIVE_INFINITY;
                if (upper > 0) {
                    FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
                    for (; i < upper; i += L) vmax = vmax.max(FloatVector.fromArray(S, logits, xo + i));
                    max = vmax.reduceLanes(VectorOperators.MAX);
                }
                for (; i < V; i++) max = Math.max(max, logits[xo + i]);

                FloatVector vm = FloatVector.broadcast(S, max);
                FloatVector vsum = FloatVector.zero(S);
                float sum;
                if (dlogits != null) {
                    for (i = 0; i < upper; i += L) {
                        FloatVector e = Softmax.exp(FloatVector.fromArray(S, logits, xo + i).sub(vm));
                        e.intoArray(dlogits, go + i);
                        vsum = vsum.add(e);
                    }
                    sum = Softmax.sumLanes(vsum);
                    for (; i < V; i++) {
                        float e = Softmax.exp(logits[xo + i] - max);
                        dlogits[go + i] = e;
                        sum += e;
                    }
                    float k = scale / sum;
                    FloatVector vk = FloatVector.broadcast(S, k);
                    for (i = 0; i < upper; i += L) FloatVector.fromArray(S, dlogits, go + i).mul(vk).intoArray(dlogits, go + i);
                    for (; i < V; i++) dlogits[go + i] *= k;
                    dlogits[go + t] -= scale;
                } else {
                    for (i = 0; i < upper; i += L) {
                        vsum = vsum.add(Softmax.exp(FloatVector.fromArray(S, logits, xo + i).sub(vm)));
                    }
                    sum = Softmax.sumLanes(vsum);
                    for (; i < V; i++) sum += Softmax.exp(logits[xo + i] - max);
                }
                losses[r] = (double) max + Math.log(sum) - xt;
            }
        });
        return addLosses(losses, rowLoss, total);
    }

    /**
     * Cross-entropy of a batch whose rows arrive in chunks, as the fused LM head computes its logits: each chunk's
     * rows are added to the loss and, when asked, its logits overwritten by their gradient (scaled by 1/count, count
     * being the batch's non-ignored rows). The row losses are summed in row order, so the total is the same double
     * whatever the chunking. Made by {@link #rows}; a device backend keeps the row losses in its memory until
     * {@link #total()}.
     */
    public interface Rows extends AutoCloseable {
        /** Rows {@code r0 .. r0 + logits.size(0) − 1} of the batch, logits (rows, V) dense; dlogits replace them when {@code grad}. */
        void chunk(Tensor logits, int r0, boolean grad);

        /** The sum of the row losses so far, in row order. */
        double total();

        /** Gives back what the rows held (device buffers). */
        @Override default void close() {}
    }

    /**
     * The {@link Rows} of a batch of {@code n} rows of {@code V} classes whose logits will be in {@code place}'s
     * memory, against {@code targets[tOff ..]} already validated by {@link #countTargets} ({@code count} of them
     * not ignored).
     */
    public static Rows rows(Tensor place, int[] targets, int tOff, int n, int V, int ignoreIndex, int count) {
        if (DeviceKernels.of(place) instanceof DeviceKernels device) {
            return device.crossEntropyRows(targets, tOff, n, V, ignoreIndex, count);
        }
        return new Rows() {
            private double total;

            @Override public void chunk(Tensor lc, int r0, boolean grad) {
                int rows = lc.size(0);
                if (lc.dtype() == DType.F32) {
                    total = forwardSum(grad ? lc.floatArray() : null, lc.offset(), null, lc.floatArray(), lc.offset(), targets,
                            tOff + r0, rows, V, ignoreIndex, count, total);
                } else {
                    total = forwardSum(grad ? lc.doubleArray() : null, lc.offset(), null, lc.doubleArray(), lc.offset(), targets,
                            tOff + r0, rows, V, ignoreIndex, count, total);
                }
            }

            @Override public double total() { return total; }
        };
    }

    // ================================================================ F64 kernel (plain loops, for gradcheck)

    /** Float64 {@link #forward(float[], int, float[], float[], int, int[], int, int, int, int)}. */
    public static double forward(double[] dlogits, int dOff, double[] rowLoss, double[] logits, int lOff,
                                 int[] targets, int tOff, int rows, int V, int ignoreIndex) {
        int count = countTargets(targets, tOff, rows, V, ignoreIndex);
        double total = forwardSum(dlogits, dOff, rowLoss, logits, lOff, targets, tOff, rows, V, ignoreIndex, count, 0);
        return mean(total, count);
    }

    /** Float64 {@link #forwardSum(float[], int, float[], float[], int, int[], int, int, int, int, int, double)}. */
    public static double forwardSum(double[] dlogits, int dOff, double[] rowLoss, double[] logits, int lOff,
                                    int[] targets, int tOff, int rows, int V, int ignoreIndex, int count, double total) {
        double scale = count == 0 ? 0 : 1.0 / count;
        double[] losses = new double[rows];
        for (int r = 0; r < rows; r++) {
            int xo = lOff + r * V, go = dOff + r * V;
            int t = targets[tOff + r];
            if (t == ignoreIndex) {
                if (dlogits != null) Arrays.fill(dlogits, go, go + V, 0);
                continue;
            }
            double xt = logits[xo + t];
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < V; i++) max = Math.max(max, logits[xo + i]);
            double sum = 0;
            for (int i = 0; i < V; i++) sum += Math.exp(logits[xo + i] - max);
            double lse = max + Math.log(sum);
            if (dlogits != null) {
                for (int i = 0; i < V; i++) dlogits[go + i] = Math.exp(logits[xo + i] - lse) * scale;
                dlogits[go + t] -= scale;
            }
            losses[r] = lse - xt;
        }
        if (rowLoss != null) System.arraycopy(losses, 0, rowLoss, 0, rows);
        return addLosses(losses, null, total);
    }

    /**
     * Validates the targets (each the ignore index or in [0, V)) and counts the rows that are not ignored.
     *
     * @throws IllegalArgumentException naming the first bad target and its row
     */
    public static int countTargets(int[] targets, int tOff, int rows, int V, int ignoreIndex) {
        int count = 0;
        for (int r = 0; r < rows; r++) {
            int t = targets[tOff + r];
            if (t == ignoreIndex) continue;
            if (t < 0 || t >= V) {
                throw new IllegalArgumentException("crossEntropy: target " + t + " at row " + r + " is outside [0, " + V
                        + ") and is not the ignore index " + ignoreIndex);
            }
            count++;
        }
        return count;
    }

    /**
     * The mean loss from the row losses' {@link #forwardSum sum} and the count of non-ignored rows: NaN when every
     * row is ignored (0/0, as PyTorch's mean reduction gives).
     */
    public static double mean(double total, int count) {
        return count == 0 ? Double.NaN : total / count;
    }

    /** {@code total} plus the losses in row order; each row's loss also into rowLoss (as float) when asked. */
    private static double addLosses(double[] losses, float[] rowLoss, double total) {
        for (int r = 0; r < losses.length; r++) {
            total += losses[r];
            if (rowLoss != null) rowLoss[r] = (float) losses[r];
        }
        return total;
    }

    // ================================================================ Tensor entry points

    /**
     * Mean cross-entropy of {@code logits} (..., V) against I32 {@code targets} (...), skipping rows whose
     * target is {@code ignoreIndex}, with dlogits (logits' shape, already divided by the count).
     */
    public static Result forward(Tensor logits, Tensor targets, int ignoreIndex) {
        return forward(logits, targets, ignoreIndex, true);
    }

    /** As {@link #forward(Tensor, Tensor, int)}; with {@code computeGrad} false (eval) dlogits is null and never allocated. */
    public static Result forward(Tensor logits, Tensor targets, int ignoreIndex, boolean computeGrad) {
        if (DeviceKernels.of(logits) instanceof DeviceKernels device) return forwardOnDevice(device, logits, targets, ignoreIndex, computeGrad);
        Checked c = check(logits, targets, "crossEntropy");
        Tensor dl = computeGrad ? Tensor.zeros(c.dt, logits.shape()) : null;
        double loss;
        if (c.dt == DType.F64) {
            loss = forward(dl == null ? null : dl.doubleArray(), 0, null, c.x.doubleArray(), c.x.offset(),
                    c.targets, 0, c.rows, c.V, ignoreIndex);
        } else {
            loss = forward(dl == null ? null : dl.floatArray(), 0, null, c.x.floatArray(), c.x.offset(),
                    c.targets, 0, c.rows, c.V, ignoreIndex);
        }
        return new Result(Tensor.full(loss, c.dt), dl);
    }

    /** Each row's loss (targets' shape; 0 where the target is ignored): per-token negative log-likelihoods. */
    public static Tensor rowLosses(Tensor logits, Tensor targets, int ignoreIndex) {
        Checked c = check(logits, targets, "crossEntropy");
        Tensor out = Tensor.zeros(c.dt, targets.shape());
        if (c.dt == DType.F64) {
            forward(null, 0, out.doubleArray(), c.x.doubleArray(), c.x.offset(), c.targets, 0, c.rows, c.V, ignoreIndex);
        } else {
            forward(null, 0, out.floatArray(), c.x.floatArray(), c.x.offset(), c.targets, 0, c.rows, c.V, ignoreIndex);
        }
        return out;
    }

    /**
     * The device's {@link Rows} over the logits as one chunk: dlogits are written into a contiguous device copy of the
     * logits (the logits themselves are read only); the mean loss comes back as the one value on the host.
     */
    private static Result forwardOnDevice(DeviceKernels device, Tensor logits, Tensor targets, int ignoreIndex,
                                          boolean computeGrad) {
        String op = "crossEntropy";
        if (logits.dim() == 0) throw new IllegalArgumentException(op + ": logits must have at least 1 dim (..., V), got a scalar");
        int[] ls = logits.shape();
        int[] lead = LayerNorm.leading(ls);
        if (targets == null || !Arrays.equals(targets.shape(), lead)) {
            throw new IllegalArgumentException(op + ": targets have shape " + (targets == null ? "null" : Shapes.str(targets.shape()))
                    + " but logits " + Shapes.str(ls) + " need targets of shape " + Shapes.str(lead));
        }
        int V = ls[ls.length - 1], rows = Shapes.numel(lead);
        if (V == 0) throw new IllegalArgumentException(op + ": logits have an empty class dim (shape " + Shapes.str(ls) + ")");
        int[] t = Embedding.idArray(targets, op);
        int count = countTargets(t, 0, rows, V, ignoreIndex);
        Tensor work = computeGrad || !logits.isContiguous() ? logits.copy() : logits;   // the kernel writes dlogits in place
        double total;
        try (Rows r = device.crossEntropyRows(t, 0, rows, V, ignoreIndex, count)) {
            r.chunk(work.reshape(rows, V), 0, computeGrad);
            total = r.total();
        }
        if (!computeGrad && work != logits) work.storage().release();
        return new Result(Tensor.full(mean(total, count), DType.F32), computeGrad ? work : null);
    }

    private record Checked(DType dt, Tensor x, int[] targets, int rows, int V) {}

    private static Checked check(Tensor logits, Tensor targets, String op) {
        if (DeviceKernels.of(logits) instanceof DeviceKernels device) throw device.missing("per-row crossEntropy losses");
        DType dt = Softmax.floatType(logits, op, "logits");
        if (logits.dim() == 0) throw new IllegalArgumentException(op + ": logits must have at least 1 dim (..., V), got a scalar");
        int[] ls = logits.shape();
        int[] lead = LayerNorm.leading(ls);
        if (targets == null) throw new IllegalArgumentException(op + ": targets are null");
        if (!Arrays.equals(targets.shape(), lead)) {
            throw new IllegalArgumentException(op + ": targets have shape " + Shapes.str(targets.shape()) + " but logits "
                    + Shapes.str(ls) + " need targets of shape " + Shapes.str(lead));
        }
        int V = ls[ls.length - 1];
        if (V == 0) throw new IllegalArgumentException(op + ": logits have an empty class dim (shape " + Shapes.str(ls) + ")");
        int[] t = Embedding.idArray(targets, op);
        return new Checked(dt, logits.dense(), t, Shapes.numel(lead), V);
    }
}
