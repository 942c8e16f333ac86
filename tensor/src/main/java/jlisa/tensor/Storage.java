package jlisa.tensor;

import java.lang.ref.Cleaner;

/**
 * A flat block of elements of one {@link DType} that tensors view through shape, strides and offset.
 *
 * <p>Kinds: {@link HeapStorage} (a Java array: what kernels compute on), {@link SegmentStorage}
 * (off-heap or memory-mapped, e.g. safetensors weights read without copying), and device memory
 * ({@link DeviceStorage}), which a {@link Backend} (the gpu module) provides.
 *
 * <p>Every storage counts its bytes in the {@link MemoryLedger} under the kind it was allocated with
 * and un-counts them exactly once: on {@link #release()}, or when it becomes unreachable. It is charged to the
 * {@linkplain MemoryLedger.Account accounts} charged on the allocating thread, and credits them back on release.
 *
 * <p>Thread-safety: the bookkeeping (release, relabel, pins) is synchronized; the elements are not, so concurrent
 * writers to one storage must coordinate themselves, as with a Java array.
 */
public abstract class Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    private final DType dtype;
    private final long length;
    private MemoryKind kind;
    private final boolean device;
    /** The ledger accounts these bytes were charged to when allocated; a relabel keeps them. */
    private final MemoryLedger.Account[] accounts;
    private Cleaner.Cleanable ledgerEntry;
    private int version;
    private boolean released;
    private int pins;

    /** Records {@code length} elements of {@code dtype} under {@code kind} ({@code device}: in device memory). */
    @SuppressWarnings("this-escape") // the Cleaner only keeps a weak reference to this storage
    protected Storage(DType dtype, long length, MemoryKind kind, boolean device) {
        if (length < 0) throw new IllegalArgumentException("storage length must be >= 0, got " + length);
        this.dtype = dtype;
        this.length = length;
        this.kind = kind;
        this.device = device;
        this.accounts = MemoryLedger.charge(kind, device, byteSize());
        this.ledgerEntry = register(kind);
        MemoryLedger.track(this);
    }

    private Cleaner.Cleanable register(MemoryKind k) {
        long bytes = byteSize();
        boolean dev = device;
        MemoryLedger.Account[] charged = accounts;
        // The action must not reference this storage, or it would never become unreachable.
        return CLEANER.register(this, () -> MemoryLedger.release(k, dev, bytes, charged));
    }

    /**
     * Moves these bytes to another kind in the ledger: a gradient that autograd computed as a
     * temporary and then adopts as a parameter's {@code .grad} becomes GRADIENT without a copy.
     * Does nothing once released.
     */
    public final synchronized void relabel(MemoryKind newKind) {
        if (newKind == kind || released) return;
        ledgerEntry.clean();
        kind = newKind;
        MemoryLedger.recharge(newKind, device, byteSize(), accounts);
        ledgerEntry = register(newKind);
    }

    /** True if these bytes were charged to {@code account} when allocated (it was charged on the allocating thread). */
    public final boolean isChargedTo(MemoryLedger.Account account) {
        for (MemoryLedger.Account a : accounts) if (a == account) return true;
        return false;
    }

    public final DType dtype() { return dtype; }

    /** Number of elements. */
    public final long length() { return length; }

    public final long byteSize() { return length * dtype.byteSize(); }

    /** What the ledger counts these bytes as. */
    public final synchronized MemoryKind kind() { return kind; }

    /** True for host memory that the CPU kernels can read. */
    public abstract boolean isCpu();

    /** True if writes are refused (e.g. a read-only memory-mapped file). */
    public boolean isReadOnly() { return false; }

    /**
     * Counts in-place writes to this storage (shared by all its views), as PyTorch's version
     * counter: autograd records it when it saves a tensor and refuses a backward pass that would
     * read a tensor modified since.
     */
    public final int version() { return version; }

    /** Marks an in-place write; every code path that mutates a live tensor's elements calls it. */
    public final void bumpVersion() { version++; }

    /**
     * Marks this storage as still to be read by someone who holds no other claim on it (autograd pins
     * the tensors a pending backward saved); scopes that free dead intermediates skip pinned ones.
     */
    public final synchronized void pin() { pins++; }

    /** Undoes one {@link #pin()}. */
    public final synchronized void unpin() {
        if (pins == 0) throw new IllegalStateException("unpin: storage is not pinned");
        pins--;
    }

    public final synchronized boolean isPinned() { return pins > 0; }

    /** Element {@code i} widened to double. Slow path for generic loops and tests. */
    public abstract double get(long i);

    /** Sets element {@code i} (narrowed to this dtype). Slow path. */
    public abstract void set(long i, double value);

    /**
     * Releases the memory now: the ledger stops counting it and backends may free it. Idempotent.
     * The storage must not be used afterwards.
     */
    public synchronized void release() {
        released = true;
        ledgerEntry.clean();
    }

    /** True once {@link #release()} was called. */
    public final boolean isReleased() { return released; }
}
