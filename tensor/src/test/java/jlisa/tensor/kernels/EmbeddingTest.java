package jlisa.tensor.kernels;

import static jlisa.tensor.kernels.SoftmaxTest.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jlisa.tensor.DType;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

class EmbeddingTest {

    static double[] refForward(double[] w, int[] ids, int C) {
        double[] out = new double[ids.length * C];
        for (int i = 0; i < ids.length; i++) for (int c = 0; c < C; c++) out[i * C + c] = w[ids[i] * C + c];
        return out;
    }

    static double[] refBackward(double[] dout, int[] ids, int V, int C) {
        double[] dw = new double[V * C];
        for (int i = 0; i < ids.length; i++) for (int c = 0; c < C; c++) dw[ids[i] * C + c] += dout[i * C + c];
        return dw;
    }

    static int[] randomIds(Rng rng, int n, int V) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = rng.nextInt(V);
        return ids;
    }

    @Test
    void forwardGathersRowsAndBackwardScatterAddsDuplicateIdsInF32AndF64() {
        Rng rng = new Rng(41);
        for (int C : new int[] {1, 3, 16, 17, 100, 257}) {
            int V = 7, n = 20; // more ids than rows: duplicates for sure
            int[] ids = randomIds(rng, n, V);
            ids[3] = ids[4] = ids[5];
            Tensor wF = Tensor.randn(rng, 0, 1, DType.F32, V, C);
            double[] w = wF.toDoubleArray();
            assertClose(Embedding.forward(wF, ids).toDoubleArray(), refForward(w, ids, C), 0, 0);
            Tensor wD = Tensor.of(w.clone(), V, C);
            Tensor outD = Embedding.forward(wD, ids);
            assertThat(outD.dtype()).isEqualTo(DType.F64);
            assertThat(outD.shape()).containsExactly(n, C);
            Tensor gF = Tensor.randn(rng, 0, 1, DType.F32, n, C);
            double[] g = gF.toDoubleArray();
            assertClose(Embedding.backward(gF, ids, V).toDoubleArray(), refBackward(g, ids, V, C), 1e-6, 1e-6);
            Tensor dwD = Embedding.backward(Tensor.of(g.clone(), n, C), ids, V);
            assertThat(dwD.shape()).containsExactly(V, C);
            assertClose(dwD.toDoubleArray(), refBackward(g, ids, V, C), 1e-15, 1e-15);
        }
    }

    @Test
    void idTensorsOfAnyShapeAndLayout() {
        Rng rng = new Rng(42);
        int V = 11, C = 33;
        Tensor w = Tensor.randn(rng, 0, 1, DType.F32, C, V).t(); // (V, C), transposed storage
        int[] flat = randomIds(rng, 6, V);
        Tensor ids = Tensor.of(flat, 3, 2).t(); // (2, 3), non-contiguous
        int[] rowMajor = {flat[0], flat[2], flat[4], flat[1], flat[3], flat[5]};
        Tensor out = Embedding.forward(w, ids);
        assertThat(out.shape()).containsExactly(2, 3, C);
        assertClose(out.toDoubleArray(), refForward(w.toDoubleArray(), rowMajor, C), 0, 0);
        Tensor g = Tensor.randn(rng, 0, 1, DType.F32, 2, 3, C);
        assertClose(Embedding.backward(g, ids, V).toDoubleArray(), refBackward(g.toDoubleArray(), rowMajor, V, C), 1e-6, 1e-6);
        Tensor narrowIds = Tensor.of(new int[] {9, 1, 2, 3, 9}, 5).narrow(0, 1, 3); // offset 1
        assertClose(Embedding.forward(w, narrowIds).toDoubleArray(), refForward(w.toDoubleArray(), new int[] {1, 2, 3}, C), 0, 0);
    }

    @Test
    void noIdsGiveEmptyOutputAndZeroGradient() {
        Tensor out = Embedding.forward(Tensor.ones(4, 8), new int[0]);
        assertThat(out.shape()).containsExactly(0, 8);
        Tensor dw = Embedding.backward(Tensor.zeros(0, 8), new int[0], 4);
        assertThat(dw.toDoubleArray()).containsOnly(0.0);
    }

    @Test
    void backwardIsTheAdjointOfForwardInF64() {
        // forward is linear in w, so <forward(w), g> = <w, backward(g)> exactly up to rounding
        Rng rng = new Rng(43);
        int V = 9, C = 5, n = 30;
        int[] ids = randomIds(rng, n, V);
        Tensor w = Tensor.randn(rng, 0, 1, DType.F64, V, C), g = Tensor.randn(rng, 0, 1, DType.F64, n, C);
        double lhs = SoftmaxTest.dot(Embedding.forward(w, ids).toDoubleArray(), g.toDoubleArray());
        double rhs = SoftmaxTest.dot(w.toDoubleArray(), Embedding.backward(g, ids, V).toDoubleArray());
        assertThat(lhs).isCloseTo(rhs, org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void backwardIsBitwiseIdenticalForAnyThreadCount() {
        Rng rng = new Rng(44);
        int V = 50, C = 768, n = 2000;
        int[] ids = randomIds(rng, n, V);
        Tensor g = Tensor.randn(rng, 0, 1, DType.F32, n, C);
        float[] ref = null;
        for (int threads : new int[] {1, 2, 3}) {
            float[][] got = new float[1][];
            Parallel.withThreads(threads, () -> got[0] = Embedding.backward(g, ids, V).toFloatArray());
            if (ref == null) ref = got[0];
            else assertThat(got[0]).as("%d threads", threads).isEqualTo(ref);
        }
    }

    @Test
    void badInputIsRejectedNamingTheIdAndShapes() {
        Tensor w = Tensor.zeros(50257, 4);
        assertThatThrownBy(() -> Embedding.forward(w, new int[] {0, 1, 50300}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("id 50300 at position 2")
                .hasMessageContaining("[0, 50257)");
        assertThatThrownBy(() -> Embedding.forward(w, new int[] {-1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("id -1");
        assertThatThrownBy(() -> Embedding.forward(Tensor.zeros(4), new int[] {0}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2-D").hasMessageContaining("(4,)");
        assertThatThrownBy(() -> Embedding.forward(w, Tensor.zeros(3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I32").hasMessageContaining("F32");
        assertThatThrownBy(() -> Embedding.backward(Tensor.zeros(3, 4), new int[] {0, 1}, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(3, 4)").hasMessageContaining("(2,)");
        assertThatThrownBy(() -> Embedding.backward(Tensor.zeros(2, 4), new int[] {0, 10}, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("id 10 at position 1");
    }
}
