package jlisa.tensor.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jlisa.tensor.DType;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

class SoftmaxTest {
    private static final int[] COLS = {1, 3, 16, 17, 33, 100, 257};

    // ---------------------------------------------------------------- plain float64 references

    static double[] refSoftmax(double[] x, int rows, int cols, boolean log) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < cols; i++) max = Math.max(max, x[r * cols + i]);
            double sum = 0;
            for (int i = 0; i < cols; i++) sum += Math.exp(x[r * cols + i] - max);
            for (int i = 0; i < cols; i++) {
                double v = x[r * cols + i];
                out[r * cols + i] = log ? v - max - Math.log(sum) : Math.exp(v - max) / sum;
            }
        }
        return out;
    }

    /** dx = Jᵀ·dy with the full Jacobian of softmax (or log-softmax) spelled out. */
    static double[] refBackward(double[] x, double[] dy, int rows, int cols, boolean log) {
        double[] p = refSoftmax(x, rows, cols, false);
        double[] dx = new double[x.length];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int i = 0; i < cols; i++) {
                    double kron = i == j ? 1 : 0;
                    double jac = log ? kron - p[r * cols + j] : p[r * cols + i] * (kron - p[r * cols + j]);
                    s += dy[r * cols + i] * jac;
                }
                dx[r * cols + j] = s;
            }
        }
        return dx;
    }

    static double[] randoms(Rng rng, int n, double scale) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) a[i] = scale * rng.nextGaussian();
        return a;
    }

    static float[] toFloats(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }

    static double[] widen(float[] f) {
        double[] a = new double[f.length];
        for (int i = 0; i < f.length; i++) a[i] = f[i];
        return a;
    }

    static void assertClose(double[] actual, double[] expected, double atol, double rtol) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < actual.length; i++) {
            double tol = atol + rtol * Math.abs(expected[i]);
            if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
                throw new AssertionError("element " + i + ": got " + actual[i] + ", expected " + expected[i] + " (tol " + tol + ")");
            }
        }
    }

    // ---------------------------------------------------------------- forward

    @Test
    void softmaxAndLogSoftmaxMatchFloat64ReferenceInF32OnOddRowLengths() {
        Rng rng = new Rng(1);
        for (int cols : COLS) {
            for (int rows : new int[] {1, 5}) {
                float[] xf = toFloats(randoms(rng, rows * cols, 4));
                double[] x = widen(xf);
                Tensor t = Tensor.of(xf, rows, cols);
                Tensor y = Softmax.softmax(t), ly = Softmax.logSoftmax(t);
                assertThat(y.dtype()).isEqualTo(DType.F32);
                assertClose(y.toDoubleArray(), refSoftmax(x, rows, cols, false), 1e-7, 1e-5);
                assertClose(ly.toDoubleArray(), refSoftmax(x, rows, cols, true), 1e-5, 1e-5);
            }
        }
    }

    @Test
    void softmaxAndLogSoftmaxMatchReferenceInF64() {
        Rng rng = new Rng(2);
        for (int cols : COLS) {
            double[] x = randoms(rng, 3 * cols, 4);
            Tensor t = Tensor.of(x.clone(), 3, cols);
            assertThat(Softmax.softmax(t).dtype()).isEqualTo(DType.F64);
            assertClose(Softmax.softmax(t).toDoubleArray(), refSoftmax(x, 3, cols, false), 1e-15, 1e-13);
            assertClose(Softmax.logSoftmax(t).toDoubleArray(), refSoftmax(x, 3, cols, true), 1e-13, 1e-13);
        }
    }

    @Test
    void largeLogitsAreStable() {
        Tensor y = Softmax.softmax(Tensor.of(new float[] {1000, 1001}, 2));
        assertClose(y.toDoubleArray(), new double[] {1 / (1 + Math.E), Math.E / (1 + Math.E)}, 1e-6, 0);
        float[] big = new float[40];
        for (int i = 0; i < big.length; i++) big[i] = 1e4f + i;
        Tensor ly = Softmax.logSoftmax(Tensor.of(big, 40));
        double[] expect = refSoftmax(widen(big), 1, 40, true);
        assertClose(ly.toDoubleArray(), expect, 1e-3, 0);
        Tensor neg = Softmax.softmax(Tensor.of(new float[] {-1e30f, 0, -1e30f}, 3));
        assertClose(neg.toDoubleArray(), new double[] {0, 1, 0}, 0, 0);
        Tensor lneg = Softmax.logSoftmax(Tensor.of(new double[] {-1000, 0}, 2));
        assertClose(lneg.toDoubleArray(), new double[] {-1000, 0}, 1e-12, 0);
    }

    @Test
    void nonContiguousViewsAndBf16AreReadThroughTheirLayout() {
        Rng rng = new Rng(3);
        Tensor base = Tensor.randn(rng, 0, 2, DType.F32, 33, 7);
        Tensor tr = base.t(); // (7, 33), strides (1, 7)
        assertClose(Softmax.softmax(tr).toDoubleArray(), refSoftmax(tr.toDoubleArray(), 7, 33, false), 1e-7, 1e-5);
        Tensor nar = Tensor.randn(rng, 0, 2, DType.F32, 4, 40).narrow(1, 3, 17); // rows of 17 with stride 40
        assertClose(Softmax.logSoftmax(nar).toDoubleArray(), refSoftmax(nar.toDoubleArray(), 4, 17, true), 1e-5, 1e-5);
        Tensor bf = Tensor.zeros(DType.BF16, 2, 19).copyFrom(Tensor.randn(rng, 0, 1, DType.F32, 2, 19));
        Tensor y = Softmax.softmax(bf);
        assertThat(y.dtype()).isEqualTo(DType.F32);
        assertClose(y.toDoubleArray(), refSoftmax(bf.toDoubleArray(), 2, 19, false), 1e-7, 1e-5);
        Tensor x3 = Tensor.randn(rng, 0, 1, DType.F64, 2, 3, 17);
        assertClose(Softmax.softmax(x3).toDoubleArray(), refSoftmax(x3.toDoubleArray(), 6, 17, false), 1e-15, 1e-13);
    }

    @Test
    void emptyInputsGiveEmptyOutputs() {
        assertThat(Softmax.softmax(Tensor.zeros(0, 7)).shape()).containsExactly(0, 7);
        assertThat(Softmax.logSoftmax(Tensor.zeros(3, 0)).shape()).containsExactly(3, 0);
        assertThat(Softmax.softmaxBackward(Tensor.zeros(0, 5), Tensor.zeros(0, 5)).numel()).isZero();
    }

    // ---------------------------------------------------------------- backward

    @Test
    void backwardMatchesFullJacobianInF32AndF64() {
        Rng rng = new Rng(4);
        for (int cols : COLS) {
            int rows = 3;
            double[] x = widen(toFloats(randoms(rng, rows * cols, 3)));
            double[] dy = widen(toFloats(randoms(rng, rows * cols, 1)));
            for (boolean log : new boolean[] {false, true}) {
                double[] expect = refBackward(x, dy, rows, cols, log);
                // F32: feed the F32 forward output, as autograd will
                Tensor xf = Tensor.of(toFloats(x), rows, cols), dyf = Tensor.of(toFloats(dy), rows, cols);
                Tensor yf = log ? Softmax.logSoftmax(xf) : Softmax.softmax(xf);
                Tensor dxf = log ? Softmax.logSoftmaxBackward(yf, dyf) : Softmax.softmaxBackward(yf, dyf);
                assertClose(dxf.toDoubleArray(), expect, 2e-5, 1e-4);
                Tensor xd = Tensor.of(x.clone(), rows, cols), dyd = Tensor.of(dy.clone(), rows, cols);
                Tensor yd = log ? Softmax.logSoftmax(xd) : Softmax.softmax(xd);
                Tensor dxd = log ? Softmax.logSoftmaxBackward(yd, dyd) : Softmax.softmaxBackward(yd, dyd);
                assertClose(dxd.toDoubleArray(), expect, 1e-13, 1e-11);
            }
        }
    }

    @Test
    void backwardMatchesCentralFiniteDifferencesInF64() {
        Rng rng = new Rng(5);
        for (int cols : new int[] {1, 3, 17}) {
            int rows = 2;
            double[] x = randoms(rng, rows * cols, 2), g = randoms(rng, rows * cols, 1);
            for (boolean log : new boolean[] {false, true}) {
                double[] y = new double[x.length], dx = new double[x.length];
                if (log) Softmax.logSoftmaxForward(y, 0, x, 0, rows, cols); else Softmax.softmaxForward(y, 0, x, 0, rows, cols);
                if (log) Softmax.logSoftmaxBackward(dx, 0, y, 0, g, 0, rows, cols); else Softmax.softmaxBackward(dx, 0, y, 0, g, 0, rows, cols);
                double h = 1e-6;
                for (int i = 0; i < x.length; i++) {
                    double[] xp = x.clone(), xm = x.clone();
                    xp[i] += h;
                    xm[i] -= h;
                    double num = (dot(refSoftmax(xp, rows, cols, log), g) - dot(refSoftmax(xm, rows, cols, log), g)) / (2 * h);
                    assertThat(dx[i]).as("d/dx[%d] log=%s cols=%d", i, log, cols).isCloseTo(num, org.assertj.core.data.Offset.offset(1e-8));
                }
            }
        }
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @Test
    void rawKernelsHonourOffsets() {
        Rng rng = new Rng(6);
        float[] buf = toFloats(randoms(rng, 5 + 2 * 19, 2));
        float[] out = new float[3 + 2 * 19];
        Softmax.softmaxForward(out, 3, buf, 5, 2, 19);
        double[] x = new double[2 * 19];
        for (int i = 0; i < x.length; i++) x[i] = buf[5 + i];
        double[] expect = refSoftmax(x, 2, 19, false);
        for (int i = 0; i < 3; i++) assertThat(out[i]).isZero();
        for (int i = 0; i < expect.length; i++) assertThat((double) out[3 + i]).isCloseTo(expect[i], org.assertj.core.data.Offset.offset(1e-6));
    }

    @Test
    void resultsAreBitwiseIdenticalForAnyThreadCount() {
        Rng rng = new Rng(7);
        Tensor x = Tensor.randn(rng, 0, 3, DType.F32, 300, 257);
        Tensor dy = Tensor.randn(rng, 0, 1, DType.F32, 300, 257);
        float[][] ref = null;
        // the first run is cold (interpreted), later ones compiled: Softmax.exp gives the same bits in every tier
        for (int threads : new int[] {1, 2, 3, 1}) {
            float[][] got = new float[4][];
            Parallel.withThreads(threads, () -> {
                Tensor y = Softmax.softmax(x), ly = Softmax.logSoftmax(x);
                got[0] = y.toFloatArray();
                got[1] = ly.toFloatArray();
                got[2] = Softmax.softmaxBackward(y, dy).toFloatArray();
                got[3] = Softmax.logSoftmaxBackward(ly, dy).toFloatArray();
            });
            if (ref == null) ref = got;
            else for (int k = 0; k < 4; k++) assertThat(got[k]).as("output %d with %d threads", k, threads).isEqualTo(ref[k]);
        }
    }

    @Test
    void sharedExpIsWithinTwoUlpsAndVectorLanesMatchTheScalarBitForBit() {
        int n = 1 << 13;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -87.3f + (87.3f + 88.3f) * i / (n - 1);
        int lanes = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        float[] v = new float[n];
        for (int i = 0; i + lanes <= n; i += lanes) {
            Softmax.exp(jdk.incubator.vector.FloatVector.fromArray(jdk.incubator.vector.FloatVector.SPECIES_PREFERRED, x, i)).intoArray(v, i);
        }
        for (int i = 0; i < n; i++) {
            float e = Softmax.exp(x[i]);
            if (Float.floatToRawIntBits(v[i]) != Float.floatToRawIntBits(e)) throw new AssertionError("lane " + v[i] + " vs scalar " + e + " at x=" + x[i]);
            double exact = Math.exp(x[i]);
            if (Math.abs(e - exact) > 2 * Math.ulp((float) exact)) throw new AssertionError("exp(" + x[i] + ") = " + e + ", exact " + exact);
        }
        assertThat(Softmax.exp(0f)).isEqualTo(1f);
        assertThat(Softmax.exp(Float.NEGATIVE_INFINITY)).isZero();
        assertThat(Softmax.exp(-1000f)).isZero();
        assertThat(Softmax.exp(Float.POSITIVE_INFINITY)).isInfinite();
        assertThat(Softmax.exp(Float.NaN)).isNaN();
    }

    // ---------------------------------------------------------------- bad input

    @Test
    void badInputIsRejectedWithShapesInTheMessage() {
        assertThatThrownBy(() -> Softmax.softmax(Tensor.scalar(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scalar");
        assertThatThrownBy(() -> Softmax.softmax(Tensor.of(new int[] {1, 2}, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I32").hasMessageContaining("(2,)");
        assertThatThrownBy(() -> Softmax.softmaxBackward(Tensor.zeros(2, 3), Tensor.zeros(3, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(3, 2)").hasMessageContaining("(2, 3)");
        assertThatThrownBy(() -> Softmax.logSoftmaxBackward(Tensor.zeros(2, 3), Tensor.zeros(DType.F64, 2, 3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64").hasMessageContaining("F32");
    }
}
