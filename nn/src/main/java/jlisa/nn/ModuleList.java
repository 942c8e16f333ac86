package jlisa.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Modules under the names 0, 1, 2, … (a model's stack of blocks).
 *
 * <p>Not thread-safe, like every {@link Module}.
 */
public final class ModuleList<M extends Module> extends Module {
    private final List<M> items = new ArrayList<>();

    public ModuleList(List<M> modules) {
        for (M m : modules) items.add(child(Integer.toString(items.size()), m));
    }

    public M get(int i) { return items.get(i); }

    public int size() { return items.size(); }

    public List<M> asList() { return Collections.unmodifiableList(items); }
}
