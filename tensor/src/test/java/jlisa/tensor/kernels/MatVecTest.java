package jlisa.tensor.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;

import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The decoding path of {@link MatMul#gemm}: few rows against a weight read in place (F32, BF16; heap, segment). */
class MatVecTest {
    private static final int[] KS = {1, 3, 16, 17, 64, 100, 257};
    private static final int[] NS = {1, 4, 5, 33, 130};

    /** Where a weight lies: on the heap, or in an off-heap segment as a mapped checkpoint's. */
    private enum Place { HEAP, SEGMENT, SEGMENT_OFF_ALIGNMENT }

    /** W (rows, cols) of {@code dtype} in {@code place}, with the values of {@code w} (rounded to BF16 for BF16). */
    private static Tensor stored(Tensor w, DType dtype, Place place, Arena arena) {
        Tensor heap = w.to(dtype);
        if (place == Place.HEAP) return heap;
        // 3 elements in: the rows start off the vector boundary, as a mapped checkpoint's usually do
        int at = place == Place.SEGMENT ? 0 : 3;
        SegmentStorage s = SegmentStorage.allocate(dtype, w.numel() + at, arena, MemoryKind.OTHER);
        return new Tensor(s, w.shape(), new int[] {w.size(1), 1}, at).copyFrom(heap);
    }

    /** alpha · x · b + beta · c0 in float64, b read element by element (BF16 widened exactly). */
    private static double[] reference(double alpha, Tensor x, Tensor b, double beta, Tensor c0) {
        int m = x.size(0), k = x.size(1), n = b.size(1);
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += x.get(i, p) * b.get(p, j);
                out[i * n + j] = alpha * s + beta * c0.get(i, j);
            }
        }
        return out;
    }

    private static void check(double alpha, Tensor x, Tensor b, double beta, Rng rng, String what) {
        int m = x.size(0), n = b.size(1), k = x.size(1);
        assertThat(MatVec.takes(x, b, Tensor.zeros(m, n))).as(what + ": takes the matvec path").isTrue();
        Tensor c = Tensor.randn(rng, m, n);
        double[] want = reference(alpha, x, b, beta, c);
        MatMul.gemm(alpha, x, b, beta, c);
        float[] got = c.contiguous().toFloatArray();
        for (int e = 0; e < want.length; e++) {
            double tol = 1e-5 * Math.sqrt(k) * (1 + Math.abs(want[e]));
            assertThat((double) got[e]).as("%s element %d", what, e).isCloseTo(want[e], org.assertj.core.data.Offset.offset(tol));
        }
    }

    @Test void rowsAndColumnsLayoutsMatchFloat64OnOddShapes() {
        Rng rng = new Rng(3);
        try (Arena arena = Arena.ofConfined()) {
            for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
                for (Place place : Place.values()) {
                    for (int k : KS) {
                        for (int n : NS) {
                            int m = 1 + (k + n) % MatVec.MAX_ROWS;
                            Tensor x = Tensor.randn(rng, m, k);
                            // rows: W (n, k) as torch.nn.Linear stores it, multiplied as Wᵀ
                            Tensor w = stored(Tensor.randn(rng, n, k), dtype, place, arena);
                            check(1, x, w.t(), 0, rng, dtype + " " + place + " rows m=" + m + " k=" + k + " n=" + n);
                            // columns: B (k, n) as GPT-2's Conv1D stores it
                            Tensor bcols = stored(Tensor.randn(rng, k, n), dtype, place, arena);
                            check(0.5, x, bcols, 2, rng, dtype + " " + place + " columns m=" + m + " k=" + k + " n=" + n);
                        }
                    }
                }
            }
        }
    }

    @Test void stridedRowsOfAAndAViewOfTheWeightAreRead() {
        Rng rng = new Rng(5);
        Tensor big = Tensor.randn(rng, 7, 40);
        Tensor x = big.narrow(0, 2, 3).narrow(1, 3, 33);            // rows with a stride, an offset
        Tensor w = Tensor.randn(rng, 50, 60).narrow(0, 5, 20).narrow(1, 1, 33);   // W rows of 33 in a row stride of 60
        check(1, x, w.t(), 0, rng, "strided");
        Tensor xt = Tensor.randn(rng, 33, 2).t();                     // A transposed
        check(1, xt, w.t(), 1, rng, "transposed A");
    }

    @Test void resultsDoNotDependOnTheThreadCount() {
        Rng rng = new Rng(7);
        Tensor x = Tensor.randn(rng, 2, 300);
        Tensor w = Tensor.randn(rng, 1000, 300);
        Tensor wb = w.to(DType.BF16), cols = Tensor.randn(rng, 300, 999);
        for (Tensor b : new Tensor[] {w.t(), wb.t(), cols, cols.to(DType.BF16)}) {
            float[][] out = new float[3][];
            int[] threads = {1, 2, 3};
            for (int t = 0; t < threads.length; t++) {
                int i = t;
                Parallel.withThreads(threads[t], () -> {
                    Tensor c = Tensor.zeros(2, b.size(1));
                    MatMul.gemm(1, x, b, 0, c);
                    out[i] = c.toFloatArray();
                });
            }
            assertThat(out[1]).isEqualTo(out[0]);
            assertThat(out[2]).isEqualTo(out[0]);
        }
    }

    @Test void betaZeroOverwritesNaNsAndMoreRowsTakeTheGemm() {
        Rng rng = new Rng(9);
        Tensor x = Tensor.randn(rng, 1, 20), w = Tensor.randn(rng, 8, 20);
        Tensor c = Tensor.full(Float.NaN, DType.F32, 1, 8);
        MatMul.gemm(1, x, w.t(), 0, c);
        for (float v : c.toFloatArray()) assertThat(v).isNotNaN();
        Tensor many = Tensor.randn(rng, MatVec.MAX_ROWS + 1, 20);
        assertThat(MatVec.takes(many, w.t(), Tensor.zeros(MatVec.MAX_ROWS + 1, 8))).isFalse();
        assertThat(MatVec.takes(x, w.t().to(DType.F64), Tensor.zeros(1, 8))).isFalse();
    }

    /**
     * The bits are the lane-order sum of the per-lane fma chains plus the scalar tail, whether the interpreter or C2 runs
     * the kernel: reduceLanes(ADD) leaves its order to the implementation, and C2's differs from the interpreter's.
     */
    @Test void bitsAreTheLaneOrderSumInEveryJitTier() {
        int lanes = MatVec.L;
        int m = 2, n = 6, k = 3 * lanes + 5;
        Rng rng = new Rng(11);
        Tensor x = Tensor.randn(rng, m, k), w = Tensor.randn(rng, n, k);
        float[] xs = x.toFloatArray(), ws = w.toFloatArray();
        float[] want = new float[m * n];
        int kv = k - k % lanes;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float[] acc = new float[lanes];
                for (int p = 0; p < kv; p++) acc[p % lanes] = Math.fma(ws[j * k + p], xs[i * k + p], acc[p % lanes]);
                float sum = 0f;
                for (float a : acc) sum += a;
                for (int p = kv; p < k; p++) sum = Math.fma(ws[j * k + p], xs[i * k + p], sum);
                want[i * n + j] = sum;
            }
        }
        for (int call = 0; call < 30000; call++) {   // the first calls interpreted, the last compiled by C2 (by 30000 here)
            Tensor c = Tensor.zeros(m, n);
            MatMul.gemm(1f, x, w.transpose(0, 1), 0f, c);
            if (call == 0 || call == 29999) assertThat(c.toFloatArray()).as("call %d", call).containsExactly(want);
        }
    }
}
