package jlisa.tensor;

/**
 * F32 elements in an accelerator's memory, owned by the {@link Backend} that allocated them. The
 * ledger counts these bytes as device bytes, apart from host bytes.
 *
 * <p>CPU code never reads such memory element by element (one transfer per element would be ruinous
 * and is refused with a message): values cross between host and device in whole contiguous ranges,
 * through {@link #readFloats} and {@link #writeFloats}. {@link Tensor#toHost()} and
 * {@link Tensor#copyFrom(Tensor)} are built on them.
 *
 * <p>Thread-safety as {@link Storage}: the bookkeeping is synchronized, the elements are the writers' to guard.
 */
public abstract class DeviceStorage extends Storage {

    /** Records {@code length} F32 elements under {@code kind} as device bytes. */
    protected DeviceStorage(DType dtype, long length, MemoryKind kind) {
        super(checkF32(dtype), length, kind, true);
    }

    private static DType checkF32(DType dtype) {
        if (dtype != DType.F32) throw new IllegalArgumentException("device storage holds F32 elements, got " + dtype);
        return dtype;
    }

    /** The backend whose memory this is: it runs the kernels that read and write it. */
    public abstract Backend backend();

    /** Copies elements {@code from .. from+count-1} of this storage into {@code dst[dstOff ..]} (one transfer). */
    public abstract void readFloats(long from, float[] dst, int dstOff, int count);

    /** Copies {@code src[srcOff .. srcOff+count-1]} into elements {@code to ..} of this storage (one transfer). */
    public abstract void writeFloats(long to, float[] src, int srcOff, int count);

    @Override public final boolean isCpu() { return false; }

    @Override public final double get(long i) { throw elementAccess("read", i); }

    @Override public final void set(long i, double value) { throw elementAccess("write", i); }

    private IllegalStateException elementAccess(String what, long i) {
        return new IllegalStateException("cannot " + what + " element " + i + " of " + backend().name()
                + " device memory from the CPU one element at a time; copy the tensor to the host first (Tensor.toHost())");
    }
}
