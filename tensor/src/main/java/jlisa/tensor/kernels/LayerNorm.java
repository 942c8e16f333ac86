package jlisa.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.Parallel;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * Layer normalisation over the last dim (rows of {@code cols} contiguous elements), forward and backward
 * (llm.c's {@code layernorm_forward} / {@code layernorm_backward}). Weight and bias are optional.
 *
 * <p>The mean is computed first and the variance from the centred values (a stable two-pass), with the
 * population variance (divide by cols) as in PyTorch. Forward and dx are split over rows; dweight and
 * dbias are reduced over rows in row order, split over columns, so results are bitwise identical for any
 * thread count.
 */
public final class LayerNorm {
    private LayerNorm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** Columns per parallel chunk of the dweight/dbias pass (each chunk walks every row). */
    private static final int COL_GRAIN = 256;

    /** The forward's outputs: {@code out} shaped like x, and the per-row {@code mean} and {@code rstd} (x's leading dims) saved for backward. */
    public record Result(Tensor out, Tensor mean, Tensor rstd) {}

    /** The backward's outputs; {@code dweight}/{@code dbias} are null when the forward had no weight/bias. */
    public record Gradients(Tensor dx, Tensor dweight, Tensor dbias) {}

    // ================================================================ F32 kernels

    /**
     * out[r,:] = (x[r,:] - mean_r) * rstd_r * weight + bias, with mean_r the row mean and
     * rstd_r = 1 / sqrt(var_r + eps). Saves mean[r] and rstd[r] (indexed from 0; either may be null to
     * skip saving). weight and/or bias may be null (no affine part). out may alias x.
     */
    public static void forward(float[] out, int outOff, float[] mean, float[] rstd, float[] x, int xOff,
                               float[] weight, int weightOff, float[] bias, int biasOff, int rows, int cols, float eps) {
        Parallel.forRange(0, rows, Softmax.rowGrain(cols), (lo, hi) -> {
            int upper = S.loopBound(cols);
            for (int r = lo; r < hi; r++) {
                int xo = xOff + r * cols, oo = outOff + r * cols;
                int i = 0;
                FloatVector acc = FloatVector.zero(S);
                for (; i < upper; i += L) acc = acc.add(FloatVector.fromArray(S, x, xo + i));
                float sum = Softmax.sumLanes(acc);
                for (; i < cols; i++) sum += x[xo + i];
                float m = sum / cols;

                FloatVector vm = FloatVector.broadcast(S, m);
                acc = FloatVector.zero(S);
                for (i = 0; i < upper; i += L) {
                    FloatVector d = FloatVector.fromArray(S, x, xo + i).sub(vm);
                    acc = acc.add(d.mul(d));
                }
                float ss = Softmax.sumLanes(acc);
                for (; i < cols; i++) {
                    float d = x[xo + i] - m;
                    ss += d * d;
                }
                float s = (float) (1.0 / Math.sqrt(ss / cols + eps));
                if (mean != null) mean[r] = m;
                if (rstd != null) rstd[r] = s;

                FloatVector vs = FloatVector.broadcast(S, s);
                if (weight != null && bias != null) {
                    for (i = 0; i < upper; i += L) {
                        FloatVector n = FloatVector.fromArray(S, x, xo + i).sub(vm).mul(vs);
                        n.mul(FloatVector.fromArray(S, weight, weightOff + i)).add(FloatVector.fromArray(S, bias, biasOff + i))
                                .intoArray(out, oo + i);
                    }
                    for (; i < cols; i++) out[oo + i] = (x[xo + i] - m) * s * weight[weightOff + i] + bias[biasOff + i];
                } else if (weight != null) {
                    for (i = 0; i < upper; i += L) {
                        FloatVector n = FloatVector.fromArray(S, x, xo + i).sub(vm).mul(vs);
                        n.mul(FloatVector.fromArray(S, weight, weightOff + i)).intoArray(out, oo + i);
                    }
                    for (; i < cols; i++) out[oo + i] = (x[xo + i] - m) * s * weight[weightOff + i];
                } else if (bias != null) {
                    for (i = 0; i < upper; i += L) {
                        FloatVector n = FloatVector.fromArray(S, x, xo + i).sub(vm).mul(vs);
                        n.add(FloatVector.fromArray(S, bias, biasOff + i)).intoArray(out, oo + i);
                    }
                    for (; i < cols; i++) out[oo + i] = (x[xo + i] - m) * s + bias[biasOff + i];
                } else {
                    for (i = 0; i < upper; i += L) FloatVector.fromArray(S, x, xo + i).sub(vm).mul(vs).intoArray(out, oo + i);
                    for (; i < cols; i++) out[oo + i] = (x[xo + i] - m) * s;
                }
            }
        });
    }

    /**
     * With n = (x - mean) * rstd and g = dout * weight (weight 1 when null):
     * dx[r,:] = rstd_r * (g - mean(g) - n * mean(g·n)) — <b>overwritten</b>; may be null to skip;
     * dweight += Σ_r dout·n and dbias += Σ_r dout — <b>accumulated</b>; either may be null to skip
     * (a frozen or absent parameter). dout, x, weight, mean, rstd are as in the forward.
     */
    public static void backward(float[] dx, int dxOff, float[] dweight, int dweightOff, float[] dbias, int dbiasOff,
                                float[] dout, int doutOff, float[] x, int xOff, float[] weight, int weightOff,
                                float[] mean, float[] rstd, int rows, int cols) {
        if (dx != null) {
            Parallel.forRange(0, rows, Softmax.rowGrain(cols), (lo, hi) -> {
                int upper = S.loopBound(cols);
                for (int r = lo; r < hi; r++) {
                    int xo = xOff + r * cols, go = doutOff + r * cols, dxo = dxOff + r * cols;
                    FloatVector vm = FloatVector.broadcast(S, mean[r]), vs = FloatVector.broadcast(S, rstd[r]);
                    float m = mean[r], s = rstd[r];
                    FloatVector accG = FloatVector.zero(S), accGN = FloatVector.zero(S);
                    int i = 0;
                    for (; i < upper; i += L) {
                        FloatVector n = FloatVector.fromArray(S, x, xo + i).sub(vm).mul(vs);
                        FloatVector g = FloatVector.fromArray(S, dout, go + i);
                        if (weight != null) g = g.mul(FloatVector.fromArray(S, weight, weightOff + i));
                        accG = accG.add(g);
                        accGN = accGN.add(g.mul(n));
                    }
                    float sumG = Softmax.sumLanes(accG), sumGN = Softmax.sumLanes(accGN);
                    for (; i < cols; i++) {
                        float n = (x[xo + i] - m) * s;
                        float g = weight != null ? dout[go + i] * weight[weightOff + i] : dout[go + i];
                        sumG += g;
                        sumGN += g * n;
                    }
                    float meanG = sumG / cols, meanGN = sumGN / cols;
                    FloatVector vg = FloatVector.broadcast(S, meanG), vgn = FloatVector.broadcast(S, meanGN);
                    for (i = 0; i < upper; i += L) {
                        FloatVector n = FloatVector.fromArray(S, x, xo + i).sub(vm).mul(vs);
                        FloatVector g = FloatVector.fromArray(S, dout, go + i);
                        if (weight != null) g = g.mul(FloatVector.fromArray(S, weight, weightOff + i));
                        g.sub(vg).sub(n.mul(vgn)).mul(vs).intoArray(dx, dxo + i);
                    }
                    for (; i < cols; i++) {
                        float n = (x[xo + i] - m) * s;
                        float g = weight != null ? dout[go + i] * weight[weightOff + i] : dout[go + i];
                        dx[dxo + i] = (g - meanG - n * meanGN) * s;
                    }
                }
            });
        }
        if (dweight == null && dbias == null) return;
        // Over columns, each column summed over rows in row order: the same bits whatever the split.
        Parallel.forRange(0, cols, COL_GRAIN, (c0, c1) -> {
            int upper = c0 + S.loopBound(c1 - c0);
            for (int r = 0; r < rows; r++) {
                int xo = xOff + r * cols, go = doutOff + r * cols;
                float m = mean[r], s = rstd[r];
                FloatVector vm = FloatVector.broadcast(S, m), vs = FloatVector.broadcast(S, s);
                int c = c0;
                for (; c < upper; c += L) {
                    FloatVector g = FloatVector.fromArray(S, dout, go + c);
                    if (dbias != null) FloatVector.fromArray(S, dbias, dbiasOff + c).add(g).intoArray(dbias, dbiasOff + c);
                    if (dweight != null) {
                        FloatVector n = FloatVector.fromArray(S, x, xo + c).sub(vm).mul(vs);
                        FloatVector.fromArray(S, dweight, dweightOff + c).add(g.mul(n)).intoArray(dweight, dweightOff + c);
                    }
                }
                for (; c < c1; c++) {
                    float g = dout[go + c];
                    if (dbias != null) dbias[dbiasOff + c] += g;
                    if (dweight != null) dweight[dweightOff + c] += g * ((x[xo + c] - m) * s);
                }
            }
        });
    }

    // ================================================================ F64 kernels (plain loops, for gradcheck)

    /** Float64 {@link #forward(float[], int, float[], float[], float[], int, float[], int, float[], int, int, int, float)}. */
    public static void forward(double[] out, int outOff, double[] mean, double[] rstd, double[] x, int xOff,
                               double[] weight, int weightOff, double[] bias, int biasOff, int rows, int cols, double eps) {
        for (int r = 0; r < rows; r++) {
            int xo = xOff + r * cols, oo = outOff + r * cols;
            double sum = 0;
            for (int i = 0; i < cols; i++) sum += x[xo + i];
            double m = sum / cols;
            double ss = 0;
            for (int i = 0; i < cols; i++) ss += (x[xo + i] - m) * (x[xo + i] - m);
            double s = 1.0 / Math.sqrt(ss / cols + eps);
            if (mean != null) mean[r] = m;
            if (rstd != null) rstd[r] = s;
            for (int i = 0; i < cols; i++) {
                double v = (x[xo + i] - m) * s;
                if (weight != null) v *= weight[weightOff + i];
                if (bias != null) v += bias[biasOff + i];
                out[oo + i] = v;
            }
        }
    }

    /** Float64 {@link #backward(float[], int, float[], int, float[], int, float[], int, float[], int, float[], int, float[], float[], int, int)}. */
    public static void backward(double[] dx, int dxOff, double[] dweight, int dweightOff, double[] dbias, int dbiasOff,
                                double[] dout, int doutOff, double[] x, int xOff, double[] weight, int weightOff,
                                double[] mean, double[] rstd, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int xo = xOff + r * cols, go = doutOff + r * cols;
            double m = mean[r], s = rstd[r];
            double sumG = 0, sumGN = 0;
            for (int i = 0; i < cols; i++) {
                double n = (x[xo + i] - m) * s;
                double g = weight != null ? dout[go + i] * weight[weightOff + i] : dout[go + i];
                sumG += g;
                sumGN += g * n;
                if (dbias != null) dbias[dbiasOff + i] += dout[go + i];
                if (dweight != null) dweight[dweightOff + i] += dout[go + i] * n;
            }
            if (dx == null) continue;
            double meanG = sumG / cols, meanGN = sumGN / cols;
            for (int i = 0; i < cols; i++) {
                double n = (x[xo + i] - m) * s;
                double g = weight != null ? dout[go + i] * weight[weightOff + i] : dout[go + i];
                dx[dxOff + r * cols + i] = (g - meanG - n * meanGN) * s;
            }
        }
    }

    // ================================================================ Tensor entry points

    /**
     * LayerNorm over the last dim of {@code x} (any layout). {@code weight} and {@code bias} are 1-D of x's
     * last dim, or null. mean and rstd have x's leading dims and x's compute dtype.
     */
    public static Result forward(Tensor x, Tensor weight, Tensor bias, double eps) {
        String op = "layerNorm";
        DType dt = Softmax.floatType(x, op, "x");
        if (x.dim() == 0) throw new IllegalArgumentException(op + ": expected x with at least 1 dim, got a scalar");
        int cols = x.size(-1);
        if (cols == 0) throw new IllegalArgumentException(op + ": x's last dim is 0 (shape " + Shapes.str(x.shape()) + ")");
        checkParam(op, "weight", weight, x, dt);
        checkParam(op, "bias", bias, x, dt);
        if (!(eps >= 0)) throw new IllegalArgumentException(op + ": eps must be >= 0, got " + eps);
        if (DeviceKernels.of(x, weight, bias) instanceof DeviceKernels device) return device.layerNorm(x, weight, bias, eps);
        int rows = x.numel() / cols;
        int[] statShape = leading(x.shape());
        Tensor out = Tensor.empty(dt, x.shape());
        Tensor mean = Tensor.zeros(dt, statShape), rstd = Tensor.zeros(dt, statShape);
        Tensor xd = x.dense(), w = weight == null ? null : weight.dense(), b = bias == null ? null : bias.dense();
        if (dt == DType.F64) {
            forward(out.doubleArray(), 0, mean.doubleArray(), rstd.doubleArray(), xd.doubleArray(), xd.offset(),
                    w == null ? null : w.doubleArray(), w == null ? 0 : w.offset(),
                    b == null ? null : b.doubleArray(), b == null ? 0 : b.offset(), rows, cols, eps);
        } else {
            forward(out.floatArray(), 0, mean.floatArray(), rstd.floatArray(), xd.floatArray(), xd.offset(),
                    w == null ? null : w.floatArray(), w == null ? 0 : w.offset(),
                    b == null ? null : b.floatArray(), b == null ? 0 : b.offset(), rows, cols, (float) eps);
        }
        return new Result(out, mean, rstd);
    }

    /**
     * Gradients of {@link #forward(Tensor, Tensor, Tensor, double)} given {@code dout} (x's shape) and the
     * saved mean and rstd: dx, dweight (null when {@code weight} is null) and dbias (always; drop it when the
     * forward had no bias).
     */
    public static Gradients backward(Tensor dout, Tensor x, Tensor weight, Tensor mean, Tensor rstd) {
        return backward(dout, x, weight, mean, rstd, true, weight != null, true);
    }

    /**
     * As {@link #backward(Tensor, Tensor, Tensor, Tensor, Tensor)}, computing only the gradients asked for
     * (the others come back null and cost nothing): a frozen weight needs no dweight.
     */
    public static Gradients backward(Tensor dout, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                                     boolean needDx, boolean needDweight, boolean needDbias) {
        String op = "layerNormBackward";
        DType dt = Softmax.floatType(x, op, "x");
        if (x.dim() == 0) throw new IllegalArgumentException(op + ": expected x with at least 1 dim, got a scalar");
        int cols = x.size(-1);
        if (cols == 0) throw new IllegalArgumentException(op + ": x's last dim is 0 (shape " + Shapes.str(x.shape()) + ")");
        int rows = x.numel() / cols;
        checkSame(op, "dout", dout, x, dt);
        checkParam(op, "weight", weight, x, dt);
        checkStat(op, "mean", mean, x, dt);
        checkStat(op, "rstd", rstd, x, dt);
        if (needDweight && weight == null) {
            throw new IllegalArgumentException(op + ": dweight asked for but weight is null");
        }
        if (DeviceKernels.of(dout, x, weight, mean, rstd) instanceof DeviceKernels device) {
            return device.layerNormBackward(dout, x, weight, mean, rstd, needDx, needDweight, needDbias);
        }
        Tensor dx = needDx ? Tensor.empty(dt, x.shape()) : null;
        Tensor dw = needDweight ? Tensor.zeros(dt, cols) : null;
        Tensor db = needDbias ? Tensor.zeros(dt, cols) : null;
        Tensor xd = x.dense(), gd = dout.dense(), w = weight == null ? null : weight.dense();
        Tensor md = mean.dense(), sd = rstd.dense();
        if (md.offset() != 0 || sd.offset() != 0) { md = md.copy(); sd = sd.copy(); }
        if (dt == DType.F64) {
            backward(dx == null ? null : dx.doubleArray(), 0, dw == null ? null : dw.doubleArray(), 0, db == null ? null : db.doubleArray(), 0,
                    gd.doubleArray(), gd.offset(), xd.doubleArray(), xd.offset(),
                    w == null ? null : w.doubleArray(), w == null ? 0 : w.offset(), md.doubleArray(), sd.doubleArray(), rows, cols);
        } else {
            backward(dx == null ? null : dx.floatArray(), 0, dw == null ? null : dw.floatArray(), 0, db == null ? null : db.floatArray(), 0,
                    gd.floatArray(), gd.offset(), xd.floatArray(), xd.offset(),
                    w == null ? null : w.floatArray(), w == null ? 0 : w.offset(), md.floatArray(), sd.floatArray(), rows, cols);
        }
        return new Gradients(dx, dw, db);
    }

    // ---------------------------------------------------------------- validation shared by the norm kernels

    /** x's shape without its last dim. */
    static int[] leading(int[] shape) {
        int[] s = new int[shape.length - 1];
        System.arraycopy(shape, 0, s, 0, s.length);
        return s;
    }

    /** A 1-D parameter of x's last dim and x's compute dtype, or null. */
    static void checkParam(String op, String name, Tensor p, Tensor x, DType dt) {
        if (p == null) return;
        DType pt = Softmax.floatType(p, op, name);
        if (p.dim() != 1 || p.size(0) != x.size(-1)) {
            throw new IllegalArgumentException(op + ": " + name + " has shape " + Shapes.str(p.shape())
                    + " but x's last dim is " + x.size(-1) + " (x " + Shapes.str(x.shape()) + ")");
        }
        if (pt != dt) throw new IllegalArgumentException(op + ": " + name + " is " + p.dtype() + " but x is " + x.dtype());
    }

    /** A tensor of x's shape and compute dtype. */
    static void checkSame(String op, String name, Tensor t, Tensor x, DType dt) {
        DType tt = Softmax.floatType(t, op, name);
        if (!java.util.Arrays.equals(t.shape(), x.shape())) {
            throw new IllegalArgumentException(op + ": " + name + " has shape " + Shapes.str(t.shape())
                    + " but x has shape " + Shapes.str(x.shape()));
        }
        if (tt != dt) throw new IllegalArgumentException(op + ": " + name + " is " + t.dtype() + " but x is " + x.dtype());
    }

    /** A per-row statistic: x's leading dims (or anything with one element per row) and x's compute dtype. */
    static void checkStat(String op, String name, Tensor t, Tensor x, DType dt) {
        DType tt = Softmax.floatType(t, op, name);
        int rows = x.numel() / x.size(-1);
        if (t.numel() != rows) {
            throw new IllegalArgumentException(op + ": " + name + " has shape " + Shapes.str(t.shape()) + " but x "
                    + Shapes.str(x.shape()) + " has " + rows + " rows (expected " + Shapes.str(leading(x.shape())) + ")");
        }
        if (tt != dt) throw new IllegalArgumentException(op + ": " + name + " is " + t.dtype() + " but x is " + x.dtype());
    }
}
