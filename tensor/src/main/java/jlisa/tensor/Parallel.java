package jlisa.tensor;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The shared CPU thread pool of jlisa's kernels, and a fork-join helper over an index range.
 *
 * <p>The pool has {@link #defaultThreads()} workers: the system property {@code jlisa.threads}, else
 * {@code Runtime.availableProcessors()}. {@link #withThreads(int, Runnable)} runs a piece of code with another
 * parallelism (benchmarks, determinism tests); kernels ask {@link #threads()} and call {@link #forRange}.
 *
 * <p>Determinism is the kernel's job: {@code forRange} only decides which thread runs which sub-range, so a kernel
 * whose every output element is computed the same way whatever range it falls in gives the same bits for any
 * thread count (GEMM splits over rows/columns of C, never over the reduction dimension).
 */
public final class Parallel {
    private Parallel() {}

    /** A body over the half-open sub-range [lo, hi). */
    @FunctionalInterface
    public interface IntRangeBody {
        void run(int lo, int hi);
    }

    private static final int DEFAULT_THREADS = readThreads();
    private static final ScopedValue<Integer> THREADS = ScopedValue.newInstance();
    private static final ConcurrentHashMap<Integer, ForkJoinPool> POOLS = new ConcurrentHashMap<>();

    private static int readThreads() {
        String s = System.getProperty("jlisa.threads");
        int n = Runtime.getRuntime().availableProcessors();
        if (s == null || s.isBlank()) return n;
        try {
            int t = Integer.parseInt(s.trim());
            if (t < 1) throw new NumberFormatException();
            return t;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("jlisa.threads: expected a positive integer, got '" + s + "'");
        }
    }

    /** Threads from {@code -Djlisa.threads}, else the available processors. */
    public static int defaultThreads() {
        return DEFAULT_THREADS;
    }

    /** Threads kernels use now: the count bound by an enclosing {@link #withThreads}, else the default. */
    public static int threads() {
        return THREADS.orElse(DEFAULT_THREADS);
    }

    /** The shared pool ({@link #defaultThreads()} workers, daemon threads named {@code jlisa-cpu-N}). */
    public static ForkJoinPool pool() {
        return poolFor(DEFAULT_THREADS);
    }

    private static ForkJoinPool poolFor(int threads) {
        return POOLS.computeIfAbsent(threads, t -> new ForkJoinPool(t, pool -> {
            ForkJoinWorkerThread w = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
            w.setName("jlisa-cpu" + (t == DEFAULT_THREADS ? "" : "" + t) + "-" + w.getPoolIndex());
            w.setDaemon(true);
            return w;
        }, null, false));
    }

    /** Runs {@code body} with kernels using {@code threads} threads (a pool of that size, created once and kept). */
    public static void withThreads(int threads, Runnable body) {
        if (threads < 1) throw new IllegalArgumentException("withThreads: expected threads ≥ 1, got " + threads);
        ScopedValue.where(THREADS, threads).run(body);
    }

    /**
     * Runs {@code body} over [start, end) split into at most {@link #threads()} contiguous chunks of at least
     * {@code grain} indices each (a chunk smaller than that is not worth a thread), and returns when all are done.
     * With one chunk the body runs inline on the calling thread.
     *
     * <p>The chunk boundaries depend only on the range, grain and thread count; which thread runs a chunk does not
     * matter. Chunks are claimed, not assigned: the caller and up to threads − 1 pool helpers take the next
     * unclaimed chunk until none is left, so a helper the OS has not scheduled yet (a busy machine) never holds the
     * caller up; the caller waits only for chunks that are already running. An exception in a chunk is rethrown here
     * after every claimed chunk has finished.
     */
    public static void forRange(int start, int end, int grain, IntRangeBody body) {
        int n = end - start;
        if (n <= 0) return;
        int threads = threads();
        int chunks = (int) Math.min(threads, Math.max(1, n / (long) Math.max(1, grain)));
        if (chunks == 1) {
            body.run(start, end);
            return;
        }
        Claims claims = new Claims(start, n, chunks, body);
        ForkJoinPool pool = poolFor(threads);
        boolean inPool = ForkJoinTask.getPool() == pool;
        for (int h = 1; h < chunks; h++) {
            // Re-bind the thread count so nested kernels inside a chunk see the same parallelism.
            ForkJoinTask<?> helper = ForkJoinTask.adapt(() -> ScopedValue.where(THREADS, threads).run(claims::work));
            if (inPool) helper.fork();
            else pool.execute(helper);
        }
        claims.work();
        claims.awaitAll();
    }

    private static final long SPIN_NANOS = 200_000;

    /** The shared state of one forRange call: next chunk to claim, chunks finished, first failure. */
    private static final class Claims {
        private final int start, n, chunks;
        private final IntRangeBody body;
        private final AtomicInteger next = new AtomicInteger();
        private final CountDownLatch finished;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();

        Claims(int start, int n, int chunks, IntRangeBody body) {
            this.start = start;
            this.n = n;
            this.chunks = chunks;
            this.body = body;
            this.finished = new CountDownLatch(chunks);
        }

        void work() {
            for (int c; (c = next.getAndIncrement()) < chunks; ) {
                int lo = start + (int) ((long) n * c / chunks), hi = start + (int) ((long) n * (c + 1) / chunks);
                try {
                    body.run(lo, hi);
                } catch (RuntimeException | Error e) {
                    if (!failure.compareAndSet(null, e)) failure.get().addSuppressed(e);
                } finally {
                    finished.countDown();
                }
            }
        }

        void awaitAll() {
            // Chunks are equal, so the others usually end within microseconds of ours: spin a little before
            // parking, because waking a parked thread on a busy machine can cost a whole scheduler period.
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (finished.getCount() > 0 && System.nanoTime() < spinUntil) Thread.onSpinWait();
            boolean interrupted = false;
            while (true) {
                try {
                    finished.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;   // chunks are short; finish waiting, then restore the flag
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
            Throwable f = failure.get();
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error err) throw err;
        }
    }
}
