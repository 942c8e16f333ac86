package jlisa.autograd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

import jlisa.tensor.Storage;

/**
 * Frees a forward pass's dead intermediates as soon as a piece of model code returns, the way
 * reference counting frees them in PyTorch. Java has no reference counts, and a graph node keeps
 * its inputs reachable, so without this every intermediate value would stay until backward — even
 * ones that no backward reads, such as the output of a Linear that only feeds a residual add.
 *
 * <pre>{@code
 * try (var scope = ActivationScope.open()) {
 *     Variable h = ...;               // intermediates made here
 *     return scope.keep(out);         // everything else that no pending backward saved is released
 * }
 * }</pre>
 *
 * <p>On close, a value made inside the scope is released when its op allocated it (not a view of
 * something older), nothing a pending backward saved uses its storage (saved tensors are pinned),
 * and it is not a kept value's storage. Reading a released value throws and names the op. Scopes
 * nest: what an inner scope keeps is judged again by the outer one.
 *
 * <p>Thread-confined: scopes are tracked per thread, and a scope must be closed on the thread that opened it.
 */
public final class ActivationScope implements AutoCloseable {
    private static final ThreadLocal<Deque<ActivationScope>> OPEN = ThreadLocal.withInitial(ArrayDeque::new);

    private final List<Variable> made = new ArrayList<>();
    private final List<Boolean> owned = new ArrayList<>();
    private final Set<Variable> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    private boolean closed;

    private ActivationScope() {}

    /** Opens a scope on this thread. */
    public static ActivationScope open() {
        ActivationScope s = new ActivationScope();
        OPEN.get().push(s);
        return s;
    }

    /** Marks a value that leaves the scope (the return value); returns it. */
    public Variable keep(Variable v) {
        kept.add(v);
        return v;
    }

    static void record(Variable v, boolean ownsStorage) {
        ActivationScope s = OPEN.get().peek();
        if (s != null) {
            s.made.add(v);
            s.owned.add(ownsStorage);
        }
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        Deque<ActivationScope> open = OPEN.get();
        if (open.peek() != this) throw new IllegalStateException("activation scopes must close in the reverse order they opened");
        open.pop();
        Set<Storage> keep = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Variable v : kept) keep.add(v.rawData().storage());
        for (int i = 0; i < made.size(); i++) {
            Variable v = made.get(i);
            if (v.isRetained()) keep.add(v.rawData().storage());
        }
        Set<Storage> released = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int i = 0; i < made.size(); i++) {
            Variable v = made.get(i);
            Storage s = v.rawData().storage();
            if (!owned.get(i) || keep.contains(s) || s.isPinned() || s.isReleased()) continue;
            s.release();
            released.add(s);
        }
        ActivationScope outer = open.peek();
        for (int i = 0; i < made.size(); i++) {
            Variable v = made.get(i);
            if (released.contains(v.rawData().storage())) v.markFreed();
            else if (outer != null) {   // still alive: the enclosing scope decides about it later
                outer.made.add(v);
                outer.owned.add(owned.get(i));
            }
        }
    }
}
