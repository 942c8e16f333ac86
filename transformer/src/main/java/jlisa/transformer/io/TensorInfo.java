package jlisa.transformer.io;

import java.util.Arrays;

/**
 * One header entry of a safetensors file: the tensor's element type, shape and byte range
 * {@code [begin, end)} relative to the start of the data buffer (byte 8 + header length).
 *
 * <p>Treat as immutable (the shape array is not copied); then safe to share between threads.
 */
public record TensorInfo(String name, SafeTensorsDType dtype, int[] shape, long begin, long end) {
    public TensorInfo {
        shape = shape.clone();
    }

    @Override public int[] shape() { return shape.clone(); }

    /** Number of elements (1 for a scalar, 0 when a dim is 0). */
    public long numel() {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** Bytes of the data buffer this tensor occupies. */
    public long byteSize() { return end - begin; }

    @Override public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && begin == t.begin && end == t.end;
    }

    @Override public int hashCode() { return 31 * (31 * name.hashCode() + Arrays.hashCode(shape)) + Long.hashCode(begin); }

    @Override public String toString() {
        return name + ": " + dtype + " " + Arrays.toString(shape) + " bytes [" + begin + ", " + end + ")";
    }
}
