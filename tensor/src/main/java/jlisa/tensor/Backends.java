package jlisa.tensor;

/**
 * The {@link Backend} a thread's work runs on, if any. None is active by default: everything runs on the CPU.
 * Code that runs on a GPU activates the gpu module's backend on its own thread for the length of its work:
 * <pre>
 *   try (var gpu = Backends.use(cudaBackend)) { ... train ... }
 * </pre>
 *
 * <p>Thread-safety: the choice is confined to the thread that made it (a thread-local), so two threads may run on
 * different backends at once, and a thread that never chose runs on the CPU. Kernels decide on the calling thread
 * before they split work over the {@link Parallel} pool, so pool workers never consult this. A model whose
 * parameters were moved into a backend's memory goes to that backend from any thread (its storage names it).
 */
public final class Backends {
    private static final ThreadLocal<Backend> ACTIVE = new ThreadLocal<>();

    private Backends() {}

    /** This thread's active backend, or null when the CPU does everything. */
    public static Backend active() { return ACTIVE.get(); }

    /**
     * Makes {@code backend} (null: none, the CPU) this thread's active one until the returned scope is closed,
     * which restores the one that was active before. Scopes nest; use with try-with-resources on one thread.
     */
    public static Scope use(Backend backend) {
        Backend previous = ACTIVE.get();
        ACTIVE.set(backend);
        return () -> ACTIVE.set(previous);
    }

    /** A scope opened by {@link #use(Backend)}; closing it restores the previous backend of its thread. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override void close();
    }
}
