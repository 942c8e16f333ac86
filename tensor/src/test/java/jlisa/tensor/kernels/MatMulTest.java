package jlisa.tensor.kernels;

import static jlisa.tensor.TestTensors.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Rng;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;
import jlisa.tensor.TestTensors;
import org.junit.jupiter.api.Test;

class MatMulTest {

    /** Naive float64 matmul on (..., m, k) · (..., k, n) with broadcast batch dims, through get(). */
    private static Tensor reference(Tensor a, Tensor b) {
        boolean va = a.dim() == 1, vb = b.dim() == 1;
        Tensor x = va ? a.unsqueeze(0) : a, y = vb ? b.unsqueeze(1) : b;
        int m = x.size(-2), k = x.size(-1), n = y.size(-1);
        int[] bx = java.util.Arrays.copyOf(x.shape(), x.dim() - 2), by = java.util.Arrays.copyOf(y.shape(), y.dim() - 2);
        int[] batch = Shapes.broadcast(bx, by, "ref");
        int[] outShape = java.util.Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        Tensor out = Tensor.zeros(DType.F64, outShape);
        TestTensors.forEachIndex(outShape, idx -> {
            double s = 0;
            for (int p = 0; p < k; p++) {
                s += x.get(at(idx, bx, idx[batch.length], p)) * y.get(at(idx, by, p, idx[batch.length + 1]));
            }
            out.set(s, idx);
        });
        Tensor r = out;
        if (va) r = r.squeeze(-2);
        if (vb) r = r.squeeze(-1);
        return r;
    }

    private static int[] at(int[] outIdx, int[] batchShape, int row, int col) {
        int[] r = new int[batchShape.length + 2];
        int lead = outIdx.length - 2 - batchShape.length;
        for (int i = 0; i < batchShape.length; i++) r[i] = batchShape[i] == 1 ? 0 : outIdx[lead + i];
        r[batchShape.length] = row;
        r[batchShape.length + 1] = col;
        return r;
    }

    @Test
    void matmulMatchesTheReferenceForEveryRankAndLayout() {
        Rng rng = new Rng(11);
        int[][][] cases = {
            {{5}, {5}}, {{3, 5}, {5}}, {{5}, {5, 4}}, {{1, 1}, {1, 1}}, {{17, 33}, {33, 9}},
            {{2, 7, 5}, {5, 3}}, {{7, 5}, {4, 5, 3}}, {{2, 1, 6, 4}, {3, 4, 5}}, {{3, 0, 4}, {4, 2}},
            {{65, 17}, {17, 31}},
        };
        for (int[][] c : cases) {
            for (boolean strided : new boolean[] {false, true}) {
                for (DType dtype : new DType[] {DType.F32, DType.F64}) {
                    Tensor a = TestTensors.random(rng, dtype, strided, c[0]);
                    Tensor b = TestTensors.random(rng, dtype, !strided, c[1]);
                    assertClose(a.matmul(b), reference(a, b), dtype == DType.F32 ? 1e-5 : 1e-13);
                }
            }
        }
    }

    @Test
    void transposedOperandsAreReadThroughStridesWithoutCopies() {
        Rng rng = new Rng(12);
        Tensor a = Tensor.randn(rng, 40, 30), b = Tensor.randn(rng, 50, 40);
        // aᵀ (30×40) · bᵀ (40×50)
        assertClose(a.t().matmul(b.t()), reference(a.t(), b.t()), 1e-5);
        Tensor q = Tensor.randn(rng, 2, 6, 3, 8);            // (B, T, H, D) → (B, H, T, D) view
        Tensor qt = q.transpose(1, 2);
        assertClose(qt.matmul(qt.transpose(-1, -2)), reference(qt, qt.transpose(-1, -2)), 1e-5);
    }

    @Test
    void gemmAccumulatesWithAlphaAndBeta() {
        Rng rng = new Rng(13);
        Tensor dy = Tensor.randn(rng, 9, 4), x = Tensor.randn(rng, 9, 6);
        Tensor dw = Tensor.randn(rng, 4, 6);
        Tensor expected = reference(dy.t(), x).mul(0.5).add(dw.mul(2.0).to(DType.F64));
        MatMul.gemm(0.5, dy.t(), x, 2.0, dw);
        assertClose(dw, expected, 1e-5);
    }

    @Test
    void weightsInAMappedSegmentAndBf16AreReadDirectly() {
        Rng rng = new Rng(14);
        Tensor w = Tensor.randn(rng, 24, 16);
        try (Arena arena = Arena.ofConfined()) {
            SegmentStorage s = SegmentStorage.allocate(DType.F32, 24 * 16, arena, MemoryKind.OTHER);
            Tensor ws = new Tensor(s, new int[] {24, 16}, new int[] {16, 1}, 0).copyFrom(w);
            Tensor x = Tensor.randn(rng, 5, 16);
            assertClose(x.matmul(ws.t()), reference(x, w.t()), 1e-5);
            MemorySegment unused = s.segment();
            assertThat(unused.byteSize()).isEqualTo(24 * 16 * 4);
        }
        Tensor wb = w.to(DType.BF16);
        Tensor x = Tensor.randn(rng, 3, 24);
        assertClose(x.matmul(wb), reference(x, wb), 1e-5);
    }

    @Test
    void mismatchedInnerDimsNameBothShapes() {
        assertThatThrownBy(() -> Tensor.zeros(4, 64, 768).matmul(Tensor.zeros(512, 768)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(4, 64, 768)").hasMessageContaining("(512, 768)").hasMessageContaining("768 ≠ 512");
        assertThatThrownBy(() -> Tensor.zeros(2, 3, 4).matmul(Tensor.zeros(5, 4, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("batch");
        assertThatThrownBy(() -> MatMul.gemm(1, Tensor.zeros(2, 3), Tensor.zeros(3, 4), 0, Tensor.zeros(2, 5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(2, 5)");
    }

    @Test
    void bf16WeightsHeapOrInASegmentMultiplyAsTheirWideningInBothLayouts() {
        Rng rng = new Rng(21);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] mkn : new int[][] {{7, 67, 45}, {130, 33, 200}, {5, 1030, 70}}) {
                int m = mkn[0], k = mkn[1], n = mkn[2];
                Tensor x = Tensor.randn(rng, m, k);
                for (boolean rows : new boolean[] {true, false}) {
                    Tensor w = Tensor.randn(rng, rows ? n : k, rows ? k : n).to(DType.BF16);   // (out, in) or (in, out)
                    SegmentStorage s = SegmentStorage.allocate(DType.BF16, w.numel(), arena, MemoryKind.OTHER);
                    Tensor mapped = new Tensor(s, w.shape(), new int[] {w.size(1), 1}, 0).copyFrom(w);
                    for (Tensor b : new Tensor[] {w, mapped}) {
                        Tensor op = rows ? b.t() : b;
                        assertClose(x.matmul(op), reference(x, op), 1e-4);
                    }
                }
            }
        }
    }
}
