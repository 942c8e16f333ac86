package jlisa.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;

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
     * With one chunk the body runs inline on the calling thread. The caller runs the first chunk itself.
     * An exception in any chunk is rethrown here after all chunks have finished or failed.
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
        List<ForkJoinTask<?>> tasks = new ArrayList<>(chunks - 1);
        ForkJoinPool pool = poolFor(threads);
        boolean inPool = ForkJoinTask.getPool() == pool;
        for (int c = 1; c < chunks; c++) {
            int lo = start + (int) ((long) n * c / chunks), hi = start + (int) ((long) n * (c + 1) / chunks);
            // Re-bind the thread count so nested kernels inside a chunk see the same parallelism.
            ForkJoinTask<?> task = ForkJoinTask.adapt(() -> ScopedValue.where(THREADS, threads).run(() -> body.run(lo, hi)));
            tasks.add(inPool ? task.fork() : pool.submit(task));
        }
        Throwable failure = null;
        try {
            body.run(start, start + n / chunks);
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        for (ForkJoinTask<?> t : tasks) {
            try {
                t.join();
            } catch (RuntimeException | Error e) {
                if (failure == null) failure = e;
                else if (failure != e) failure.addSuppressed(e);
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error err) throw err;
    }
}
