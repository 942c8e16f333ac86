package jlisa.distributed;

/**
 * The operations data-parallel training needs from a communication engine, whichever it is (Open MPI on CPU
 * clusters; NCCL on GPUs): every one of the {@link #size()} processes calls the same operations in the same order,
 * and each returns when its part is done. Buffers are float arrays, read and written in place.
 *
 * <p>Not thread-safe: one thread per process issues the collective calls, as MPI's default threading level requires.
 */
public interface Collective extends AutoCloseable {
    /** This process's index, 0 … size − 1; rank 0 logs, writes checkpoints and saves. */
    int rank();

    /** The number of processes taking part. */
    int size();

    /** Replaces {@code buf[off, off + len)} on every rank by the element-wise sum over all ranks. */
    void allReduceSum(float[] buf, int off, int len);

    /** Copies rank {@code root}'s {@code buf[off, off + len)} into every other rank's. */
    void broadcast(float[] buf, int off, int len, int root);

    /** Returns once every rank has called it. */
    void barrier();

    /** The element-wise mean over all ranks: {@link #allReduceSum} divided by {@link #size()}. */
    default void allReduceMean(float[] buf, int off, int len) {
        allReduceSum(buf, off, len);
        float inv = 1f / size();
        for (int i = off; i < off + len; i++) buf[i] *= inv;
    }

    /** Bytes this process has handed to the engine so far (all-reduce and broadcast payloads). */
    long bytesSent();

    /** Leaves the collective (MPI_Finalize for MPI); a no-op for a single process. */
    @Override void close();

    /**
     * The collective of this process: Open MPI when it was started by {@code mpirun} (OMPI_COMM_WORLD_SIZE is set),
     * else a single process of size 1.
     */
    static Collective fromEnvironment() {
        return System.getenv("OMPI_COMM_WORLD_SIZE") != null ? MpiCollective.init() : single();
    }

    /** One process: sums and broadcasts leave the buffers as they are. */
    static Collective single() { return new Single(); }

    /** The collective of one process. */
    final class Single implements Collective {
        private Single() {}

        @Override public int rank() { return 0; }

        @Override public int size() { return 1; }

        @Override public void allReduceSum(float[] buf, int off, int len) { java.util.Objects.checkFromIndexSize(off, len, buf.length); }

        @Override public void broadcast(float[] buf, int off, int len, int root) {
            if (root != 0) throw new IllegalArgumentException("broadcast: root " + root + " of a single process");
        }

        @Override public void barrier() {}

        @Override public long bytesSent() { return 0; }

        @Override public void close() {}
    }
}
