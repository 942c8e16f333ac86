package jlisa.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class NestedArrayTest {
    @Test
    void nestedArraysBecomeTensorsOfTheirShapeAndDtype() {
        Tensor a = Tensor.of(new float[][] {{1, 2, 3}, {4, 5, 6}});
        assertThat(a.shape()).containsExactly(2, 3);
        assertThat(a.dtype()).isEqualTo(DType.F32);
        assertThat(a.get(1, 0)).isEqualTo(4);
        Tensor b = Tensor.of(new float[][][] {{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}, {{9, 10}, {11, 12}}});
        assertThat(b.shape()).containsExactly(3, 2, 2);
        assertThat(b.get(2, 1, 0)).isEqualTo(11);
        Tensor d = Tensor.of(new double[][] {{0.5}, {1.5}});
        assertThat(d.dtype()).isEqualTo(DType.F64);
        assertThat(d.toDoubleArray()).containsExactly(0.5, 1.5);
    }

    @Test
    void raggedInputIsRejectedNamingTheRow() {
        assertThatThrownBy(() -> Tensor.of(new float[][] {{1, 2}, {3}}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("row 1 has 1 elements but the first has 2");
        assertThatThrownBy(() -> Tensor.of(new float[][][] {{{1, 2}}, {{3, 4}, {5, 6}}}))
                .hasMessageContaining("block 1 has 2 elements");
    }

    @Test
    void toStringPrintsNestedAlignedValuesThenShapeAndDtype() {
        assertThat(Tensor.of(new float[][] {{1, 2}, {3, -40}}).toString())
                .isEqualTo("tensor([[  1.0000,   2.0000],\n        [  3.0000, -40.0000]], shape=(2, 2), dtype=F32)");
        assertThat(Tensor.of(new int[] {1, 22}, 2).toString()).isEqualTo("tensor([ 1, 22], shape=(2,), dtype=I32)");
        assertThat(Tensor.scalar(0.5).toString()).isEqualTo("tensor(0.5000, shape=(), dtype=F32)");
    }

    @Test
    void toStringSummarizesAboveAThousandElementsWithThreeEdgeItems() {
        String s = Tensor.arange(2000).toString();
        assertThat(s).isEqualTo("tensor([   0.0000,    1.0000,    2.0000, ..., 1997.0000, 1998.0000, 1999.0000],"
                + " shape=(2000,), dtype=F32)");
        String m = Tensor.arange(1100).reshape(11, 100).toString();
        assertThat(m.split("\n")).hasSize(7);   // 3 rows, "...", 3 rows
        assertThat(m).contains("...").contains("1099.0000");
    }
}
