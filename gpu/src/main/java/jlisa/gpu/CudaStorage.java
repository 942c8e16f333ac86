package jlisa.gpu;

import java.lang.ref.Cleaner;

import jlisa.tensor.Backend;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceStorage;
import jlisa.tensor.MemoryKind;

/**
 * F32 elements in CUDA device memory, a block of the device's caching allocator. The block goes back to the
 * cache on {@link #release()}, or when the storage becomes unreachable.
 */
final class CudaStorage extends DeviceStorage {
    private static final Cleaner CLEANER = Cleaner.create();

    private final CudaBackend backend;
    /** Device address of element 0. */
    final long address;
    private final Cleaner.Cleanable block;

    @SuppressWarnings("this-escape") // the Cleaner only keeps a weak reference to this storage
    private CudaStorage(CudaBackend backend, long address, long length, MemoryKind kind) {
        super(DType.F32, length, kind);
        this.backend = backend;
        this.address = address;
        CudaDevice device = backend.device();
        long bytes = 4 * length;
        block = CLEANER.register(this, () -> device.free(address, bytes));   // must not reference this storage
    }

    /** {@code length} uninitialised floats in {@code backend}'s device memory. */
    static CudaStorage allocate(CudaBackend backend, long length, MemoryKind kind) {
        return new CudaStorage(backend, backend.device().allocate(4 * length), length, kind);
    }

    @Override public CudaBackend backend() { return backend; }

    /** True when {@code other} is this storage's backend or another backend over the same device. */
    boolean onDevice(Backend other) { return other instanceof CudaBackend c && c.device() == backend.device(); }

    @Override public void readFloats(long from, float[] dst, int dstOff, int count) {
        checkRange("readFloats", from, count);
        backend.device().download(dst, dstOff, address + 4 * from, count);
    }

    @Override public void writeFloats(long to, float[] src, int srcOff, int count) {
        checkRange("writeFloats", to, count);
        backend.device().upload(address + 4 * to, src, srcOff, count);
    }

    private void checkRange(String what, long from, int count) {
        if (isReleased()) throw new IllegalStateException(what + ": device storage was released");
        if (from < 0 || count < 0 || from + count > length()) {
            throw new IllegalArgumentException(what + ": elements " + from + " .. " + (from + count) + " outside 0 .. " + length());
        }
    }

    @Override public synchronized void release() {
        if (isReleased()) return;
        super.release();
        block.clean();
    }
}
