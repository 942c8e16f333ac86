package jlisa.tensor.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jlisa.tensor.DType;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Rope.Layout;
import org.junit.jupiter.api.Test;

class RopeTest {
    private static final int[] DIMS = {2, 8, 64, 80};

    // ---------------------------------------------------------------- plain float64 reference

    /**
     * RoPE written as complex multiplication: pair i of each head, z = x[p] + i·x[q], becomes z·e^{i·pos·invFreq_i}
     * (e^{−i…} for the inverse), with (p, q) = (i, i + rd/2) for HALF and (2i, 2i + 1) for INTERLEAVED.
     * x is (B, H, T, D) in row-major order.
     */
    static double[] ref(double[] x, int B, int H, int T, int D, int[] pos, double theta, int rd, Layout layout, boolean inverse) {
        double[] out = x.clone();
        int h = rd / 2;
        for (int bh = 0; bh < B * H; bh++) {
            for (int t = 0; t < T; t++) {
                int base = (bh * T + t) * D;
                for (int i = 0; i < h; i++) {
                    int p = layout == Layout.HALF ? i : 2 * i, q = layout == Layout.HALF ? i + h : 2 * i + 1;
                    double invFreq = 1.0 / Math.pow(theta, 2.0 * i / rd);
                    double angle = (inverse ? -1 : 1) * pos[t] * invFreq;
                    double re = x[base + p], im = x[base + q];
                    double wr = Math.cos(angle), wi = Math.sin(angle);
                    out[base + p] = re * wr - im * wi;
                    out[base + q] = re * wi + im * wr;
                }
            }
        }
        return out;
    }

    static void assertClose(double[] actual, double[] expected, double tol) {
        SoftmaxTest.assertClose(actual, expected, tol, tol);
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /** (B, H, T, D) as a transposed view of a contiguous (B, T, H, D) tensor: what q·reshape·transpose gives a model. */
    static Tensor transposedInput(Rng rng, DType dtype, int B, int H, int T, int D) {
        Tensor x = Tensor.randn(rng, 0, 1, dtype, B, T, H, D).transpose(1, 2);
        assertThat(x.isContiguous()).isFalse();
        return x;
    }

    static int[] offsetPositions(int start, int T) {
        int[] p = new int[T];
        for (int t = 0; t < T; t++) p[t] = start + 3 * t; // not consecutive, so the table really is per position
        return p;
    }

    // ---------------------------------------------------------------- forward and backward against the reference

    @Test
    void matchesComplexMultiplicationReferenceForBothLayoutsPartialRotaryAndNonContiguousInput() {
        Rng rng = new Rng(1);
        int B = 2, H = 3, T = 5;
        for (Layout layout : Layout.values()) {
            for (int D : DIMS) {
                for (int rd : new int[] {D, Math.max(2, (D / 2) & ~1)}) {
                    for (DType dt : new DType[] {DType.F32, DType.F64}) {
                        double theta = rd == D ? Rope.DEFAULT_THETA : 500000.0;
                        int[] pos = offsetPositions(2, T);
                        Tensor x = transposedInput(rng, dt, B, H, T, D);
                        double[] xs = x.toDoubleArray();
                        double tol = dt == DType.F32 ? 1e-5 : 1e-12;
                        String what = layout + " D=" + D + " rd=" + rd + " " + dt;

                        Tensor y = Rope.forward(x, pos, theta, rd, layout);
                        assertThat(y.shape()).as(what).containsExactly(B, H, T, D);
                        assertThat(y.dtype()).as(what).isEqualTo(dt);
                        assertClose(y.toDoubleArray(), ref(xs, B, H, T, D, pos, theta, rd, layout, false), tol);

                        Tensor dx = Rope.backward(x, pos, theta, rd, layout);
                        assertClose(dx.toDoubleArray(), ref(xs, B, H, T, D, pos, theta, rd, layout, true), tol);
                    }
                }
            }
        }
    }

    @Test
    void goldenHfFormulaAtPositionOneWithFourDims() {
        double[] v = {0.3, -1.2, 0.7, 2.5};
        double x0 = v[0], x1 = v[1], x2 = v[2], x3 = v[3];
        double[] expected = {  // inv_freq = [1, 0.01], so the angles are 1 and 0.01
            x0 * Math.cos(1) - x2 * Math.sin(1),
            x1 * Math.cos(0.01) - x3 * Math.sin(0.01),
            x2 * Math.cos(1) + x0 * Math.sin(1),
            x3 * Math.cos(0.01) + x1 * Math.sin(0.01)};
        Tensor x64 = Tensor.of(v.clone(), 1, 1, 1, 4);
        assertClose(Rope.forward(x64, new int[] {1}).toDoubleArray(), expected, 1e-15);
        Tensor x32 = x64.to(DType.F32);
        assertClose(Rope.forward(x32, 1, 10000.0, 4, Layout.HALF).toDoubleArray(), expected, 1e-6);
    }

    @Test
    void oddSequenceLengthsAndRowsLongerThanOneVector() {
        Rng rng = new Rng(2);
        for (int T : new int[] {1, 3, 17}) {
            int B = 1, H = 2, D = 80, rd = 80;
            Tensor x = Tensor.randn(rng, 0, 1, DType.F32, B, H, T, D);
            int[] pos = Rope.positions(0, T);
            Tensor y = Rope.forward(x, pos, 10000.0, rd, Layout.HALF);
            assertClose(y.toDoubleArray(), ref(x.toDoubleArray(), B, H, T, D, pos, 10000.0, rd, Layout.HALF, false), 1e-5);
        }
    }

    // ---------------------------------------------------------------- algebraic properties

    @Test
    void rotationPreservesTheNormOfEveryPair() {
        Rng rng = new Rng(3);
        int B = 1, H = 2, T = 7, D = 64, rd = 48, h = rd / 2;
        for (Layout layout : Layout.values()) {
            Tensor x = Tensor.randn(rng, 0, 1, DType.F64, B, H, T, D);
            double[] xs = x.toDoubleArray();
            double[] ys = Rope.forward(x, Rope.positions(5, T), 10000.0, rd, layout).toDoubleArray();
            for (int row = 0; row < B * H * T; row++) {
                for (int i = 0; i < h; i++) {
                    int p = row * D + (layout == Layout.HALF ? i : 2 * i), q = row * D + (layout == Layout.HALF ? i + h : 2 * i + 1);
                    double before = Math.hypot(xs[p], xs[q]), after = Math.hypot(ys[p], ys[q]);
                    assertThat(after).isCloseTo(before, org.assertj.core.data.Offset.offset(1e-12));
                }
                for (int d = rd; d < D; d++) assertThat(ys[row * D + d]).isEqualTo(xs[row * D + d]); // pass-through
            }
        }
    }

    @Test
    void backwardAfterForwardIsTheIdentity() {
        Rng rng = new Rng(4);
        for (Layout layout : Layout.values()) {
            for (DType dt : new DType[] {DType.F32, DType.F64}) {
                Tensor x = transposedInput(rng, dt, 2, 3, 5, 80);
                int[] pos = offsetPositions(7, 5);
                Tensor back = Rope.backward(Rope.forward(x, pos, 10000.0, 64, layout), pos, 10000.0, 64, layout);
                assertClose(back.toDoubleArray(), x.toDoubleArray(), dt == DType.F32 ? 1e-5 : 1e-12);
            }
        }
    }

    @Test
    void backwardIsTheTransposeOfForward() {
        Rng rng = new Rng(5);
        for (Layout layout : Layout.values()) {
            int[] pos = offsetPositions(1, 9);
            Tensor x = Tensor.randn(rng, 0, 1, DType.F64, 2, 2, 9, 8);
            Tensor y = Tensor.randn(rng, 0, 1, DType.F64, 2, 2, 9, 8);
            double lhs = dot(Rope.forward(x, pos, 10000.0, 6, layout).toDoubleArray(), y.toDoubleArray());
            double rhs = dot(x.toDoubleArray(), Rope.backward(y, pos, 10000.0, 6, layout).toDoubleArray());
            assertThat(lhs).isCloseTo(rhs, org.assertj.core.data.Offset.offset(1e-12 * (1 + Math.abs(lhs))));
        }
    }

    @Test
    void startPositionGivesTheMatchingRowsOfALongerSequence() {
        Rng rng = new Rng(6);
        int B = 2, H = 2, T = 11, D = 64, start = 4, n = 5;
        for (Layout layout : Layout.values()) {
            for (DType dt : new DType[] {DType.F32, DType.F64}) {
                Tensor full = Tensor.randn(rng, 0, 1, dt, B, H, T, D);
                Tensor whole = Rope.forward(full, 0, 500000.0, D, layout);
                Tensor tail = Rope.forward(full.narrow(2, start, n), start, 500000.0, D, layout); // a KV-cache decode step
                // Same position, same table entry: the same bits.
                assertThat(tail.toDoubleArray()).containsExactly(whole.narrow(2, start, n).toDoubleArray());
            }
        }
    }

    @Test
    void cacheGivesTheSameResultAsPositionsAndIsReusable() {
        Rng rng = new Rng(7);
        int[] pos = Rope.positions(3, 6);
        Rope.Cache cache = Rope.Cache.of(pos, 10000.0, 32);
        Tensor q = Tensor.randn(rng, 0, 1, DType.F32, 1, 4, 6, 64), k = Tensor.randn(rng, 0, 1, DType.F32, 1, 2, 6, 64);
        assertThat(Rope.forward(q, cache, Layout.HALF).toFloatArray())
                .containsExactly(Rope.forward(q, pos, 10000.0, 32, Layout.HALF).toFloatArray());
        assertThat(Rope.forward(k, cache, Layout.HALF).toFloatArray())
                .containsExactly(Rope.forward(k, pos, 10000.0, 32, Layout.HALF).toFloatArray());
        assertThat(Rope.backward(k, cache, Layout.INTERLEAVED).toFloatArray())
                .containsExactly(Rope.backward(k, pos, 10000.0, 32, Layout.INTERLEAVED).toFloatArray());
    }

    @Test
    void f32TablesFollowHfFloat32Arithmetic() {
        // HF: inv_freq in float32, angle = float(pos) * inv_freq rounded to float, then cos of that float angle.
        Rope.Cache cache = Rope.Cache.of(new int[] {8191}, 500000.0, 128);
        float invFreq = 1f / (float) Math.pow(500000f, (float) 2 / 128f);
        float angle = 8191f * invFreq;
        assertThat(cache.cos()[1]).isEqualTo((float) Math.cos(angle));
        assertThat(cache.sin()[1]).isEqualTo((float) Math.sin(angle));
        // The F64 tables are the exact formula, which differs from the float32 angle by far more than an ulp here.
        assertThat(cache.cos64()[1]).isEqualTo(Math.cos(8191 * (1.0 / Math.pow(500000.0, 2.0 / 128))));
    }

    @Test
    void sameBitsForAnyThreadCountAndInPlaceRawKernel() {
        Rng rng = new Rng(8);
        int B = 2, H = 8, T = 64, D = 80;
        Tensor x = Tensor.randn(rng, 0, 1, DType.F32, B, H, T, D);
        int[] pos = Rope.positions(0, T);
        float[][] results = new float[2][];
        for (int threads = 1; threads <= 2; threads++) {
            int k = threads - 1;
            Parallel.withThreads(threads, () -> results[k] = Rope.forward(x, pos, 10000.0, D, Layout.HALF).toFloatArray());
        }
        assertThat(results[1]).containsExactly(results[0]);

        Rope.Cache cache = Rope.Cache.of(pos, 10000.0, D);
        float[] buf = x.toFloatArray();
        Rope.forward(buf, 0, buf, 0, cache.cos(), cache.sin(), B * H, T, D, D, Layout.HALF);
        assertThat(buf).containsExactly(results[0]);
    }

    // ---------------------------------------------------------------- bad input

    @Test
    void badInputNamesWhatWasExpectedAndWhatCame() {
        Tensor x = Tensor.zeros(1, 2, 3, 8);
        int[] pos = {0, 1, 2};
        assertThatThrownBy(() -> Rope.forward(Tensor.zeros(1, 2, 3, 7), pos, 10000.0, 6, Layout.HALF))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even head dim").hasMessageContaining("7");
        assertThatThrownBy(() -> Rope.forward(x, pos, 10000.0, 10, Layout.HALF))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rotaryDim 10").hasMessageContaining("D = 8");
        assertThatThrownBy(() -> Rope.forward(x, pos, 10000.0, 5, Layout.HALF))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even rotaryDim").hasMessageContaining("5");
        assertThatThrownBy(() -> Rope.forward(x, new int[] {0, 1}, 10000.0, 8, Layout.HALF))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected 3 positions").hasMessageContaining("got 2");
        assertThatThrownBy(() -> Rope.backward(Tensor.zeros(2, 3, 8), pos))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank 4").hasMessageContaining("got rank 3");
        assertThatThrownBy(() -> Rope.forward(x, pos, 0.0, 8, Layout.HALF))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("theta");
        assertThatThrownBy(() -> Rope.forward(Tensor.zeros(DType.I32, 1, 2, 3, 8), pos))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I32");
    }
}
