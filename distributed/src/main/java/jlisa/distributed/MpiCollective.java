package jlisa.distributed;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.time.Duration;
import java.util.Objects;

/**
 * {@link Collective} over Open MPI's C API ({@code libmpi.so.40}, Open MPI 4.x) through the FFM API. Open MPI's
 * handles are addresses of global symbols ({@code ompi_mpi_comm_world}, {@code ompi_mpi_float},
 * {@code ompi_mpi_op_sum}), so no header or native build is needed. The library is opened with RTLD_GLOBAL, as Open
 * MPI's plug-ins expect to find its symbols. Payloads go through one off-heap staging buffer, grown as needed.
 *
 * <p>A watchdog thread bounds every blocking call: MPI itself waits forever for a rank that hangs (a rank that
 * exits is noticed by mpirun, which stops the job), so a call still waiting after the timeout prints what it waited
 * for and halts this process, and mpirun then stops the others. Halting between two collective calls is never in the
 * middle of a checkpoint, which is written between them (and renamed into place whole).
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
    private final Duration timeout;
    /** The blocking call in progress and when it began (read by the watchdog). */
    private volatile String waitingIn;
    private volatile long waitingSince;
    private MemorySegment staging;
    private long bytesSent;
    private volatile boolean closed, finalized;

    private MpiCollective(SymbolLookup mpi, Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("MPI: the timeout must be > 0, got " + timeout);
        this.timeout = timeout;
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
        String launched = System.getenv("OMPI_COMM_WORLD_SIZE");
        if (launched != null && !launched.equals(String.valueOf(size))) {
            throw new IllegalStateException("MPI: mpirun started " + launched + " processes but MPI_COMM_WORLD has " + size
                    + ": start every rank with one mpirun -np N (a process started alone is a job of its own)");
        }
        staging = arena.allocate(ValueLayout.JAVA_FLOAT, 1 << 16);
        Thread watchdog = new Thread(this::watch, "jlisa-mpi-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    /** Joins the MPI job this process was started in (by mpirun); a clear error when Open MPI is not installed. */
    public static MpiCollective init(Duration timeout) {
        return new MpiCollective(openLibrary(), timeout);
    }

    /** The timeout of each blocking call. */
    public Duration timeout() { return timeout; }

    private void watch() {
        long limit = timeout.toNanos();
        while (!finalized) {
            String what = waitingIn;
            long waited = System.nanoTime() - waitingSince;
            if (what != null && waited > limit) {
                System.err.printf(java.util.Locale.ROOT, "jlisa: rank %d of %d: %s has waited %.0f s for the other ranks "
                        + "(timeout %d s): a rank has died or hangs. Stopping this process; checkpoints already written are "
                        + "intact.%n", rank, size, what, waited / 1e9, timeout.toSeconds());
                System.err.flush();
                Runtime.getRuntime().halt(3);
            }
            try {
                Thread.sleep(Math.min(500, Math.max(1, limit / 4_000_000)));
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** {@link #invoke} of a call that waits for the other ranks, watched by the watchdog. */
    private void collective(String what, NativeCall c) {
        waitingSince = System.nanoTime();
        waitingIn = what;
        try {
            invoke(what, c);
        } finally {
            waitingIn = null;
        }
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
        collective("MPI_Allreduce", () -> (int) allreduce.invokeExact(IN_PLACE, s, len, floatType, sumOp, commWorld));
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 0, buf, off, len);
        bytesSent += (long) len * Float.BYTES;
    }

    @Override public void broadcast(float[] buf, int off, int len, int root) {
        Objects.checkFromIndexSize(off, len, buf.length);
        if (root < 0 || root >= size) throw new IllegalArgumentException("broadcast: root " + root + " is not a rank of " + size);
        if (len == 0) return;
        MemorySegment s = stage(len);
        if (rank == root) MemorySegment.copy(buf, off, s, ValueLayout.JAVA_FLOAT, 0, len);
        collective("MPI_Bcast", () -> (int) bcast.invokeExact(s, len, floatType, root, commWorld));
        if (rank != root) MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 0, buf, off, len);
        if (rank == root) bytesSent += (long) len * Float.BYTES;
    }

    @Override public void barrier() {
        checkOpen();
        collective("MPI_Barrier", () -> (int) barrier.invokeExact(commWorld));
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("MPI: the collective was closed (MPI_Finalize)");
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        try {
            collective("MPI_Finalize", () -> (int) finalize.invokeExact());
        } finally {
            finalized = true;
            arena.close();
        }
    }
}
