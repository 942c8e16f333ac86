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

class RmsNormTest {
    private static final int[] COLS = {1, 3, 16, 17, 33, 100, 257};
    private static final double EPS = 1e-6;

    /** Plain float64 RMSNorm: x / sqrt(mean(x²) + eps) · w. */
    static double[] ref(double[] x, double[] w, int rows, int cols) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double ms = 0;
            for (int i = 0; i < cols; i++) ms += x[r * cols + i] * x[r * cols + i] / cols;
            for (int i = 0; i < cols; i++) out[r * cols + i] = x[r * cols + i] / Math.sqrt(ms + EPS) * (w == null ? 1 : w[i]);
        }
        return out;
    }

    static double[][] numericGrads(double[] x, double[] w, double[] g, int rows, int cols) {
        double h = 1e-6;
        double[][] inputs = {x, w};
        double[][] grads = new double[2][];
        for (int k = 0; k < 2; k++) {
            if (inputs[k] == null) continue;
            grads[k] = new double[inputs[k].length];
            for (int i = 0; i < inputs[k].length; i++) {
                double keep = inputs[k][i];
                inputs[k][i] = keep + h;
                double plus = SoftmaxTest.dot(ref(x, w, rows, cols), g);
                inputs[k][i] = keep - h;
                double minus = SoftmaxTest.dot(ref(x, w, rows, cols), g);
                inputs[k][i] = keep;
                grads[k][i] = (plus - minus) / (2 * h);
            }
        }
        return grads;
    }

    @Test
    void forwardMatchesFloat64ReferenceInF32AndF64() {
        Rng rng = new Rng(21);
        for (int cols : COLS) {
            for (int rows : new int[] {1, 4}) {
                double[] x = widen(toFloats(randoms(rng, rows * cols, 3)));
                double[] w = widen(toFloats(randoms(rng, cols, 1)));
                for (boolean hasW : new boolean[] {true, false}) {
                    double[] wm = hasW ? w : null;
                    double[] expect = ref(x, wm, rows, cols);
                    RmsNorm.Result f = RmsNorm.forward(Tensor.of(toFloats(x), rows, cols), hasW ? Tensor.of(toFloats(w), cols) : null, EPS);
                    assertClose(f.out().toDoubleArray(), expect, 1e-5, 1e-5);
                    assertThat(f.rstd().shape()).containsExactly(rows);
                    RmsNorm.Result d = RmsNorm.forward(Tensor.of(x.clone(), rows, cols), hasW ? Tensor.of(w.clone(), cols) : null, EPS);
                    assertClose(d.out().toDoubleArray(), expect, 1e-13, 1e-12);
                }
            }
        }
    }

    @Test
    void backwardMatchesFiniteDifferencesOfTheReferenceInF32AndF64() {
        Rng rng = new Rng(22);
        for (int cols : new int[] {1, 3, 17, 33}) {
            int rows = 3;
            double[] x = widen(toFloats(randoms(rng, rows * cols, 2)));
            double[] w = widen(toFloats(randoms(rng, cols, 1))), g = widen(toFloats(randoms(rng, rows * cols, 1)));
            for (boolean hasW : new boolean[] {true, false}) {
                double[][] num = numericGrads(x, hasW ? w : null, g, rows, cols);
                Tensor xd = Tensor.of(x.clone(), rows, cols), wd = hasW ? Tensor.of(w.clone(), cols) : null;
                RmsNorm.Result fd = RmsNorm.forward(xd, wd, EPS);
                RmsNorm.Gradients gd = RmsNorm.backward(Tensor.of(g.clone(), rows, cols), xd, wd, fd.rstd());
                assertClose(gd.dx().toDoubleArray(), num[0], 1e-7, 1e-6);
                if (hasW) assertClose(gd.dweight().toDoubleArray(), num[1], 1e-7, 1e-6);
                else assertThat(gd.dweight()).isNull();
                Tensor xf = Tensor.of(toFloats(x), rows, cols), wf = hasW ? Tensor.of(toFloats(w), cols) : null;
                RmsNorm.Result ff = RmsNorm.forward(xf, wf, EPS);
                RmsNorm.Gradients gf = RmsNorm.backward(Tensor.of(toFloats(g), rows, cols), xf, wf, ff.rstd());
                assertClose(gf.dx().toDoubleArray(), num[0], 1e-4, 1e-3);
                if (hasW) assertClose(gf.dweight().toDoubleArray(), num[1], 1e-4, 1e-3);
            }
        }
    }

    @Test
    void nonContiguousInputAndSlicedWeight() {
        Rng rng = new Rng(23);
        Tensor x = Tensor.randn(rng, 0, 2, DType.F32, 100, 6).t(); // (6, 100)
        Tensor w = Tensor.randn(rng, 0, 1, DType.F32, 250).narrow(0, 150, 100);
        assertClose(RmsNorm.forward(x, w, EPS).out().toDoubleArray(), ref(x.toDoubleArray(), w.toDoubleArray(), 6, 100), 1e-5, 1e-5);
        Tensor z = RmsNorm.forward(Tensor.zeros(0, 4), null, EPS).out();
        assertThat(z.shape()).containsExactly(0, 4);
    }

    @Test
    void resultsAreBitwiseIdenticalForAnyThreadCount() {
        Rng rng = new Rng(24);
        Tensor x = Tensor.randn(rng, 0, 1, DType.F32, 150, 1001), dy = Tensor.randn(rng, 0, 1, DType.F32, 150, 1001);
        Tensor w = Tensor.randn(rng, 1, 0.1, DType.F32, 1001);
        float[][] ref = null;
        for (int threads : new int[] {1, 2, 3}) {
            float[][] got = new float[3][];
            Parallel.withThreads(threads, () -> {
                RmsNorm.Result f = RmsNorm.forward(x, w, EPS);
                RmsNorm.Gradients g = RmsNorm.backward(dy, x, w, f.rstd());
                got[0] = f.out().toFloatArray();
                got[1] = g.dx().toFloatArray();
                got[2] = g.dweight().toFloatArray();
            });
            if (ref == null) ref = got;
            else for (int k = 0; k < 3; k++) assertThat(got[k]).as("output %d with %d threads", k, threads).isEqualTo(ref[k]);
        }
    }

    @Test
    void badInputIsRejectedWithShapesInTheMessage() {
        assertThatThrownBy(() -> RmsNorm.forward(Tensor.zeros(2, 4096), Tensor.ones(4095), EPS))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("weight has shape (4095,)").hasMessageContaining("last dim is 4096");
        RmsNorm.Result f = RmsNorm.forward(Tensor.zeros(4, 8), null, EPS);
        assertThatThrownBy(() -> RmsNorm.backward(Tensor.zeros(8, 4), Tensor.zeros(4, 8), null, f.rstd()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(8, 4)").hasMessageContaining("(4, 8)");
        assertThatThrownBy(() -> RmsNorm.backward(Tensor.zeros(4, 8), Tensor.zeros(4, 8), null, f.rstd(), true, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("weight is null");
    }
}
