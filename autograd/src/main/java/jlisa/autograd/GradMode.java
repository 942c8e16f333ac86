package jlisa.autograd;

/**
 * Whether operations on {@link Variable}s record a graph. On by default; {@link #disabled()} opens a
 * no-grad scope for evaluation and generation (nothing is saved for backward, so activations are
 * freed as soon as they are unused).
 *
 * <pre>{@code
 * try (var noGrad = GradMode.disabled()) {
 *     Variable logits = model.forward(tokens);   // no graph, no saved tensors
 * }
 * }</pre>
 *
 * <p>Thread-confined: the mode is per thread, so a no-grad scope on one thread leaves others recording.
 */
public final class GradMode {
    private static final ThreadLocal<Boolean> ENABLED = ThreadLocal.withInitial(() -> Boolean.TRUE);

    private GradMode() {}

    /** True when new operations record a graph on this thread. */
    public static boolean isEnabled() { return ENABLED.get(); }

    /** Turns recording off on this thread until the returned scope is closed; scopes nest. */
    public static Scope disabled() { return set(false); }

    /** Turns recording on inside an enclosing no-grad scope, until closed. */
    public static Scope enabled() { return set(true); }

    private static Scope set(boolean on) {
        boolean previous = ENABLED.get();
        ENABLED.set(on);
        return () -> ENABLED.set(previous);
    }

    /** A scope opened by {@link #disabled()} or {@link #enabled()}; closing it restores the previous mode. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override void close();
    }
}
