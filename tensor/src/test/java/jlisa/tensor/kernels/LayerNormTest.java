package jlisa.tensor.kernels;

import static jlisa.tensor.kernels.SoftmaxTest.assertClose;
import static jlisa.tensor.kernels.SoftmaxTest.randoms;
import static jlisa.tensor.kernels.SoftmaxTest.toFloats;
import static jlisa.tensor.kernels.SoftmaxTest.widen;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jlisa.tensor.DType;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

class LayerNormTest {
    private static final int[] COLS = {1, 3, 16, 17, 33, 100, 257};
    private static final double EPS = 1e-5;

    /** Plain float64 LayerNorm: the textbook formula, population variance. w or b may be null. */
    static double[] ref(double[] x, double[] w, double[] b, int rows, int cols, double eps) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < cols; i++) mean += x[r * cols + i] / cols;
            for (int i = 0; i < cols; i++) var += Math.pow(x[r * cols + i] - mean, 2) / cols;
            for (int i = 0; i < cols; i++) {
                double v = (x[r * cols + i] - mean) / Math.sqrt(var + eps);
                out[r * cols + i] = v * (w == null ? 1 : w[i]) + (b == null ? 0 : b[i]);
            }
        }
        return out;
    }

    /** Gradients of Σ ref(x, w, b)·g by central differences: {dx, dw, db}. */
    static double[][] numericGrads(double[] x, double[] w, double[] b, double[] g, int rows, int cols) {
        double h = 1e-6;
        double[][] inputs = {x, w, b};
        double[][] grads = new double[3][];
        for (int k = 0; k < 3; k++) {
            if (inputs[k] == null) continue;
            grads[k] = new double[inputs[k].length];
            for (int i = 0; i < inputs[k].length; i++) {
                double keep = inputs[k][i];
                inputs[k][i] = keep + h;
                double plus = SoftmaxTest.dot(ref(x, w, b, rows, cols, EPS), g);
                inputs[k][i] = keep - h;
                double minus = SoftmaxTest.dot(ref(x, w, b, rows, cols, EPS), g);
                inputs[k][i] = keep;
                grads[k][i] = (plus - minus) / (2 * h);
            }
        }
        return grads;
    }

    @Test
    void forwardMatchesFloat64ReferenceWithAndWithoutAffine() {
        Rng rng = new Rng(11);
        for (int cols : COLS) {
            for (int rows : new int[] {1, 4}) {
                double[] x = widen(toFloats(randoms(rng, rows * cols, 3)));
                for (int i = 0; i < x.length; i++) x[i] += 5; // an offset the mean must remove
                double[] w = widen(toFloats(randoms(rng, cols, 1))), b = widen(toFloats(randoms(rng, cols, 1)));
                for (int mode = 0; mode < 4; mode++) {
                    double[] wm = (mode & 1) != 0 ? w : null, bm = (mode & 2) != 0 ? b : null;
                    double[] expect = ref(x, wm, bm, rows, cols, EPS);
                    LayerNorm.Result f = LayerNorm.forward(Tensor.of(toFloats(x), rows, cols),
                            wm == null ? null : Tensor.of(toFloats(wm), cols), bm == null ? null : Tensor.of(toFloats(bm), cols), EPS);
                    assertThat(f.out().dtype()).isEqualTo(DType.F32);
                    assertThat(f.mean().shape()).containsExactly(rows);
                    assertClose(f.out().toDoubleArray(), expect, 2e-5, 2e-5);
                    LayerNorm.Result d = LayerNorm.forward(Tensor.of(x.clone(), rows, cols),
                            wm == null ? null : Tensor.of(wm.clone(), cols), bm == null ? null : Tensor.of(bm.clone(), cols), EPS);
                    assertClose(d.out().toDoubleArray(), expect, 1e-12, 1e-12);
                    for (int r = 0; r < rows; r++) {
                        double mean = 0;
                        for (int i = 0; i < cols; i++) mean += x[r * cols + i] / cols;
                        assertThat(d.mean().get(r)).isCloseTo(mean, org.assertj.core.data.Offset.offset(1e-12));
                        assertThat(f.mean().get(r)).isCloseTo(mean, org.assertj.core.data.Offset.offset(1e-5));
                    }
                }
            }
        }
    }

    @Test
    void backwardMatchesFiniteDifferencesOfTheReferenceInF32AndF64() {
        Rng rng = new Rng(12);
        for (int cols : new int[] {1, 3, 17, 33}) {
            int rows = 3;
            double[] x = widen(toFloats(randoms(rng, rows * cols, 2)));
            double[] w = widen(toFloats(randoms(rng, cols, 1))), b = widen(toFloats(randoms(rng, cols, 1)));
            double[] g = widen(toFloats(randoms(rng, rows * cols, 1)));
            for (boolean affine : new boolean[] {true, false}) {
                double[] wm = affine ? w : null, bm = affine ? b : null;
                double[][] num = numericGrads(x, wm, bm, g, rows, cols);
                // F64 kernels: the float64 gradcheck
                Tensor xd = Tensor.of(x.clone(), rows, cols);
                Tensor wd = affine ? Tensor.of(w.clone(), cols) : null, bd = affine ? Tensor.of(b.clone(), cols) : null;
                LayerNorm.Result fd = LayerNorm.forward(xd, wd, bd, EPS);
                LayerNorm.Gradients gd = LayerNorm.backward(Tensor.of(g.clone(), rows, cols), xd, wd, fd.mean(), fd.rstd());
                double tol = cols == 1 ? 1e-4 : 1e-7; // one column: var = 0, so dx is rstd-sized noise around 0
                assertClose(gd.dx().toDoubleArray(), num[0], tol, 1e-6);
                assertClose(gd.dbias().toDoubleArray(), numOrSum(num[2], g, rows, cols), 1e-7, 1e-6);
                if (affine) assertClose(gd.dweight().toDoubleArray(), num[1], 1e-7, 1e-6);
                else assertThat(gd.dweight()).isNull();
                // F32 kernels
                Tensor xf = Tensor.of(toFloats(x), rows, cols);
                Tensor wf = affine ? Tensor.of(toFloats(w), cols) : null, bf = affine ? Tensor.of(toFloats(b), cols) : null;
                LayerNorm.Result ff = LayerNorm.forward(xf, wf, bf, EPS);
                LayerNorm.Gradients gf = LayerNorm.backward(Tensor.of(toFloats(g), rows, cols), xf, wf, ff.mean(), ff.rstd());
                assertClose(gf.dx().toDoubleArray(), num[0], cols == 1 ? 1e-1 : 1e-4, 1e-3);
                assertClose(gf.dbias().toDoubleArray(), numOrSum(num[2], g, rows, cols), 1e-5, 1e-4);
                if (affine) assertClose(gf.dweight().toDoubleArray(), num[1], 1e-4, 1e-3);
            }
        }
    }

    /** dbias is Σ_r g[r,:] whether or not the forward had a bias. */
    private static double[] numOrSum(double[] num, double[] g, int rows, int cols) {
        if (num != null) return num;
        double[] s = new double[cols];
        for (int r = 0; r < rows; r++) for (int i = 0; i < cols; i++) s[i] += g[r * cols + i];
        return s;
    }

    @Test
    void rawBackwardAccumulatesIntoDweightAndDbiasAndSkipsNulls() {
        Rng rng = new Rng(13);
        int rows = 2, cols = 19;
        float[] x = toFloats(randoms(rng, rows * cols, 1)), w = toFloats(randoms(rng, cols, 1)), g = toFloats(randoms(rng, rows * cols, 1));
        float[] out = new float[rows * cols], mean = new float[rows], rstd = new float[rows];
        LayerNorm.forward(out, 0, mean, rstd, x, 0, w, 0, null, 0, rows, cols, 1e-5f);
        float[] dw1 = new float[cols + 2], db1 = new float[cols + 2];
        LayerNorm.backward(null, 0, dw1, 2, db1, 2, g, 0, x, 0, w, 0, mean, rstd, rows, cols);
        float[] dw2 = dw1.clone(), db2 = db1.clone();
        LayerNorm.backward(null, 0, dw2, 2, db2, 2, g, 0, x, 0, w, 0, mean, rstd, rows, cols);
        assertThat(dw1[0]).isZero();
        assertThat(dw1[1]).isZero();
        for (int i = 2; i < cols + 2; i++) {
            assertThat((double) dw2[i]).isCloseTo(2.0 * dw1[i], org.assertj.core.data.Offset.offset(1e-5));
            assertThat((double) db2[i]).isCloseTo(2.0 * db1[i], org.assertj.core.data.Offset.offset(1e-5));
            assertThat(dw1[i]).isNotZero();
        }
    }

    @Test
    void nonContiguousInputsAndSlicedParametersAreReadThroughTheirLayout() {
        Rng rng = new Rng(14);
        Tensor base = Tensor.randn(rng, 0, 2, DType.F32, 33, 5);
        Tensor x = base.t(); // (5, 33)
        Tensor params = Tensor.randn(rng, 0, 1, DType.F32, 3 * 33);
        Tensor w = params.narrow(0, 33, 33), b = params.narrow(0, 66, 33); // slices of one allocation (offsets 33, 66)
        double[] expect = ref(x.toDoubleArray(), w.toDoubleArray(), b.toDoubleArray(), 5, 33, EPS);
        LayerNorm.Result f = LayerNorm.forward(x, w, b, EPS);
        assertClose(f.out().toDoubleArray(), expect, 2e-5, 2e-5);
        Tensor x3 = Tensor.randn(rng, 0, 1, DType.F64, 2, 3, 17);
        LayerNorm.Result f3 = LayerNorm.forward(x3, null, null, EPS);
        assertThat(f3.mean().shape()).containsExactly(2, 3);
        assertClose(f3.out().toDoubleArray(), ref(x3.toDoubleArray(), null, null, 6, 17, EPS), 1e-12, 1e-12);
    }

    @Test
    void zeroRowsAreFine() {
        LayerNorm.Result f = LayerNorm.forward(Tensor.zeros(0, 8), Tensor.ones(8), Tensor.zeros(8), EPS);
        assertThat(f.out().shape()).containsExactly(0, 8);
        LayerNorm.Gradients g = LayerNorm.backward(Tensor.zeros(0, 8), Tensor.zeros(0, 8), Tensor.ones(8), f.mean(), f.rstd());
        assertThat(g.dweight().toDoubleArray()).containsOnly(0.0);
    }

    @Test
    void frozenWeightGetsNoGradient() {
        Tensor x = Tensor.randn(new Rng(15), 4, 16);
        LayerNorm.Result f = LayerNorm.forward(x, Tensor.ones(16), Tensor.zeros(16), EPS);
        LayerNorm.Gradients g = LayerNorm.backward(Tensor.ones(4, 16), x, Tensor.ones(16), f.mean(), f.rstd(), true, false, false);
        assertThat(g.dx()).isNotNull();
        assertThat(g.dweight()).isNull();
        assertThat(g.dbias()).isNull();
    }

    @Test
    void resultsAreBitwiseIdenticalForAnyThreadCount() {
        Rng rng = new Rng(16);
        int rows = 200, cols = 777;
        Tensor x = Tensor.randn(rng, 0, 1, DType.F32, rows, cols), dy = Tensor.randn(rng, 0, 1, DType.F32, rows, cols);
        Tensor w = Tensor.randn(rng, 1, 0.1, DType.F32, cols), b = Tensor.randn(rng, 0, 0.1, DType.F32, cols);
        float[][] ref = null;
        for (int threads : new int[] {1, 2, 3}) {
            float[][] got = new float[4][];
            Parallel.withThreads(threads, () -> {
                LayerNorm.Result f = LayerNorm.forward(x, w, b, EPS);
                LayerNorm.Gradients g = LayerNorm.backward(dy, x, w, f.mean(), f.rstd());
                got[0] = f.out().toFloatArray();
                got[1] = g.dx().toFloatArray();
                got[2] = g.dweight().toFloatArray();
                got[3] = g.dbias().toFloatArray();
            });
            if (ref == null) ref = got;
            else for (int k = 0; k < 4; k++) assertThat(got[k]).as("output %d with %d threads", k, threads).isEqualTo(ref[k]);
        }
    }

    @Test
    void badInputIsRejectedWithShapesInTheMessage() {
        assertThatThrownBy(() -> LayerNorm.forward(Tensor.zeros(2, 768), Tensor.ones(64), null, EPS))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("weight has shape (64,)").hasMessageContaining("last dim is 768");
        assertThatThrownBy(() -> LayerNorm.forward(Tensor.zeros(2, 8), null, Tensor.zeros(2, 8), EPS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bias has shape (2, 8)");
        assertThatThrownBy(() -> LayerNorm.forward(Tensor.zeros(2, 8), Tensor.zeros(DType.F64, 8), null, EPS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64").hasMessageContaining("F32");
        assertThatThrownBy(() -> LayerNorm.forward(Tensor.scalar(1), null, null, EPS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scalar");
        assertThatThrownBy(() -> LayerNorm.forward(Tensor.zeros(3, 0), null, null, EPS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(3, 0)");
        LayerNorm.Result f = LayerNorm.forward(Tensor.zeros(4, 8), null, null, EPS);
        assertThatThrownBy(() -> LayerNorm.backward(Tensor.zeros(4, 9), Tensor.zeros(4, 8), null, f.mean(), f.rstd()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dout has shape (4, 9)").hasMessageContaining("(4, 8)");
        assertThatThrownBy(() -> LayerNorm.backward(Tensor.zeros(4, 8), Tensor.zeros(4, 8), null, Tensor.zeros(3), f.rstd()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mean has shape (3,)").hasMessageContaining("4 rows");
    }
}
