package jlisa.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How row-major operands map onto cuBLAS's column-major view without copies. */
class OperandLayoutTest {
    private static final long[] ONE = {0};

    @Test void rowMajorIsThePlainOperandAndATransposedViewTheTransposedOne() {
        OperandLayout rows = OperandLayout.of(4, 6, 6, 1, 0, ONE);
        assertThat(rows.transposed()).isFalse();
        assertThat(rows.ld()).isEqualTo(6);
        OperandLayout columns = OperandLayout.of(6, 4, 1, 6, 0, ONE);   // the transpose of the same storage
        assertThat(columns.transposed()).isTrue();
        assertThat(columns.ld()).isEqualTo(6);
        assertThat(columns.span()).isEqualTo(24);
    }

    @Test void paddedRowsKeepTheirStrideAsLeadingDimension() {
        OperandLayout narrowed = OperandLayout.of(3, 5, 9, 1, 11, ONE);
        assertThat(narrowed.ld()).isEqualTo(9);
        assertThat(narrowed.lo()).isEqualTo(11);
        assertThat(narrowed.hi()).isEqualTo(11 + 2 * 9 + 4);
    }

    @Test void vectorsAndSingleElementsHaveValidLeadingDimensions() {
        assertThat(OperandLayout.of(1, 7, 123, 1, 0, ONE).ld()).isEqualTo(7);       // one row
        OperandLayout column = OperandLayout.of(7, 1, 1, 55, 0, ONE);                // one column, contiguous
        assertThat(column.ld()).isGreaterThanOrEqualTo(1);
        assertThat(column.transposed() ? column.ld() >= 7 : column.ld() >= 1).isTrue();
        OperandLayout strided = OperandLayout.of(1, 7, 1, 3, 0, ONE);               // one row of a transposed view
        assertThat(strided.transposed()).isTrue();
        assertThat(strided.ld()).isEqualTo(3);
        assertThat(OperandLayout.of(1, 1, 0, 0, 5, ONE).span()).isEqualTo(1);
    }

    @Test void viewsCublasCannotReadAreRefused() {
        assertThat(OperandLayout.of(4, 4, 8, 2, 0, ONE)).as("every other row and column").isNull();
        assertThat(OperandLayout.of(4, 4, 0, 1, 0, ONE)).as("a broadcast row").isNull();
        assertThat(OperandLayout.of(4, 4, 1, 1, 0, ONE)).as("overlapping rows and columns").isNull();
        assertThat(OperandLayout.of(4, 4, 2, 1, 0, ONE)).as("rows overlapping each other").isNull();
    }

    @Test void evenlySpacedBatchesHaveOneStrideAndOthersNone() {
        assertThat(OperandLayout.of(2, 3, 3, 1, 0, new long[] {0, 6, 12}).batchStride()).isEqualTo(6);
        assertThat(OperandLayout.of(2, 3, 3, 1, 0, new long[] {0, 0, 0}).batchStride()).as("broadcast").isZero();
        OperandLayout heads = OperandLayout.of(2, 3, 9, 1, 0, new long[] {0, 3, 6, 18, 21, 24});
        assertThat(heads.batchStride()).isEqualTo(-1);
        assertThat(heads.starts()).containsExactly(0, 3, 6, 18, 21, 24);
        assertThat(OperandLayout.of(2, 3, 3, 1, 0, new long[] {6, 0}).batchStride()).as("decreasing").isEqualTo(-1);
    }
}
