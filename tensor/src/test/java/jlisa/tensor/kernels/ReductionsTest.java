package jlisa.tensor.kernels;

import static jlisa.tensor.TestTensors.assertClose;
import static jlisa.tensor.TestTensors.forEachIndex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.TestTensors;
import org.junit.jupiter.api.Test;

class ReductionsTest {
    private enum Op { SUM, MEAN, MAX, VAR }

    /** Naive float64 reference: group every element by its kept coordinates. */
    private static Tensor reference(Op op, Tensor x, boolean keepDim, int... dims) {
        int rank = x.dim();
        boolean[] red = new boolean[rank];
        if (dims.length == 0) java.util.Arrays.fill(red, true);
        for (int d : dims) red[d < 0 ? d + rank : d] = true;
        int[] shape = x.shape();
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < rank; i++) if (!red[i]) out.add(shape[i]); else if (keepDim) out.add(1);
        int[] outShape = out.stream().mapToInt(Integer::intValue).toArray();
        Tensor sum = Tensor.zeros(DType.F64, outShape), sq = Tensor.zeros(DType.F64, outShape);
        Tensor max = Tensor.full(Double.NEGATIVE_INFINITY, DType.F64, outShape), cnt = Tensor.zeros(DType.F64, outShape);
        forEachIndex(shape, idx -> {
            int[] o = new int[outShape.length];
            for (int i = 0, j = 0; i < rank; i++) if (!red[i]) o[j++] = idx[i]; else if (keepDim) o[j++] = 0;
            double v = x.get(idx);
            sum.set(sum.get(o) + v, o);
            cnt.set(cnt.get(o) + 1, o);
            max.set(Math.max(max.get(o), v), o);
        });
        Tensor mean = sum.div(cnt);
        forEachIndex(shape, idx -> {
            int[] o = new int[outShape.length];
            for (int i = 0, j = 0; i < rank; i++) if (!red[i]) o[j++] = idx[i]; else if (keepDim) o[j++] = 0;
            double d = x.get(idx) - mean.get(o);
            sq.set(sq.get(o) + d * d, o);
        });
        return switch (op) {
            case SUM -> sum;
            case MEAN -> mean;
            case MAX -> max;
            case VAR -> sq.div(cnt.sub(1));
        };
    }

    @Test
    void everyReductionOverEveryDimSetMatchesTheReference() {
        Rng rng = new Rng(5);
        int[][] shapes = {{17}, {3, 33}, {2, 5, 19}, {4, 1, 65}, {1, 1}};
        for (int[] shape : shapes) {
            List<int[]> dimSets = new ArrayList<>();
            dimSets.add(new int[0]);
            for (int d = 0; d < shape.length; d++) dimSets.add(new int[] {d});
            if (shape.length >= 2) dimSets.add(new int[] {0, shape.length - 1});
            if (shape.length >= 3) dimSets.add(new int[] {-1, 1});
            for (int[] dims : dimSets) {
                for (boolean strided : new boolean[] {false, true}) {
                    for (DType dtype : new DType[] {DType.F32, DType.F64}) {
                        Tensor x = TestTensors.random(rng, dtype, strided, shape);
                        double tol = dtype == DType.F32 ? 1e-5 : 1e-13;
                        for (boolean keep : new boolean[] {false, true}) {
                            assertClose(x.sum(keep, dims), reference(Op.SUM, x, keep, dims), tol);
                            assertClose(x.mean(keep, dims), reference(Op.MEAN, x, keep, dims), tol);
                            assertClose(x.max(keep, dims), reference(Op.MAX, x, keep, dims), 0);
                            assertClose(x.var(keep, 1, dims), reference(Op.VAR, x, keep, dims), tol * 10);
                        }
                    }
                }
            }
        }
    }

    @Test
    void argmaxTakesTheFirstMaximumAndNanWins() {
        Tensor x = Tensor.of(new float[] {1, 5, 5, 2, 7, 1, Float.NaN, 9, 0, 0, 0, 0}, 3, 4);
        assertThat(x.argmax(1, false).intArray()).containsExactly(1, 2, 0);
        assertThat(x.argmax(1, false).dtype()).isEqualTo(DType.I32);
        assertThat(x.argmax(0, true).shape()).containsExactly(1, 4);
        assertThat(x.argmax(-2, false).toFloatArray()).containsExactly(1, 0, 1, 1);
        Tensor big = Tensor.randn(new Rng(9), 7, 300);
        Tensor am = big.argmax(1, false);
        for (int r = 0; r < 7; r++) {
            int best = 0;
            for (int c = 1; c < 300; c++) if (big.get(r, c) > big.get(r, best)) best = c;
            assertThat(am.get(r)).isEqualTo(best);
        }
    }

    @Test
    void emptyAndLargeReductions() {
        assertThat(Tensor.zeros(0, 3).sum(0).toFloatArray()).containsExactly(0, 0, 0);
        assertThat(Tensor.zeros(0, 3).mean(0).toFloatArray()[0]).isNaN();
        assertThatThrownBy(() -> Tensor.zeros(0, 3).max(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("empty");
        Tensor ones = Tensor.ones(1_000_003);
        assertThat(ones.sum().item()).isEqualTo(1_000_003.0);
    }

    @Test
    void badDimsNameTheDimAndRank() {
        assertThatThrownBy(() -> Tensor.zeros(2, 3).sum(2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dim 2").hasMessageContaining("rank 2");
        assertThatThrownBy(() -> Tensor.zeros(2, 3).sum(1, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("twice");
    }
}
