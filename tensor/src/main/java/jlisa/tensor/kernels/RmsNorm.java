package jlisa.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceKernels;
import jlisa.tensor.Parallel;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * RMS normalisation over the last dim (LLaMA's RMSNorm), forward and backward: no centring, no bias,
 * optional weight. Forward and dx are split over rows; dweight is reduced over rows in row order, split
 * over columns, so results are bitwise identical for any thread count.
 */
public final class RmsNorm {
    private RmsNorm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final int COL_GRAIN = 256;

    /** The forward's outputs: {@code out} shaped like x, and the per-row {@code rstd} (x's leading dims) saved for backward. */
    public record Result(Tensor out, Tensor rstd) {}

    /** The backward's outputs; {@code dweight} is null when not asked for. */
    public record Gradients(Tensor dx, Tensor dweight) {}

    // ================================================================ F32 kernels

    /**
     * out[r,:] = x[r,:] * rstd_r * weight, rstd_r = 1 / sqrt(mean(x[r,:]²) + eps). Saves rstd[r] (indexed
     * from 0; null to skip). weight may be null. out may alias x.
     */
    public static void forward(float[] out, int outOff, float[] rstd, float[] x, int xOff, float[] weight, int weightOff,
                               int rows, int cols, float eps) {
        Parallel.forRange(0, rows, Softmax.rowGrain(cols), (lo, hi) -> {
            int upper = S.loopBound(cols);
            for (int r = lo; r < hi; r++) {
                int xo = xOff + r * cols, oo = outOff + r * cols;
                int i = 0;
                FloatVector acc = FloatVector.zero(S);
                for (; i < upper; i += L) {
                    FloatVector v = FloatVector.fromArray(S, x, xo + i);
                    acc = acc.add(v.mul(v));
                }
                float ss = Softmax.sumLanes(acc);
                for (; i < cols; i++) ss += x[xo + i] * x[xo + i];
                float s = (float) (1.0 / Math.sqrt(ss / cols + eps));
                if (rstd != null) rstd[r] = s;
                FloatVector vs = FloatVector.broadcast(S, s);
                if (weight != null) {
                    for (i = 0; i < upper; i += L) {
                        FloatVector.fromArray(S, x, xo + i).mul(vs).mul(FloatVector.fromArray(S, weight, weightOff + i))
                                .intoArray(out, oo + i);
                    }
                    for (; i < cols; i++) out[oo + i] = x[xo + i] * s * weight[weightOff + i];
                } else {
                    for (i = 0; i < upper; i += L) FloatVector.fromArray(S, x, xo + i).mul(vs).intoArray(out, oo + i);
                    for (; i < cols; i++) out[oo + i] = x[xo + i] * s;
                }
            }
        });
    }

    /**
     * With n = x * rstd and g = dout * weight (weight 1 when null):
     * dx[r,:] = rstd_r * (g - n * mean(g·n)) — <b>overwritten</b>; null to skip;
     * dweight += Σ_r dout·n — <b>accumulated</b>; null to skip.
     */
    public static void backward(float[] dx, int dxOff, float[] dweight, int dweightOff, float[] dout, int doutOff,
                                float[] x, int xOff, float[] weight, int weightOff, float[] rstd, int rows, int cols) {
        if (dx != null) {
            Parallel.forRange(0, rows, Softmax.rowGrain(cols), (lo, hi) -> {
                int upper = S.loopBound(cols);
                for (int r = lo; r < hi; r++) {
                    int xo = xOff + r * cols, go = doutOff + r * cols, dxo = dxOff + r * cols;
                    float s = rstd[r];
                    FloatVector vs = FloatVector.broadcast(S, s);
                    FloatVector acc = FloatVector.zero(S);
                    int i = 0;
                    for (; i < upper; i += L) {
                        FloatVector n = FloatVector.fromArray(S, x, xo + i).mul(vs);
                        FloatVector g = FloatVector.fromArray(S, dout, go + i);
                        if (weight != null) g = g.mul(FloatVector.fromArray(S, weight, weightOff + i));
                        acc = acc.add(g.mul(n));
                    }
                    float sumGN = Softmax.sumLanes(acc);
                    for (; i < cols; i++) {
                        float n = x[xo + i] * s;
                        float g = weight != null ? dout[go + i] * weight[weightOff + i] : dout[go + i];
                        sumGN += g * n;
                    }
                    float meanGN = sumGN / cols;
                    FloatVector vgn = FloatVector.broadcast(S, meanGN);
                    for (i = 0; i < upper; i += L) {
                        FloatVector n = FloatVector.fromArray(S, x, xo + i).mul(vs);
                        FloatVector g = FloatVector.fromArray(S, dout, go + i);
                        if (weight != null) g = g.mul(FloatVector.fromArray(S, weight, weightOff + i));
                        g.sub(n.mul(vgn)).mul(vs).intoArray(dx, dxo + i);
                    }
                    for (; i < cols; i++) {
                        float n = x[xo + i] * s;
                        float g = weight != null ? dout[go + i] * weight[weightOff + i] : dout[go + i];
                        dx[dxo + i] = (g - n * meanGN) * s;
                    }
                }
            });
        }
        if (dweight == null) return;
        // Over columns, each column summed over rows in row order: the same bits whatever the split.
        Parallel.forRange(0, cols, COL_GRAIN, (c0, c1) -> {
            int upper = c0 + S.loopBound(c1 - c0);
            for (int r = 0; r < rows; r++) {
                int xo = xOff + r * cols, go = doutOff + r * cols;
                float s = rstd[r];
                FloatVector vs = FloatVector.broadcast(S, s);
                int c = c0;
                for (; c < upper; c += L) {
                    FloatVector n = FloatVector.fromArray(S, x, xo + c).mul(vs);
                    FloatVector g = FloatVector.fromArray(S, dout, go + c);
                    FloatVector.fromArray(S, dweight, dweightOff + c).add(g.mul(n)).intoArray(dweight, dweightOff + c);
                }
                for (; c < c1; c++) dweight[dweightOff + c] += dout[go + c] * (x[xo + c] * s);
            }
        });
    }

    // ================================================================ F64 kernels (plain loops, for gradcheck)

    /** Float64 {@link #forward(float[], int, float[], float[], int, float[], int, int, int, float)}. */
    public static void forward(double[] out, int outOff, double[] rstd, double[] x, int xOff, double[] weight, int weightOff,
                               int rows, int cols, double eps) {
        for (int r = 0; r < rows; r++) {
            int xo = xOff + r * cols, oo = outOff + r * cols;
            double ss = 0;
            for (int i = 0; i < cols; i++) ss += x[xo + i] * x[xo + i];
            double s = 1.0 / Math.sqrt(ss / cols + eps);
            if (rstd != null) rstd[r] = s;
            for (int i = 0; i < cols; i++) out[oo + i] = weight != null ? x[xo + i] * s * weight[weightOff + i] : x[xo + i] * s;
        }
    }

    /** Float64 {@link #backward(float[], int, float[], int, float[], int, float[], int, float[], int, float[], int, int)}. */
    public static void backward(double[] dx, int dxOff, double[] dweight, int dweightOff, double[] dout, int doutOff,
                                double[] x, int xOff, double[] weight, int weightOff, double[] rstd, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int xo = xOff + r * cols, go = doutOff + r * cols;
            double s = rstd[r];
            double sumGN = 0;
            for (int i = 0; i < cols; i++) {
                double n = x[xo + i] * s;
                double g = weight != null ? dout[go + i] * weight[weightOff + i] : dout[go + i];
                sumGN += g * n;
                if (dweight != null) dweight[dweightOff + i] += dout[go + i] * n;
            }
            if (dx == null) continue;
            double meanGN = sumGN / cols;
            for (int i = 0; i < cols; i++) {
                double n = x[xo + i] * s;
                double g = weight != null ? dout[go + i] * weight[weightOff + i] : dout[go + i];
                dx[dxOff + r * cols + i] = (g - n * meanGN) * s;
            }
        }
    }

    // ================================================================ Tensor entry points

    /** RMSNorm over the last dim of {@code x} (any layout); {@code weight} is 1-D of x's last dim, or null. */
    public static Result forward(Tensor x, Tensor weight, double eps) {
        String op = "rmsNorm";
        DType dt = Softmax.floatType(x, op, "x");
        if (x.dim() == 0) throw new IllegalArgumentException(op + ": expected x with at least 1 dim, got a scalar");
        int cols = x.size(-1);
        if (cols == 0) throw new IllegalArgumentException(op + ": x's last dim is 0 (shape " + Shapes.str(x.shape()) + ")");
        LayerNorm.checkParam(op, "weight", weight, x, dt);
        if (!(eps >= 0)) throw new IllegalArgumentException(op + ": eps must be >= 0, got " + eps);
        if (DeviceKernels.of(x, weight) instanceof DeviceKernels device) return device.rmsNorm(x, weight, eps);
        int rows = x.numel() / cols;
        Tensor out = Tensor.empty(dt, x.shape());
        Tensor rstd = Tensor.zeros(dt, LayerNorm.leading(x.shape()));
        Tensor xd = x.dense(), w = weight == null ? null : weight.dense();
        if (dt == DType.F64) {
            forward(out.doubleArray(), 0, rstd.doubleArray(), xd.doubleArray(), xd.offset(),
                    w == null ? null : w.doubleArray(), w == null ? 0 : w.offset(), rows, cols, eps);
        } else {
            forward(out.floatArray(), 0, rstd.floatArray(), xd.floatArray(), xd.offset(),
                    w == null ? null : w.floatArray(), w == null ? 0 : w.offset(), rows, cols, (float) eps);
        }
        return new Result(out, rstd);
    }

    /** Gradients of {@link #forward(Tensor, Tensor, double)}: dx, and dweight when {@code weight} is given. */
    public static Gradients backward(Tensor dout, Tensor x, Tensor weight, Tensor rstd) {
        return backward(dout, x, weight, rstd, true, weight != null);
    }

    /** As {@link #backward(Tensor, Tensor, Tensor, Tensor)}, computing only the gradients asked for (others null). */
    public static Gradients backward(Tensor dout, Tensor x, Tensor weight, Tensor rstd, boolean needDx, boolean needDweight) {
        String op = "rmsNormBackward";
        DType dt = Softmax.floatType(x, op, "x");
        if (x.dim() == 0) throw new IllegalArgumentException(op + ": expected x with at least 1 dim, got a scalar");
        int cols = x.size(-1);
        if (cols == 0) throw new IllegalArgumentException(op + ": x's last dim is 0 (shape " + Shapes.str(x.shape()) + ")");
        int rows = x.numel() / cols;
        LayerNorm.checkSame(op, "dout", dout, x, dt);
        LayerNorm.checkParam(op, "weight", weight, x, dt);
        LayerNorm.checkStat(op, "rstd", rstd, x, dt);
        if (needDweight && weight == null) throw new IllegalArgumentException(op + ": dweight asked for but weight is null");
        if (DeviceKernels.of(dout, x, weight, rstd) instanceof DeviceKernels device) {
            return device.rmsNormBackward(dout, x, weight, rstd, needDx, needDweight);
        }
        Tensor dx = needDx ? Tensor.empty(dt, x.shape()) : null;
        Tensor dw = needDweight ? Tensor.zeros(dt, cols) : null;
        Tensor xd = x.dense(), gd = dout.dense(), w = weight == null ? null : weight.dense();
        Tensor sd = rstd.dense();
        if (sd.offset() != 0) sd = sd.copy();
        if (dt == DType.F64) {
            backward(dx == null ? null : dx.doubleArray(), 0, dw == null ? null : dw.doubleArray(), 0,
                    gd.doubleArray(), gd.offset(), xd.doubleArray(), xd.offset(),
                    w == null ? null : w.doubleArray(), w == null ? 0 : w.offset(), sd.doubleArray(), rows, cols);
        } else {
            backward(dx == null ? null : dx.floatArray(), 0, dw == null ? null : dw.floatArray(), 0,
                    gd.floatArray(), gd.offset(), xd.floatArray(), xd.offset(),
                    w == null ? null : w.floatArray(), w == null ? 0 : w.offset(), sd.floatArray(), rows, cols);
        }
        return new Gradients(dx, dw);
    }
}
