package jlisa.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Storage in a {@link MemorySegment}: off-heap memory, or a slice of a memory-mapped file (a
 * safetensors F32 tensor is read in place, without copying). Elements are little-endian, as in
 * safetensors files. Kernels that need a Java array read such tensors through
 * {@link Tensor#dense()}; GEMM packs straight from the segment.
 *
 * <p>Thread-safety as {@link Storage}: the bookkeeping is synchronized, the elements are the writers' to guard.
 */
public final class SegmentStorage extends Storage {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment segment;

    private SegmentStorage(DType dtype, MemorySegment segment, MemoryKind kind) {
        super(dtype, segment.byteSize() / dtype.byteSize(), kind, false);
        this.segment = segment;
    }

    /**
     * Views {@code segment} as elements of {@code dtype}; the segment must hold a whole number of
     * elements. The caller keeps the segment's arena alive as long as the storage is used.
     */
    public static SegmentStorage of(DType dtype, MemorySegment segment, MemoryKind kind) {
        if (segment.byteSize() % dtype.byteSize() != 0) {
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes is not a whole number of "
                    + dtype + " elements (" + dtype.byteSize() + " bytes each)");
        }
        return new SegmentStorage(dtype, segment, kind);
    }

    /** Zero-filled off-heap storage, freed when {@code arena} closes. */
    public static SegmentStorage allocate(DType dtype, long length, Arena arena, MemoryKind kind) {
        return new SegmentStorage(dtype, arena.allocate(length * dtype.byteSize(), 64), kind);
    }

    public MemorySegment segment() { return segment; }

    @Override public boolean isCpu() { return true; }

    @Override public boolean isReadOnly() { return segment.isReadOnly(); }

    /** True when F32 elements in this segment are in the platform's order, so GEMM may read them as they are. */
    public boolean isNativeOrder() { return ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN; }

    @Override public double get(long i) {
        return switch (dtype()) {
            case F32 -> segment.getAtIndex(F32, i);
            case F64 -> segment.getAtIndex(F64, i);
            case BF16 -> DType.bf16ToFloat(segment.getAtIndex(BF16, i));
            case I32 -> segment.getAtIndex(I32, i);
        };
    }

    @Override public void set(long i, double value) {
        switch (dtype()) {
            case F32 -> segment.setAtIndex(F32, i, (float) value);
            case F64 -> segment.setAtIndex(F64, i, value);
            case BF16 -> segment.setAtIndex(BF16, i, DType.floatToBf16((float) value));
            case I32 -> segment.setAtIndex(I32, i, (int) value);
        }
    }

    /** Copies {@code count} F32 elements from element {@code from} into {@code dst[dstOff..]} (bulk copy). */
    public void copyFloats(long from, float[] dst, int dstOff, int count) {
        if (dtype() != DType.F32) throw new IllegalStateException("copyFloats: storage holds " + dtype() + ", not F32");
        MemorySegment.copy(segment, F32, from * 4, dst, dstOff, count);
    }
}
