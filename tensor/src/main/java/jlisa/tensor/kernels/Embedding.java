package jlisa.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.Parallel;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * Token embedding: forward gathers rows of a (V, C) weight by id; backward scatter-adds the output
 * gradient into a (V, C) weight gradient. Ids are checked against [0, V) before anything is written.
 * The backward visits ids in order and is split over columns, so duplicate ids sum in the same order
 * (and give the same bits) for any thread count.
 */
public final class Embedding {
    private Embedding() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final int COL_GRAIN = 256;

    // ================================================================ F32 kernels

    /** out[i,:] = weight[ids[i],:] for i in [0, n); weight is (V, C) from weightOff. Throws if an id is outside [0, V). */
    public static void forward(float[] out, int outOff, float[] weight, int weightOff, int[] ids, int idsOff, int n, int V, int C) {
        checkIds(ids, idsOff, n, V, "embedding");
        Parallel.forRange(0, n, Math.max(1, (1 << 14) / Math.max(C, 1)), (lo, hi) -> {
            for (int i = lo; i < hi; i++) System.arraycopy(weight, weightOff + ids[idsOff + i] * C, out, outOff + i * C, C);
        });
    }

    /** dweight[ids[i],:] += dout[i,:] for i = 0 .. n-1 in order — <b>accumulated</b>. Throws if an id is outside [0, V). */
    public static void backward(float[] dweight, int dweightOff, float[] dout, int doutOff, int[] ids, int idsOff, int n, int V, int C) {
        checkIds(ids, idsOff, n, V, "embeddingBackward");
        Parallel.forRange(0, C, COL_GRAIN, (c0, c1) -> {
            int upper = c0 + S.loopBound(c1 - c0);
            for (int i = 0; i < n; i++) {
                int wo = dweightOff + ids[idsOff + i] * C, go = doutOff + i * C;
                int c = c0;
                for (; c < upper; c += L) {
                    FloatVector.fromArray(S, dweight, wo + c).add(FloatVector.fromArray(S, dout, go + c)).intoArray(dweight, wo + c);
                }
                for (; c < c1; c++) dweight[wo + c] += dout[go + c];
            }
        });
    }

    // ================================================================ F64 kernels

    /** Float64 {@link #forward(float[], int, float[], int, int[], int, int, int, int)}. */
    public static void forward(double[] out, int outOff, double[] weight, int weightOff, int[] ids, int idsOff, int n, int V, int C) {
        checkIds(ids, idsOff, n, V, "embedding");
        for (int i = 0; i < n; i++) System.arraycopy(weight, weightOff + ids[idsOff + i] * C, out, outOff + i * C, C);
    }

    /** Float64 {@link #backward(float[], int, float[], int, int[], int, int, int, int)}. */
    public static void backward(double[] dweight, int dweightOff, double[] dout, int doutOff, int[] ids, int idsOff, int n, int V, int C) {
        checkIds(ids, idsOff, n, V, "embeddingBackward");
        for (int i = 0; i < n; i++) {
            int wo = dweightOff + ids[idsOff + i] * C, go = doutOff + i * C;
            for (int c = 0; c < C; c++) dweight[wo + c] += dout[go + c];
        }
    }

    private static void checkIds(int[] ids, int idsOff, int n, int V, String op) {
        for (int i = 0; i < n; i++) {
            int id = ids[idsOff + i];
            if (id < 0 || id >= V) {
                throw new IllegalArgumentException(op + ": id " + id + " at position " + i + " is outside [0, " + V + ")");
            }
        }
    }

    // ================================================================ Tensor entry points

    /** Rows of {@code weight} (V, C) for {@code ids} (I32, any shape): shape ids.shape + (C). */
    public static Tensor forward(Tensor weight, Tensor ids) {
        int[] idArr = idArray(ids, "embedding");
        return forward(weight, idArr, ids.shape());
    }

    /** Rows of {@code weight} (V, C) for the 1-D {@code ids}: shape (ids.length, C). */
    public static Tensor forward(Tensor weight, int[] ids) { return forward(weight, ids, new int[] {ids.length}); }

    private static Tensor forward(Tensor weight, int[] ids, int[] idsShape) {
        String op = "embedding";
        DType dt = checkWeight(weight, op);
        int V = weight.size(0), C = weight.size(1);
        if (DeviceKernels.of(weight) instanceof DeviceKernels device) {
            checkIds(ids, 0, ids.length, V, op);
            return device.embedding(weight, ids, idsShape);
        }
        int[] outShape = append(idsShape, C);
        Tensor out = Tensor.zeros(dt, outShape);
        if (!weight.isDense()) {
            // a mapped or BF16 table: copy (and widen) only the rows looked up, never the whole table
            checkIds(ids, 0, ids.length, V, op);
            Tensor rows = out.view(ids.length, C);
            for (int i = 0; i < ids.length; i++) rows.narrow(0, i, 1).copyFrom(weight.narrow(0, ids[i], 1));
            return out;
        }
        if (dt == DType.F64) forward(out.doubleArray(), 0, weight.doubleArray(), weight.offset(), ids, 0, ids.length, V, C);
        else forward(out.floatArray(), 0, weight.floatArray(), weight.offset(), ids, 0, ids.length, V, C);
        return out;
    }

    /** The weight gradient (V, C) of {@link #forward(Tensor, Tensor)} given {@code dout} of shape ids.shape + (C). */
    public static Tensor backward(Tensor dout, Tensor ids, int V) {
        int[] idArr = idArray(ids, "embeddingBackward");
        return backward(dout, idArr, ids.shape(), V);
    }

    /** The weight gradient (V, C) for the 1-D {@code ids} given {@code dout} (ids.length, C). */
    public static Tensor backward(Tensor dout, int[] ids, int V) { return backward(dout, ids, new int[] {ids.length}, V); }

    private static Tensor backward(Tensor dout, int[] ids, int[] idsShape, int V) {
        String op = "embeddingBackward";
        DType dt = Softmax.floatType(dout, op, "dout");
        if (V < 0) throw new IllegalArgumentException(op + ": vocabulary size must be >= 0, got " + V);
        int[] ds = dout.shape();
        boolean ok = ds.length == idsShape.length + 1;
        for (int i = 0; ok && i < idsShape.length; i++) ok = ds[i] == idsShape[i];
        if (!ok) {
            throw new IllegalArgumentException(op + ": dout has shape " + Shapes.str(ds) + " but ids have shape "
                    + Shapes.str(idsShape) + " (expected " + Shapes.str(append(idsShape, ds.length == 0 ? 0 : ds[ds.length - 1]))
                    + ": ids' shape + (C))");
        }
        int C = ds[ds.length - 1];
        if (DeviceKernels.of(dout) instanceof DeviceKernels device) {
            checkIds(ids, 0, ids.length, V, op);
            return device.embeddingBackward(dout, ids, V);
        }
        Tensor dw = Tensor.zeros(dt, V, C);
        Tensor g = dout.dense();
        if (dt == DType.F64) backward(dw.doubleArray(), 0, g.doubleArray(), g.offset(), ids, 0, ids.length, V, C);
        else backward(dw.floatArray(), 0, g.floatArray(), g.offset(), ids, 0, ids.length, V, C);
        return dw;
    }

    private static DType checkWeight(Tensor weight, String op) {
        DType dt = Softmax.floatType(weight, op, "weight");
        if (weight.dim() != 2) {
            throw new IllegalArgumentException(op + ": weight must be 2-D (V, C), got shape " + Shapes.str(weight.shape()));
        }
        return dt;
    }

    /** The ids of an I32 tensor in row-major order (the backing array itself when it is dense from offset 0). */
    static int[] idArray(Tensor ids, String op) {
        if (ids == null) throw new IllegalArgumentException(op + ": ids are null");
        if (ids.dtype() != DType.I32) {
            throw new IllegalArgumentException(op + ": ids must be I32, got " + ids.dtype() + " " + Shapes.str(ids.shape()));
        }
        Tensor d = ids.contiguous();
        int[] a = d.intArray();
        if (d.offset() == 0 && a.length == d.numel()) return a;
        int[] copy = new int[d.numel()];
        System.arraycopy(a, d.offset(), copy, 0, copy.length);
        return copy;
    }

    private static int[] append(int[] shape, int last) {
        int[] s = new int[shape.length + 1];
        System.arraycopy(shape, 0, s, 0, shape.length);
        s[shape.length] = last;
        return s;
    }
}
