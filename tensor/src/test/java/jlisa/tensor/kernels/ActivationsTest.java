package jlisa.tensor.kernels;

import static jlisa.tensor.kernels.SoftmaxTest.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.DoubleUnaryOperator;

import jlisa.tensor.DType;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class ActivationsTest {
    private static final int[] SIZES = {1, 3, 16, 17, 33, 100, 257};

    /** erf by Simpson's rule on 2/√π·∫₀ˣ e^(-t²) dt: slow, plain, and independent of the kernel's erfc. */
    static double refErf(double x) {
        if (Math.abs(x) > 6) return Math.signum(x) * (1 - 1e-17); // beyond 6 erf is ±1 to double precision
        int n = 4000;
        double h = x / n, s = 1 + Math.exp(-x * x);
        for (int i = 1; i < n; i++) s += (i % 2 == 1 ? 4 : 2) * Math.exp(-Math.pow(i * h, 2));
        return 2 / Math.sqrt(Math.PI) * s * h / 3;
    }

    static final DoubleUnaryOperator GELU_TANH = x -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    static final DoubleUnaryOperator GELU_ERF = x -> 0.5 * x * (1 + refErf(x / Math.sqrt(2)));
    static final DoubleUnaryOperator SILU = x -> x / (1 + Math.exp(-x));

    /** Inputs spread over the range that matters, plus the tails. */
    static double[] inputs(Rng rng, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rng.nextGaussian() * (i % 5 == 0 ? 8 : 2));
        return x;
    }

    private interface Fwd { Tensor apply(Tensor x); }
    private interface Bwd { Tensor apply(Tensor x, Tensor dout); }

    /** f64Tol: the reference's own accuracy (Simpson's erf is good to ~1e-11, the closed forms to rounding). */
    private static void checkActivation(DoubleUnaryOperator ref, Fwd fwd, Bwd bwd, long seed, double f64Tol) {
        Rng rng = new Rng(seed);
        for (int n : SIZES) {
            double[] x = inputs(rng, n), g = inputs(rng, n);
            double[] expect = new double[n], dexpect = new double[n];
            double h = 1e-5;
            for (int i = 0; i < n; i++) {
                expect[i] = ref.applyAsDouble(x[i]);
                dexpect[i] = (ref.applyAsDouble(x[i] + h) - ref.applyAsDouble(x[i] - h)) / (2 * h) * g[i];
            }
            float[] xf = SoftmaxTest.toFloats(x), gf = SoftmaxTest.toFloats(g);
            Tensor yF = fwd.apply(Tensor.of(xf, n));
            assertThat(yF.dtype()).isEqualTo(DType.F32);
            assertClose(yF.toDoubleArray(), expect, 1e-6, 3e-6);
            assertClose(bwd.apply(Tensor.of(xf, n), Tensor.of(gf, n)).toDoubleArray(), dexpect, 1e-5, 1e-4);
            Tensor yD = fwd.apply(Tensor.of(x.clone(), n));
            assertThat(yD.dtype()).isEqualTo(DType.F64);
            assertClose(yD.toDoubleArray(), expect, f64Tol, 1e-11);
            assertClose(bwd.apply(Tensor.of(x.clone(), n), Tensor.of(g.clone(), n)).toDoubleArray(), dexpect, 1e-8, 1e-7);
        }
    }

    @Test
    void geluTanhMatchesReferenceAndFiniteDifferences() {
        checkActivation(GELU_TANH, Activations::geluTanh, Activations::geluTanhBackward, 31, 1e-13);
    }

    @Test
    void geluErfMatchesReferenceAndFiniteDifferences() {
        checkActivation(GELU_ERF, Activations::geluErf, Activations::geluErfBackward, 32, 1e-10);
    }

    @Test
    void siluMatchesReferenceAndFiniteDifferences() {
        checkActivation(SILU, Activations::silu, Activations::siluBackward, 33, 1e-13);
    }

    @Test
    void f64BackwardKernelsPassCentralDifferencesOfTheirOwnForward() {
        Rng rng = new Rng(34);
        int n = 40;
        double[] x = inputs(rng, n), g = inputs(rng, n);
        double h = 1e-6;
        for (int kind = 0; kind < 3; kind++) {
            double[] dx = new double[n], plus = new double[1], minus = new double[1];
            switch (kind) {
                case 0 -> Activations.geluTanhBackward(dx, 0, x, 0, g, 0, n);
                case 1 -> Activations.geluErfBackward(dx, 0, x, 0, g, 0, n);
                default -> Activations.siluBackward(dx, 0, x, 0, g, 0, n);
            }
            for (int i = 0; i < n; i++) {
                double[] xp = {x[i] + h}, xm = {x[i] - h};
                switch (kind) {
                    case 0 -> { Activations.geluTanhForward(plus, 0, xp, 0, 1); Activations.geluTanhForward(minus, 0, xm, 0, 1); }
                    case 1 -> { Activations.geluErfForward(plus, 0, xp, 0, 1); Activations.geluErfForward(minus, 0, xm, 0, 1); }
                    default -> { Activations.siluForward(plus, 0, xp, 0, 1); Activations.siluForward(minus, 0, xm, 0, 1); }
                }
                double num = (plus[0] - minus[0]) / (2 * h) * g[i];
                assertThat(dx[i]).as("kind %d x=%s", kind, x[i]).isCloseTo(num, Offset.offset(1e-7 * (1 + Math.abs(num))));
            }
        }
    }

    @Test
    void erfcMatchesTabulatedValues() {
        double[][] table = {{0, 1}, {0.5, 0.4795001221869535}, {1, 0.15729920705028513}, {1.9, 0.007209570764742524},
                {2, 0.004677734981047266}, {3, 2.209049699858544e-05}, {5, 1.5374597944280349e-12}, {-1, 1.8427007929497148},
                {10, 2.088487583762545e-45}};
        for (double[] row : table) {
            assertThat(Activations.erfc(row[0])).as("erfc(%s)", row[0]).isCloseTo(row[1], Offset.offset(1e-13 * Math.abs(row[1])));
        }
        assertThat(Activations.erfc(30)).isZero();
        assertThat(Activations.erfc(-30)).isEqualTo(2.0);
    }

    @Test
    void extremeInputsGiveFiniteLimits() {
        float[] x = {-1e4f, -100f, -30f, 30f, 100f, 1e4f, 0f};
        for (Fwd f : new Fwd[] {Activations::geluTanh, Activations::geluErf, Activations::silu}) {
            double[] y = f.apply(Tensor.of(x.clone(), x.length)).toDoubleArray();
            for (int i = 0; i < x.length; i++) {
                double expect = x[i] > 0 ? x[i] : 0;
                assertThat(y[i]).as("f(%s)", x[i]).isCloseTo(expect, Offset.offset(1e-5 * Math.max(1, Math.abs(x[i]))));
            }
        }
        for (Bwd b : new Bwd[] {Activations::geluTanhBackward, Activations::geluErfBackward, Activations::siluBackward}) {
            double[] d = b.apply(Tensor.of(x.clone(), x.length), Tensor.ones(x.length)).toDoubleArray();
            for (int i = 0; i < x.length - 1; i++) assertThat(d[i]).as("f'(%s)", x[i]).isCloseTo(x[i] > 0 ? 1 : 0, Offset.offset(1e-6));
            assertThat(d[x.length - 1]).isCloseTo(0.5, Offset.offset(1e-6));
        }
    }

    @Test
    void anyShapeAndLayoutIncludingScalarsAndTransposedViews() {
        Rng rng = new Rng(35);
        Tensor base = Tensor.randn(rng, 0, 2, DType.F32, 17, 9);
        Tensor t = base.t(); // (9, 17)
        double[] xs = t.toDoubleArray();
        double[] expect = new double[xs.length];
        for (int i = 0; i < xs.length; i++) expect[i] = SILU.applyAsDouble(xs[i]);
        Tensor y = Activations.silu(t);
        assertThat(y.shape()).containsExactly(9, 17);
        assertClose(y.toDoubleArray(), expect, 1e-6, 3e-6);
        Tensor s = Activations.geluTanh(Tensor.scalar(1));
        assertThat(s.dim()).isZero();
        assertThat(s.item()).isCloseTo(GELU_TANH.applyAsDouble(1), Offset.offset(1e-6));
        assertThat(Activations.geluErf(Tensor.zeros(0, 4)).shape()).containsExactly(0, 4);
    }

    @Test
    void resultsAreBitwiseIdenticalForAnyThreadCount() {
        Tensor x = Tensor.randn(new Rng(36), 0, 3, DType.F32, 100_003); // not a multiple of 16: a tail at the end
        Tensor g = Tensor.randn(new Rng(37), 0, 1, DType.F32, 100_003);
        float[][] ref = null;
        for (int threads : new int[] {1, 2, 3}) {
            float[][] got = new float[6][];
            Parallel.withThreads(threads, () -> {
                got[0] = Activations.geluTanh(x).toFloatArray();
                got[1] = Activations.geluErf(x).toFloatArray();
                got[2] = Activations.silu(x).toFloatArray();
                got[3] = Activations.geluTanhBackward(x, g).toFloatArray();
                got[4] = Activations.geluErfBackward(x, g).toFloatArray();
                got[5] = Activations.siluBackward(x, g).toFloatArray();
            });
            if (ref == null) ref = got;
            else for (int k = 0; k < 6; k++) assertThat(got[k]).as("output %d with %d threads", k, threads).isEqualTo(ref[k]);
        }
    }

    @Test
    void badInputIsRejectedWithShapesInTheMessage() {
        assertThatThrownBy(() -> Activations.geluTanhBackward(Tensor.zeros(4, 3), Tensor.zeros(3, 4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(3, 4)").hasMessageContaining("(4, 3)");
        assertThatThrownBy(() -> Activations.silu(Tensor.of(new int[] {1}, 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I32");
        assertThatThrownBy(() -> Activations.siluBackward(Tensor.zeros(2), Tensor.zeros(DType.F64, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
    }
}
