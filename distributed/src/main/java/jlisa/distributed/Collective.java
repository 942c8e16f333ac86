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

    /**
     * Checks that every rank holds the same {@code value} (a fingerprint of settings, a checksum of parameters);
     * if one does not, every rank throws the same error, naming {@code what} and the ranks that differ from rank 0.
     */
    default void checkSame(String what, long value) {
        int n = size();
        if (n == 1) return;
        float[] root = new float[4];   // rank 0's value in 16-bit pieces: floats hold those exactly
        for (int i = 0; i < 4; i++) root[i] = (value >>> (16 * i)) & 0xFFFF;
        broadcast(root, 0, 4, 0);
        long rootValue = 0;
        for (int i = 0; i < 4; i++) rootValue |= (long) root[i] << (16 * i);
        float[] differs = new float[n];
        differs[rank()] = rootValue == value ? 0 : 1;
        allReduceSum(differs, 0, n);
        java.util.StringJoiner ranks = new java.util.StringJoiner(", ");
        for (int r = 0; r < n; r++) if (differs[r] != 0) ranks.add(String.valueOf(r));
        if (ranks.length() > 0) {
            throw new IllegalStateException("data-parallel: " + what + " differs between ranks: rank(s) " + ranks
                    + " disagree with rank 0");
        }
    }

    /** Bytes this process has handed to the engine so far (all-reduce and broadcast payloads). */
    long bytesSent();

    /** Leaves the collective (MPI_Finalize for MPI); a no-op for a single process. */
    @Override void close();

    /** How long a collective call waits for the other ranks by default before {@link #fromEnvironment} gives up. */
    java.time.Duration DEFAULT_TIMEOUT = java.time.Duration.ofMinutes(5);

    /** {@link #fromEnvironment(java.time.Duration)} with the {@link #DEFAULT_TIMEOUT}. */
    static Collective fromEnvironment() { return fromEnvironment(DEFAULT_TIMEOUT); }

    /**
     * The collective of this process: Open MPI when it was started by {@code mpirun} (OMPI_COMM_WORLD_SIZE is set),
     * else a single process of size 1. A call that waits longer than {@code timeout} for the other ranks (one died
     * or hangs) ends this process with a message saying so, and mpirun then stops the rest of the job.
     */
    static Collective fromEnvironment(java.time.Duration timeout) {
        return System.getenv("OMPI_COMM_WORLD_SIZE") != null ? MpiCollective.init(timeout) : single();
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
