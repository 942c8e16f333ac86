package jlisa.tensor;

/**
 * The process's active {@link Backend}, if any. None is active by default: everything runs on the CPU.
 * A command that runs on a GPU activates the gpu module's backend for the length of its work:
 * <pre>
 *   try (var gpu = Backends.use(cudaBackend)) { ... train ... }
 * </pre>
 */
public final class Backends {
    private static volatile Backend active;

    private Backends() {}

    /** The active backend, or null when the CPU does everything. */
    public static Backend active() { return active; }

    /**
     * Makes {@code backend} (null: none, the CPU) the active one until the returned scope is closed,
     * which restores the one that was active before. Scopes nest; use with try-with-resources.
     */
    public static Scope use(Backend backend) {
        Backend previous = active;
        active = backend;
        return () -> active = previous;
    }

    /** A scope opened by {@link #use(Backend)}; closing it restores the previous backend. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override void close();
    }
}
