package jlisa.gpu;

/**
 * How cuBLAS (column-major) reads one row-major operand of a batched product, without copying it: a
 * matrix whose columns are contiguous is cuBLAS's "transposed" operand, one whose rows are contiguous its
 * plain one (a transposed view is just the other case). The operand's elements lie in {@code [lo, hi]} of
 * its storage; matrix t of the batch starts {@code starts[t]} elements after {@code lo}.
 *
 * @param transposed  stored column-major (cuBLAS's OP_T), else row-major (OP_N)
 * @param ld          cuBLAS's leading dimension, in elements
 * @param batchStride elements between consecutive matrices when they are evenly spaced (0: one matrix
 *                    broadcast over the batch), or -1 when they are not (one cuBLAS call per matrix)
 */
record OperandLayout(boolean transposed, int ld, long lo, long hi, long[] starts, long batchStride) {

    /** Elements from the first to the last one the operand reaches. */
    long span() { return hi - lo + 1; }

    /**
     * The layout of a {@code rows × cols} matrix with element (i, j) at {@code offset + i·rowStride + j·colStride}
     * (plus each batch entry's offset), or null when cuBLAS cannot read it in place (neither rows nor columns
     * contiguous, overlapping or negative strides): then the caller makes a contiguous copy.
     *
     * @param batchOffsets the element offset each matrix of the batch adds (broadcast batch dims add 0)
     */
    static OperandLayout of(int rows, int cols, int rowStride, int colStride, int offset, long[] batchOffsets) {
        if (rows < 1 || cols < 1 || rowStride < 0 || colStride < 0) return null;
        boolean transposed;
        int ld;
        if (colStride == 1 || cols == 1) {
            transposed = false;
            ld = rows == 1 ? cols : rowStride;
            if (ld < cols) {
                if (!(rowStride == 1 || rows == 1)) return null;
                transposed = true;
                ld = cols == 1 ? rows : colStride;
            }
        } else if (rowStride == 1 || rows == 1) {
            transposed = true;
            ld = cols == 1 ? rows : colStride;
        } else {
            return null;
        }
        if (ld < Math.max(1, transposed ? rows : cols)) return null;
        long reach = (long) (rows - 1) * rowStride + (long) (cols - 1) * colStride;
        long lo = Long.MAX_VALUE, hi = Long.MIN_VALUE;
        for (long b : batchOffsets) {
            lo = Math.min(lo, offset + b);
            hi = Math.max(hi, offset + b + reach);
        }
        long[] starts = new long[batchOffsets.length];
        for (int t = 0; t < starts.length; t++) starts[t] = offset + batchOffsets[t] - lo;
        long stride = starts.length > 1 ? starts[1] - starts[0] : 0;
        boolean even = stride >= 0;
        for (int t = 0; even && t < starts.length; t++) even = starts[t] == starts[0] + t * stride;
        return new OperandLayout(transposed, ld, lo, hi, starts, even ? stride : -1);
    }
}
