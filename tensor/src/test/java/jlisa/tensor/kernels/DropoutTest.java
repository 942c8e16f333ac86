package jlisa.tensor.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import jlisa.tensor.DType;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

class DropoutTest {

    @Test
    void sameSeedGivesTheSameMaskWhateverTheThreadCountAndLayout() {
        Tensor x = Tensor.randn(new Rng(1), 0, 1, DType.F32, 37, 129);
        Tensor xT = x.t().contiguous().t(); // same values, column-major layout
        assertThat(xT.isContiguous()).isFalse();
        Dropout.Result[] r = new Dropout.Result[3];
        Parallel.withThreads(1, () -> r[0] = Dropout.forward(x, 0.3, new Rng(42)));
        Parallel.withThreads(2, () -> r[1] = Dropout.forward(x, 0.3, new Rng(42)));
        r[2] = Dropout.forward(xT, 0.3, new Rng(42));
        for (int k = 1; k < 3; k++) {
            assertThat(r[k].mask().toFloatArray()).containsExactly(r[0].mask().toFloatArray());
            assertThat(r[k].out().toFloatArray()).containsExactly(r[0].out().toFloatArray());
        }
        float[] other = Dropout.forward(x, 0.3, new Rng(43)).mask().toFloatArray();
        assertThat(other).isNotEqualTo(r[0].mask().toFloatArray());
    }

    @Test
    void maskIsDrawnInRowMajorOrderOneUniformPerElement() {
        Tensor x = Tensor.ones(4, 5);
        float[] mask = Dropout.forward(x, 0.5, new Rng(9)).mask().toFloatArray();
        Rng rng = new Rng(9);
        for (int i = 0; i < mask.length; i++) assertThat(mask[i]).isEqualTo(rng.nextDouble() >= 0.5 ? 1f : 0f);
    }

    @Test
    void fractionKeptIsAboutOneMinusP() {
        Tensor x = Tensor.ones(100_000);
        for (double p : new double[] {0.1, 0.5, 0.9}) {
            float[] mask = Dropout.forward(x, p, new Rng(7)).mask().toFloatArray();
            double kept = 0;
            for (float m : mask) {
                assertThat(m == 0f || m == 1f).isTrue();
                kept += m;
            }
            // std of the kept fraction is sqrt(p(1-p)/n) ≤ 0.0016; 0.01 is over 6 std.
            assertThat(kept / mask.length).as("p=" + p).isCloseTo(1 - p, within(0.01));
        }
    }

    @Test
    void keptElementsAreScaledByExactlyOneOverOneMinusPAndDroppedOnesAreZero() {
        for (DType dt : new DType[] {DType.F32, DType.F64}) {
            for (double p : new double[] {0.1, 0.25, 0.7}) {
                Tensor x = Tensor.randn(new Rng(3), 0, 1, dt, 3, 7, 33);
                Dropout.Result r = Dropout.forward(x, p, new Rng(11));
                assertThat(r.out().dtype()).isEqualTo(dt);
                assertThat(r.mask().dtype()).isEqualTo(DType.F32);
                double[] xs = x.toDoubleArray(), out = r.out().toDoubleArray();
                float[] mask = r.mask().toFloatArray();
                for (int i = 0; i < xs.length; i++) {
                    double expected;
                    if (mask[i] == 0f) expected = 0;
                    else if (dt == DType.F32) expected = (float) xs[i] * (1f / (float) (1 - p));
                    else expected = xs[i] * (1 / (1 - p));
                    assertThat(out[i]).as(dt + " p=" + p + " element " + i).isEqualTo(expected);
                }
            }
        }
    }

    @Test
    void pZeroReturnsXWithoutDrawingAndPOneReturnsZeros() {
        Tensor x = Tensor.randn(new Rng(4), 0, 1, DType.F32, 10, 10);
        Rng rng = new Rng(5);
        Dropout.Result none = Dropout.forward(x, 0, rng);
        assertThat(none.out()).isSameAs(x);
        assertThat(none.mask()).isNull();
        assertThat(rng.nextLong()).isEqualTo(new Rng(5).nextLong());
        Tensor dout = Tensor.randn(new Rng(6), 0, 1, DType.F32, 10, 10);
        assertThat(Dropout.backward(dout, null, 0)).isSameAs(dout);

        Dropout.Result all = Dropout.forward(x, 1, rng);
        assertThat(all.out().toFloatArray()).containsOnly(0f);
        assertThat(all.mask().toFloatArray()).containsOnly(0f);
        assertThat(Dropout.backward(dout, all.mask(), 1).toFloatArray()).containsOnly(0f);
    }

    @Test
    void backwardAppliesTheForwardsMaskAndScale() {
        for (DType dt : new DType[] {DType.F32, DType.F64}) {
            double p = 0.4;
            Tensor x = Tensor.randn(new Rng(12), 0, 1, dt, 5, 41);
            Dropout.Result r = Dropout.forward(x, p, new Rng(13));
            // dout = x: the backward must then reproduce the forward's output bit for bit.
            assertThat(Dropout.backward(x, r.mask(), p).toDoubleArray()).containsExactly(r.out().toDoubleArray());
            Tensor dout = Tensor.randn(new Rng(14), 0, 1, dt, 5, 41).t().contiguous().t(); // any layout
            double[] g = dout.toDoubleArray(), dx = Dropout.backward(dout, r.mask(), p).toDoubleArray();
            float[] mask = r.mask().toFloatArray();
            for (int i = 0; i < g.length; i++) {
                double expected = mask[i] == 0f ? 0 : dt == DType.F32 ? (float) g[i] * (1f / (float) (1 - p)) : g[i] / (1 - p);
                assertThat(dx[i]).as(dt + " element " + i).isCloseTo(expected, within(dt == DType.F32 ? 0.0 : 1e-15));
            }
        }
    }

    @Test
    void badInputIsRejected() {
        Tensor x = Tensor.ones(3);
        for (double p : new double[] {-0.1, 1.5, Double.NaN}) {
            assertThatThrownBy(() -> Dropout.forward(x, p, new Rng(1)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected p in [0, 1], got " + p);
            assertThatThrownBy(() -> Dropout.backward(x, x, p))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected p in [0, 1]");
        }
        assertThatThrownBy(() -> Dropout.backward(x, Tensor.ones(4), 0.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(4,)").hasMessageContaining("(3,)");
        assertThatThrownBy(() -> Dropout.backward(x, null, 0.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mask is null");
        assertThatThrownBy(() -> Dropout.forward(x, 0.5, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rng");
    }
}
