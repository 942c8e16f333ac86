package jlisa.tensor.kernels;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.Parallel;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * Reductions over any set of dims, with keepdim: sum, mean, max, var, and argmax over one dim.
 *
 * <p>One mechanism serves all of them: the kept dims are permuted to the front and the reduced
 * dims to the back, the result is made contiguous (a copy only when the layout asks for it), and
 * each of the {@code outer} rows of {@code inner} elements is reduced by a plain row kernel.
 *
 * <p>Stateless; safe to call from any thread on outputs no other thread touches.
 */
public final class Reductions {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private Reductions() {}

    private enum Kind { SUM, MEAN, MAX }

    public static Tensor sum(Tensor x, boolean keepDim, int... dims) {
        if (DeviceKernels.of(x) instanceof DeviceKernels device) return device.sum(x, keepDim, checkDims(x, dims, "sum"), false);
        return reduce(Kind.SUM, x, keepDim, dims, "sum");
    }

    public static Tensor mean(Tensor x, boolean keepDim, int... dims) {
        if (DeviceKernels.of(x) instanceof DeviceKernels device) return device.sum(x, keepDim, checkDims(x, dims, "mean"), true);
        return reduce(Kind.MEAN, x, keepDim, dims, "mean");
    }

    public static Tensor max(Tensor x, boolean keepDim, int... dims) {
        if (DeviceKernels.of(x) instanceof DeviceKernels device) throw device.missing("max");
        return reduce(Kind.MAX, x, keepDim, dims, "max");
    }

    /** {@code dims} made non-negative and checked (each a dim of x, none twice); all dims when none are given. */
    private static int[] checkDims(Tensor x, int[] dims, String op) {
        int rank = x.dim();
        boolean[] reduced = reducedMask(x, dims, op);
        int n = 0;
        for (boolean r : reduced) if (r) n++;
        int[] out = new int[n];
        for (int i = 0, j = 0; i < rank; i++) if (reduced[i]) out[j++] = i;
        return out;
    }

    /** Variance with {@code correction} subtracted from the count (1: unbiased, 0: population), two-pass. */
    public static Tensor var(Tensor x, boolean keepDim, int correction, int... dims) {
        if (DeviceKernels.of(x) instanceof DeviceKernels device) throw device.missing("var");
        Rows r = rows(x, dims, "var");
        Tensor out = Tensor.zeros(r.dtype, r.outShape(keepDim));
        double denom = Math.max(0, r.inner - correction);
        for (int i = 0; i < r.outer; i++) {
            int off = r.offset + i * r.inner;
            double m, ss = 0;
            if (r.dtype == DType.F32) {
                float[] a = r.data.floatArray();
                m = sumRow(a, off, r.inner) / r.inner;
                for (int j = 0; j < r.inner; j++) {
                    double d = a[off + j] - m;
                    ss += d * d;
                }
            } else {
                double[] a = r.data.doubleArray();
                m = 0;
                for (int j = 0; j < r.inner; j++) m += a[off + j];
                m /= r.inner;
                for (int j = 0; j < r.inner; j++) {
                    double d = a[off + j] - m;
                    ss += d * d;
                }
            }
            setFlat(out, i, ss / denom);
        }
        return out;
    }

    /** Index of the first maximum along {@code dim} (a NaN counts as the maximum, as in PyTorch), as I32. */
    public static Tensor argmax(Tensor x, int dim, boolean keepDim) {
        if (DeviceKernels.of(x) instanceof DeviceKernels device) throw device.missing("argmax");
        if (x.dim() == 0) return Tensor.zeros(DType.I32);
        int d = Shapes.dim(dim, x.dim(), "argmax");
        Rows r = rows(x, new int[] {d}, "argmax");
        if (r.inner == 0) throw new IllegalArgumentException("argmax: dim " + d + " of shape " + Shapes.str(x.shape()) + " is empty");
        Tensor out = Tensor.zeros(DType.I32, r.outShape(keepDim));
        int[] idx = out.intArray();
        for (int i = 0; i < r.outer; i++) {
            int off = r.offset + i * r.inner, best = 0;
            double bestValue = get(r.data, off);
            if (!Double.isNaN(bestValue)) {
                for (int j = 1; j < r.inner; j++) {
                    double v = get(r.data, off + j);
                    if (Double.isNaN(v)) { best = j; break; }
                    if (v > bestValue) { best = j; bestValue = v; }
                }
            }
            idx[i] = best;
        }
        return out;
    }

    private static Tensor reduce(Kind kind, Tensor x, boolean keepDim, int[] dims, String op) {
        Tensor columns = kind == Kind.MAX ? null : leadingSum(x, keepDim, dims, kind == Kind.MEAN);
        if (columns != null) return columns;
        Rows r = rows(x, dims, op);
        if (kind == Kind.MAX && r.inner == 0) {
            throw new IllegalArgumentException("max: cannot reduce over an empty dim of shape " + Shapes.str(x.shape()));
        }
        Tensor out = Tensor.zeros(r.dtype, r.outShape(keepDim));
        for (int i = 0; i < r.outer; i++) {
            int off = r.offset + i * r.inner;
            double v;
            if (r.dtype == DType.F32) {
                float[] a = r.data.floatArray();
                v = kind == Kind.MAX ? maxRow(a, off, r.inner) : sumRow(a, off, r.inner);
            } else {
                double[] a = r.data.doubleArray();
                v = kind == Kind.MAX ? Double.NEGATIVE_INFINITY : 0;
                for (int j = 0; j < r.inner; j++) v = kind == Kind.MAX ? Math.max(v, a[off + j]) : v + a[off + j];
            }
            if (kind == Kind.MEAN) v /= r.inner;
            setFlat(out, i, v);
        }
        return out;
    }

    /**
     * Sum (or mean) of a dense F32 tensor over its leading dims, e.g. a bias gradient Σ_rows g: the rows are
     * added column-wise in place of the permute-and-copy of the general path. Null when the case does not apply.
     * Each column adds its rows in row order on one thread, so the result does not depend on the thread count.
     */
    private static Tensor leadingSum(Tensor x, boolean keepDim, int[] dims, boolean mean) {
        int rank = x.dim();
        if (x.dtype() != DType.F32 || !x.isDense() || dims.length == 0 || dims.length >= rank) return null;
        boolean[] reduced = new boolean[rank];
        for (int d : dims) {
            int dd = d < 0 ? d + rank : d;
            if (dd < 0 || dd >= rank || reduced[dd]) return null;   // let the general path report the error
            reduced[dd] = true;
        }
        for (int i = 0; i < dims.length; i++) if (!reduced[i]) return null;   // not exactly the leading dims
        int[] shape = x.shape();
        int rows = 1, cols = 1;
        for (int i = 0; i < rank; i++) if (i < dims.length) rows *= shape[i]; else cols *= shape[i];
        int[] outShape = new int[keepDim ? rank : rank - dims.length];
        for (int i = 0, j = 0; i < rank; i++) {
            if (i >= dims.length) outShape[j++] = shape[i];
            else if (keepDim) outShape[j++] = 1;
        }
        Tensor out = Tensor.zeros(DType.F32, outShape);
        float[] a = x.floatArray(), o = out.floatArray();
        int off = x.offset(), nRows = rows, nCols = cols;
        // Threads take column ranges; each column is still summed over the rows in order, so the bits do not
        // depend on the split (the bias gradients of a GPT-2 step ran here on one thread).
        int grain = Math.max(S.length(), (1 << 15) / Math.max(1, rows));
        Parallel.forRange(0, cols, grain, (lo, hi) -> {
            for (int r = 0; r < nRows; r++) {
                int base = off + r * nCols, j = lo;
                for (int bound = lo + S.loopBound(hi - lo); j < bound; j += S.length()) {
                    FloatVector.fromArray(S, o, j).add(FloatVector.fromArray(S, a, base + j)).intoArray(o, j);
                }
                for (; j < hi; j++) o[j] += a[base + j];
            }
        });
        if (mean) for (int j = 0; j < cols; j++) o[j] /= rows;
        return out;
    }

    // ---------------------------------------------------------------- row kernels

    /** Sum of {@code a[off .. off+n)}: four vector accumulators, then the lanes, then the tail. */
    public static float sumRow(float[] a, int off, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        int i = 0, step = S.length();
        for (int bound = n - 4 * step; i <= bound; i += 4 * step) {
            s0 = s0.add(FloatVector.fromArray(S, a, off + i));
            s1 = s1.add(FloatVector.fromArray(S, a, off + i + step));
            s2 = s2.add(FloatVector.fromArray(S, a, off + i + 2 * step));
            s3 = s3.add(FloatVector.fromArray(S, a, off + i + 3 * step));
        }
        for (int bound = S.loopBound(n); i < bound; i += step) s0 = s0.add(FloatVector.fromArray(S, a, off + i));
        float s = Softmax.sumLanes(s0.add(s1).add(s2.add(s3)));   // lane order: reduceLanes(ADD)'s depends on the JIT
        for (; i < n; i++) s += a[off + i];
        return s;
    }

    /** Maximum of {@code a[off .. off+n)}, NaN if any element is NaN; -inf for n == 0. */
    public static float maxRow(float[] a, int off, int n) {
        FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) m = m.max(FloatVector.fromArray(S, a, off + i));
        float r = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) r = Math.max(r, a[off + i]);
        return r;
    }

    // ---------------------------------------------------------------- layout

    /** {@code x} arranged as {@code outer} contiguous rows of {@code inner} elements to reduce. */
    private record Rows(Tensor data, int offset, int outer, int inner, DType dtype, int[] shape, boolean[] reduced) {
        int[] outShape(boolean keepDim) {
            int n = 0;
            for (boolean r : reduced) if (!r || keepDim) n++;
            int[] out = new int[n];
            for (int i = 0, j = 0; i < shape.length; i++) {
                if (!reduced[i]) out[j++] = shape[i];
                else if (keepDim) out[j++] = 1;
            }
            return out;
        }
    }

    /** Which dims of x {@code dims} reduces, checked (each a dim of x, none twice); all of them when none are given. */
    private static boolean[] reducedMask(Tensor x, int[] dims, String op) {
        int rank = x.dim();
        boolean[] reduced = new boolean[rank];
        if (dims.length == 0) Arrays.fill(reduced, true);
        for (int d : dims) {
            int dd = Shapes.dim(d, rank, op);
            if (reduced[dd]) throw new IllegalArgumentException(op + ": dim " + d + " appears twice in " + Arrays.toString(dims));
            reduced[dd] = true;
        }
        return reduced;
    }

    private static Rows rows(Tensor x, int[] dims, String op) {
        int rank = x.dim();
        boolean[] reduced = reducedMask(x, dims, op);
        int[] order = new int[rank];
        int k = 0, outer = 1, inner = 1;
        int[] shape = x.shape();
        for (int i = 0; i < rank; i++) if (!reduced[i]) { order[k++] = i; outer *= shape[i]; }
        for (int i = 0; i < rank; i++) if (reduced[i]) { order[k++] = i; inner *= shape[i]; }
        DType dtype = x.dtype() == DType.F64 ? DType.F64 : DType.F32;
        Tensor data = x.permute(order).contiguous().to(dtype).dense();
        return new Rows(data, data.offset(), outer, inner, dtype, shape, reduced);
    }

    private static double get(Tensor dense, int i) {
        return dense.dtype() == DType.F32 ? dense.floatArray()[i] : dense.doubleArray()[i];
    }

    private static void setFlat(Tensor out, int i, double v) {
        if (out.dtype() == DType.F32) out.floatArray()[i] = (float) v;
        else out.doubleArray()[i] = v;
    }
}
