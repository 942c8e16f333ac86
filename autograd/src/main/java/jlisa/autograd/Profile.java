package jlisa.autograd;

/**
 * Optional timing of the ops themselves: nanoseconds spent inside {@link Function} forwards and
 * backwards (the kernels), so a benchmark can tell how much of a training step is graph
 * bookkeeping — wall time minus op time. Off by default; when off it costs one boolean read per op.
 *
 * <p>Thread-safe: the totals are process-wide and updated under a lock (ops on every thread are counted).
 */
public final class Profile {
    private static volatile boolean enabled;
    private static long forwardNanos, backwardNanos, ops;

    private Profile() {}

    /** Starts timing from zero. Single-threaded use (one training loop). */
    public static synchronized void start() {
        forwardNanos = 0;
        backwardNanos = 0;
        ops = 0;
        enabled = true;
    }

    public static void stop() { enabled = false; }

    static boolean enabled() { return enabled; }

    static synchronized void forward(long nanos) {
        forwardNanos += nanos;
        ops++;
    }

    static synchronized void backward(long nanos) { backwardNanos += nanos; }

    /** Nanoseconds inside op forwards since {@link #start()}. */
    public static synchronized long forwardNanos() { return forwardNanos; }

    /** Nanoseconds inside op backwards since {@link #start()}. */
    public static synchronized long backwardNanos() { return backwardNanos; }

    /** Ops applied since {@link #start()}. */
    public static synchronized long ops() { return ops; }
}
