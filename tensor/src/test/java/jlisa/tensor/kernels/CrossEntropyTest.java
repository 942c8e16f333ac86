package jlisa.tensor.kernels;

import static jlisa.tensor.kernels.SoftmaxTest.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jlisa.tensor.DType;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class CrossEntropyTest {
    private static final int IGNORE = CrossEntropy.DEFAULT_IGNORE_INDEX;

    /** Plain mean negative log-likelihood of softmax over non-ignored rows (NaN when there are none). */
    static double refLoss(double[] x, int[] t, int rows, int V, int ignore) {
        double total = 0;
        int count = 0;
        for (int r = 0; r < rows; r++) {
            if (t[r] == ignore) continue;
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < V; i++) max = Math.max(max, x[r * V + i]);
            for (int i = 0; i < V; i++) sum += Math.exp(x[r * V + i] - max);
            total += -(x[r * V + t[r]] - max - Math.log(sum));
            count++;
        }
        return total / count;
    }

    static double[] numericGrad(double[] x, int[] t, int rows, int V, int ignore) {
        double h = 1e-6;
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double keep = x[i];
            x[i] = keep + h;
            double p = refLoss(x, t, rows, V, ignore);
            x[i] = keep - h;
            double m = refLoss(x, t, rows, V, ignore);
            x[i] = keep;
            g[i] = (p - m) / (2 * h);
        }
        return g;
    }

    static int[] targets(Rng rng, int rows, int V, boolean withIgnored) {
        int[] t = new int[rows];
        for (int r = 0; r < rows; r++) t[r] = withIgnored && r % 3 == 1 ? IGNORE : rng.nextInt(V);
        return t;
    }

    @Test
    void lossAndDlogitsMatchReferenceAndFiniteDifferencesInF32AndF64() {
        Rng rng = new Rng(51);
        for (int V : new int[] {1, 3, 16, 17, 33, 100, 257}) {
            for (boolean withIgnored : new boolean[] {false, true}) {
                int rows = 4;
                Tensor xF = Tensor.randn(rng, 0, 3, DType.F32, rows, V);
                double[] x = xF.toDoubleArray();
                int[] t = targets(rng, rows, V, withIgnored);
                double loss = refLoss(x, t, rows, V, IGNORE);
                double[] grad = numericGrad(x, t, rows, V, IGNORE);
                CrossEntropy.Result f = CrossEntropy.forward(xF, Tensor.of(t, rows), IGNORE);
                assertThat(f.loss().dim()).isZero();
                assertThat(f.loss().dtype()).isEqualTo(DType.F32);
                assertThat(f.loss().item()).isCloseTo(loss, Offset.offset(1e-5 * (1 + loss)));
                assertClose(f.dlogits().toDoubleArray(), grad, 1e-6, 1e-4);
                CrossEntropy.Result d = CrossEntropy.forward(Tensor.of(x.clone(), rows, V), Tensor.of(t, rows), IGNORE);
                assertThat(d.loss().item()).isCloseTo(loss, Offset.offset(1e-13 * (1 + loss)));
                assertClose(d.dlogits().toDoubleArray(), grad, 1e-9, 1e-7);
            }
        }
    }

    @Test
    void ignoredRowsGetZeroGradientAndAllIgnoredGivesNaNLossWithZeroGradient() {
        Rng rng = new Rng(52);
        Tensor x = Tensor.randn(rng, 0, 1, DType.F32, 3, 20);
        CrossEntropy.Result f = CrossEntropy.forward(x, Tensor.of(new int[] {5, IGNORE, 7}, 3), IGNORE);
        for (int i = 0; i < 20; i++) assertThat(f.dlogits().get(1, i)).isZero();
        CrossEntropy.Result none = CrossEntropy.forward(x, Tensor.of(new int[] {IGNORE, IGNORE, IGNORE}, 3), IGNORE);
        assertThat(none.loss().item()).isNaN();
        assertThat(none.dlogits().toDoubleArray()).containsOnly(0.0);
        CrossEntropy.Result zeroRows = CrossEntropy.forward(Tensor.zeros(0, 20), Tensor.of(new int[0], 0), IGNORE);
        assertThat(zeroRows.loss().item()).isNaN();
        assertThat(zeroRows.dlogits().shape()).containsExactly(0, 20);
        // an ignore index that is also a valid class id (a pad token) is ignored, not scored
        CrossEntropy.Result pad = CrossEntropy.forward(x, Tensor.of(new int[] {0, 0, 3}, 3), 0);
        assertThat(pad.loss().item()).isCloseTo(refLoss(x.toDoubleArray(), new int[] {0, 0, 3}, 3, 20, 0), Offset.offset(1e-5));
    }

    @Test
    void largeLogitsAreStable() {
        float[] x = {1000, 1001, 999, -1e4f, 5e4f, 5e4f - 2};
        CrossEntropy.Result f = CrossEntropy.forward(Tensor.of(x, 2, 3), Tensor.of(new int[] {1, 2}, 2), IGNORE);
        double expect = refLoss(SoftmaxTest.widen(x), new int[] {1, 2}, 2, 3, IGNORE);
        assertThat(f.loss().item()).isCloseTo(expect, Offset.offset(1e-5));
        for (double v : f.dlogits().toDoubleArray()) assertThat(v).isFinite();
    }

    @Test
    void evalModeComputesTheSameLossWithoutDlogitsAndRowLossesArePerToken() {
        Rng rng = new Rng(53);
        Tensor x = Tensor.randn(rng, 0, 2, DType.F32, 2, 3, 50); // (B, T, V) with targets (B, T)
        int[] t = {1, 2, IGNORE, 4, 5, 6};
        Tensor targets = Tensor.of(t, 2, 3);
        CrossEntropy.Result train = CrossEntropy.forward(x, targets, IGNORE);
        CrossEntropy.Result eval = CrossEntropy.forward(x, targets, IGNORE, false);
        assertThat(eval.dlogits()).isNull();
        assertThat(eval.loss().item()).isEqualTo(train.loss().item());
        assertThat(train.dlogits().shape()).containsExactly(2, 3, 50);
        Tensor rows = CrossEntropy.rowLosses(x, targets, IGNORE);
        assertThat(rows.shape()).containsExactly(2, 3);
        assertThat(rows.get(0, 2)).isZero();
        double[] xs = x.toDoubleArray();
        double sum = 0;
        for (int r = 0; r < 6; r++) {
            if (t[r] == IGNORE) continue;
            double[] row = java.util.Arrays.copyOfRange(xs, r * 50, r * 50 + 50);
            double lr = refLoss(row, new int[] {t[r]}, 1, 50, IGNORE);
            assertThat(rows.get(r / 3, r % 3)).isCloseTo(lr, Offset.offset(1e-5));
            sum += lr;
        }
        assertThat(train.loss().item()).isCloseTo(sum / 5, Offset.offset(1e-5));
    }

    @Test
    void nonContiguousLogitsAndBf16() {
        Rng rng = new Rng(54);
        Tensor x = Tensor.randn(rng, 0, 2, DType.F32, 37, 5).t(); // (5, 37)
        int[] t = targets(rng, 5, 37, false);
        CrossEntropy.Result f = CrossEntropy.forward(x, Tensor.of(t, 5), IGNORE);
        assertThat(f.loss().item()).isCloseTo(refLoss(x.toDoubleArray(), t, 5, 37, IGNORE), Offset.offset(1e-5));
        Tensor bf = Tensor.zeros(DType.BF16, 5, 37).copyFrom(x);
        CrossEntropy.Result b = CrossEntropy.forward(bf, Tensor.of(t, 5), IGNORE);
        assertThat(b.loss().dtype()).isEqualTo(DType.F32);
        assertThat(b.loss().item()).isCloseTo(refLoss(bf.toDoubleArray(), t, 5, 37, IGNORE), Offset.offset(1e-5));
    }

    @Test
    void rawKernelMayWriteDlogitsOverTheLogits() {
        Rng rng = new Rng(55);
        int rows = 3, V = 40;
        float[] x = SoftmaxTest.toFloats(SoftmaxTest.randoms(rng, rows * V, 2));
        float[] separate = new float[rows * V];
        int[] t = {3, 39, 0};
        double l1 = CrossEntropy.forward(separate, 0, null, x, 0, t, 0, rows, V, IGNORE);
        double l2 = CrossEntropy.forward(x, 0, null, x, 0, t, 0, rows, V, IGNORE);
        assertThat(l2).isEqualTo(l1);
        assertThat(x).isEqualTo(separate);
    }

    @Test
    void resultsAreBitwiseIdenticalForAnyThreadCount() {
        Rng rng = new Rng(56);
        int rows = 64, V = 5003;
        Tensor x = Tensor.randn(rng, 0, 2, DType.F32, rows, V);
        Tensor t = Tensor.of(targets(rng, rows, V, true), rows);
        float[] refGrad = null;
        double refLoss = 0;
        for (int threads : new int[] {1, 2, 3}) {
            CrossEntropy.Result[] got = new CrossEntropy.Result[1];
            Parallel.withThreads(threads, () -> got[0] = CrossEntropy.forward(x, t, IGNORE));
            if (refGrad == null) {
                refGrad = got[0].dlogits().toFloatArray();
                refLoss = got[0].loss().item();
            } else {
                assertThat(got[0].dlogits().toFloatArray()).as("%d threads", threads).isEqualTo(refGrad);
                assertThat(got[0].loss().item()).isEqualTo(refLoss);
            }
        }
    }

    @Test
    void badInputIsRejectedNamingTargetsAndShapes() {
        Tensor logits = Tensor.zeros(8, 50257);
        int[] t = new int[8];
        t[7] = 50300;
        assertThatThrownBy(() -> CrossEntropy.forward(logits, Tensor.of(t, 8), IGNORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target 50300 at row 7 is outside [0, 50257)");
        assertThatThrownBy(() -> CrossEntropy.forward(Tensor.zeros(4, 10), Tensor.of(new int[] {1, 2, 3}, 3), IGNORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(3,)").hasMessageContaining("(4, 10)");
        assertThatThrownBy(() -> CrossEntropy.forward(Tensor.zeros(2, 10), Tensor.zeros(2), IGNORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I32");
        assertThatThrownBy(() -> CrossEntropy.forward(Tensor.zeros(2, 0), Tensor.of(new int[] {0, 0}, 2), IGNORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(2, 0)");
        assertThatThrownBy(() -> CrossEntropy.forward(Tensor.scalar(1), Tensor.of(new int[] {0}), IGNORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scalar");
    }
}
