package jlisa.tensor;

/**
 * Storage in a Java array: {@code float[]} for F32, {@code double[]} for F64, {@code short[]} (raw
 * bf16 bits) for BF16, {@code int[]} for I32. The CPU kernels compute on these arrays directly.
 *
 * <p>Thread-safety as {@link Storage}: the bookkeeping is synchronized, the elements are the writers' to guard.
 */
public final class HeapStorage extends Storage {
    private float[] floats;
    /** True when {@link #allocate} made the float array, so it may go back to the {@link ArrayPool} on release. */
    private final boolean pooled;
    private final double[] doubles;
    private final short[] bf16;
    private final int[] ints;

    private HeapStorage(DType dtype, long length, MemoryKind kind, float[] f, double[] d, short[] s, int[] i) {
        this(dtype, length, kind, f, d, s, i, false);
    }

    private HeapStorage(DType dtype, long length, MemoryKind kind, float[] f, double[] d, short[] s, int[] i,
                        boolean pooled) {
        super(dtype, length, kind, false);
        this.pooled = pooled;
        this.floats = f;
        this.doubles = d;
        this.bf16 = s;
        this.ints = i;
    }

    /** A zero-filled storage of {@code length} elements, counted under {@code kind}. */
    public static HeapStorage allocate(DType dtype, int length, MemoryKind kind) {
        return allocate(dtype, length, kind, true);
    }

    /**
     * A storage of {@code length} elements, counted under {@code kind}: zero-filled when {@code zero}, else with
     * unspecified contents (F32 arrays may come from the {@link ArrayPool}) for an output its kernel overwrites whole.
     */
    public static HeapStorage allocate(DType dtype, int length, MemoryKind kind, boolean zero) {
        if (length < 0) throw new IllegalArgumentException("storage length must be >= 0, got " + length);
        return switch (dtype) {
            case F32 -> new HeapStorage(dtype, length, kind, ArrayPool.floats(length, zero), null, null, null, true);
            case F64 -> new HeapStorage(dtype, length, kind, null, new double[length], null, null);
            case BF16 -> new HeapStorage(dtype, length, kind, null, null, new short[length], null);
            case I32 -> new HeapStorage(dtype, length, kind, null, null, null, new int[length]);
        };
    }

    /** Wraps (does not copy) a float array. */
    public static HeapStorage wrap(float[] data, MemoryKind kind) {
        return new HeapStorage(DType.F32, data.length, kind, data, null, null, null);
    }

    /** Wraps (does not copy) a double array. */
    public static HeapStorage wrap(double[] data, MemoryKind kind) {
        return new HeapStorage(DType.F64, data.length, kind, null, data, null, null);
    }

    /** Wraps (does not copy) an array of raw bf16 bits. */
    public static HeapStorage wrapBf16(short[] bits, MemoryKind kind) {
        return new HeapStorage(DType.BF16, bits.length, kind, null, null, bits, null);
    }

    /** Wraps (does not copy) an int array. */
    public static HeapStorage wrap(int[] data, MemoryKind kind) {
        return new HeapStorage(DType.I32, data.length, kind, null, null, null, data);
    }

    @Override public boolean isCpu() { return true; }

    /** The backing array, whatever its type (for bulk copies with System.arraycopy). */
    Object array() {
        return switch (dtype()) {
            case F32 -> floats();
            case F64 -> doubles;
            case BF16 -> bf16;
            case I32 -> ints;
        };
    }

    /** The backing array of an F32 storage. */
    public float[] floats() {
        float[] f = floats;
        if (f == null) {
            throw new IllegalStateException(isReleased() ? "F32 storage of " + length() + " elements was released and is read again"
                    : "storage holds " + dtype() + ", not F32");
        }
        return f;
    }

    /** Releases the memory; an array this class allocated goes back to the {@link ArrayPool} for reuse. */
    @Override public synchronized void release() {
        if (isReleased()) return;
        super.release();
        if (pooled && floats != null) {
            float[] f = floats;
            floats = null; // any later use must fail, not read an array that another storage now owns
            ArrayPool.give(f);
        }
    }

    /** The backing array of an F64 storage. */
    public double[] doubles() {
        if (doubles == null) throw new IllegalStateException("storage holds " + dtype() + ", not F64");
        return doubles;
    }

    /** The backing array of a BF16 storage (raw bits). */
    public short[] bf16Bits() {
        if (bf16 == null) throw new IllegalStateException("storage holds " + dtype() + ", not BF16");
        return bf16;
    }

    /** The backing array of an I32 storage. */
    public int[] ints() {
        if (ints == null) throw new IllegalStateException("storage holds " + dtype() + ", not I32");
        return ints;
    }

    @Override public double get(long i) {
        int j = Math.toIntExact(i);
        return switch (dtype()) {
            case F32 -> floats()[j];
            case F64 -> doubles[j];
            case BF16 -> DType.bf16ToFloat(bf16[j]);
            case I32 -> ints[j];
        };
    }

    @Override public void set(long i, double value) {
        int j = Math.toIntExact(i);
        switch (dtype()) {
            case F32 -> floats()[j] = (float) value;
            case F64 -> doubles[j] = value;
            case BF16 -> bf16[j] = DType.floatToBf16((float) value);
            case I32 -> ints[j] = (int) value;
        }
    }
}
