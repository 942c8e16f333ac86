package jlisa.distributed;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Objects;

/**
 * {@link Collective} over Open MPI's C API ({@code libmpi.so.40}, Open MPI 4.x) through the FFM API. Open MPI's
 * handles are addresses of global symbols ({@code ompi_mpi_comm_world}, {@code ompi_mpi_float},
 * {@code ompi_mpi_op_sum}), so no header or native build is needed. The library is opened with RTLD_GLOBAL, as Open
 * MPI's plug-ins expect to find its symbols. Payloads go through one off-heap staging buffer, grown as needed.
 *
 * <p>Not thread-safe (MPI_THREAD_SINGLE): one thread per process calls it.
 */
public final class MpiCollective implements Collective {
    private static final Linker C = Linker.nativeLinker();
    private static final int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;
    /** Open MPI's MPI_IN_PLACE is the address 1. */
    private static final MemorySegment IN_PLACE = MemorySegment.ofAddress(1);

    private final Arena arena = Arena.ofShared();
    private final MemorySegment commWorld, floatType, sumOp;
    private final MethodHandle allreduce, bcast, barrier, finalize;
    private final int rank, size;
    private MemorySegment staging;
    private long bytesSent;
    private boolean closed;

    private MpiCollective(SymbolLookup mpi) {
        commWorld = symbol(mpi, "ompi_mpi_comm_world");
        floatType = symbol(mpi, "ompi_mpi_float");
        sumOp = symbol(mpi, "ompi_mpi_op_sum");
        var A = ValueLayout.ADDRESS;
        var I = ValueLayout.JAVA_INT;
        MethodHandle init = function(mpi, "MPI_Init", FunctionDescriptor.of(I, A, A));
        MethodHandle initialized = function(mpi, "MPI_Initialized", FunctionDescriptor.of(I, A));
        MethodHandle commRank = function(mpi, "MPI_Comm_rank", FunctionDescriptor.of(I, A, A));
        MethodHandle commSize = function(mpi, "MPI_Comm_size", FunctionDescriptor.of(I, A, A));
        allreduce = function(mpi, "MPI_Allreduce", FunctionDescriptor.of(I, A, A, I, A, A, A));
        bcast = function(mpi, "MPI_Bcast", FunctionDescriptor.of(I, A, I, A, I, A));
        barrier = function(mpi, "MPI_Barrier", FunctionDescriptor.of(I, A));
        finalize = function(mpi, "MPI_Finalize", FunctionDescriptor.of(I));
        try (Arena call = Arena.ofConfined()) {
            MemorySegment flag = call.allocate(I);
            invoke("MPI_Initialized", () -> (int) initialized.invokeExact(flag));
            if (flag.get(I, 0) == 0) invoke("MPI_Init", () -> (int) init.invokeExact(MemorySegment.NULL, MemorySegment.NULL));
            MemorySegment out = call.allocate(I);
            invoke("MPI_Comm_rank", () -> (int) commRank.invokeExact(commWorld, out));
            rank = out.get(I, 0);
            invoke("MPI_Comm_size", () -> (int) commSize.invokeExact(commWorld, out));
            size = out.get(I, 0);
        }
        staging = arena.allocate(ValueLayout.JAVA_FLOAT, 1 << 16);
    }

    /** Joins the MPI job this process was started in (by mpirun); a clear error when Open MPI is not installed. */
    public static MpiCollective init() {
        return new MpiCollective(openLibrary());
    }

    private static SymbolLookup openLibrary() {
        String[] names = {"libmpi.so.40", "libmpi.so"};
        try (Arena call = Arena.ofConfined()) {
            MethodHandle dlopen = C.downcallHandle(C.defaultLookup().find("dlopen").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            for (String name : names) {
                MemorySegment handle = (MemorySegment) dlopen.invokeExact(call.allocateFrom(name), RTLD_NOW | RTLD_GLOBAL);
                if (!handle.equals(MemorySegment.NULL)) return SymbolLookup.libraryLookup(name, Arena.global());
            }
        } catch (Throwable t) {
            throw new IllegalStateException("MPI: cannot open libmpi: " + t, t);
        }
        throw new IllegalStateException("MPI: Open MPI's libmpi.so.40 is not installed (Debian/Ubuntu: apt-get install "
                + "openmpi-bin libopenmpi-dev); run the processes with mpirun -np N");
    }

    private static MemorySegment symbol(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new IllegalStateException("MPI: libmpi has no symbol " + name
                + " (expected Open MPI 4.x)"));
    }

    private static MethodHandle function(SymbolLookup lib, String name, FunctionDescriptor d) {
        return C.downcallHandle(symbol(lib, name), d);
    }

    /** A downcall returning MPI's error code. */
    private interface NativeCall {
        int call() throws Throwable;
    }

    /** Makes the call, turning a non-zero MPI error code or a failed downcall into an error naming {@code what}. */
    private static void invoke(String what, NativeCall c) {
        int code;
        try {
            code = c.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("MPI: " + what + ": " + t, t);
        }
        if (code != 0) throw new IllegalStateException("MPI: " + what + " failed with error code " + code);
    }

    @Override public int rank() { return rank; }

    @Override public int size() { return size; }

    @Override public long bytesSent() { return bytesSent; }

    private MemorySegment stage(int len) {
        checkOpen();
        long bytes = (long) len * Float.BYTES;
        if (staging.byteSize() < bytes) staging = arena.allocate(ValueLayout.JAVA_FLOAT, Math.max(len, 2 * staging.byteSize() / Float.BYTES));
        return staging;
    }

    @Override public void allReduceSum(float[] buf, int off, int len) {
        Objects.checkFromIndexSize(off, len, buf.length);
        if (len == 0) return;
        MemorySegment s = stage(len);
        MemorySegment.copy(buf, off, s, ValueLayout.JAVA_FLOAT, 0, len);
        invoke("MPI_Allreduce", () -> (int) allreduce.invokeExact(IN_PLACE, s, len, floatType, sumOp, commWorld));
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 0, buf, off, len);
        bytesSent += (long) len * Float.BYTES;
    }

    @Override public void broadcast(float[] buf, int off, int len, int root) {
        Objects.checkFromIndexSize(off, len, buf.length);
        if (root < 0 || root >= size) throw new IllegalArgumentException("broadcast: root " + root + " is not a rank of " + size);
        if (len == 0) return;
        MemorySegment s = stage(len);
        if (rank == root) MemorySegment.copy(buf, off, s, ValueLayout.JAVA_FLOAT, 0, len);
        invoke("MPI_Bcast", () -> (int) bcast.invokeExact(s, len, floatType, root, commWorld));
        if (rank != root) MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 0, buf, off, len);
        if (rank == root) bytesSent += (long) len * Float.BYTES;
    }

    @Override public void barrier() {
        checkOpen();
        invoke("MPI_Barrier", () -> (int) barrier.invokeExact(commWorld));
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("MPI: the collective was closed (MPI_Finalize)");
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        try {
            invoke("MPI_Finalize", () -> (int) finalize.invokeExact());
        } finally {
            arena.close();
        }
    }
}
