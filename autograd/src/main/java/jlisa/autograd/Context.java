package jlisa.autograd;

import java.util.ArrayList;
import java.util.List;

import jlisa.tensor.Tensor;

/**
 * What one application of a {@link Function} keeps for its backward: the tensors it saved (with the
 * version each had, so an in-place change in between is caught), which inputs need a gradient, and
 * any plain values (dims, eps, scale) it recorded.
 *
 * <p>Saved tensors are either <em>borrowed</em> ({@link #save}: inputs or the output, owned by their
 * variables) or <em>owned</em> ({@link #saveOwned}: temporaries the forward made only for backward,
 * such as LayerNorm's per-row statistics); owned ones are released when the graph is freed.
 *
 * <p>Not thread-safe: a context belongs to one op application in one graph.
 */
public final class Context {
    private final String op;
    private final boolean[] needsGrad;
    private final List<Tensor> saved = new ArrayList<>();
    private final List<Integer> versions = new ArrayList<>();
    private final List<Tensor> owned = new ArrayList<>();
    private final List<Object> values = new ArrayList<>();
    private boolean freed;

    Context(String op, boolean[] needsGrad) {
        this.op = op;
        this.needsGrad = needsGrad;
    }

    /** True if input {@code i} needs a gradient; backward returns null for the others and skips their work. */
    public boolean needsGrad(int i) { return needsGrad[i]; }

    /** Saves tensors owned by someone else (inputs, the output) for backward; returns the index of the first. */
    public int save(Tensor... tensors) {
        int first = saved.size();
        for (Tensor t : tensors) {
            saved.add(t);
            versions.add(t == null ? 0 : t.version());
            if (t != null) t.storage().pin();   // backward will read it: activation scopes must not free it
        }
        return first;
    }

    /** Saves a temporary that only backward needs; it is released with the graph. Returns its index. */
    public int saveOwned(Tensor t) {
        owned.add(t);
        return save(t);
    }

    /** Saved tensor {@code i}, after checking that nothing modified it in place since it was saved. */
    public Tensor saved(int i) {
        if (freed) {
            throw new IllegalStateException(op + ": backward through a graph that was already freed; pass "
                    + "retainGraph=true to the first backward() to run it twice");
        }
        Tensor t = saved.get(i);
        if (t != null && t.version() != versions.get(i)) {
            throw new IllegalStateException(op + ": a tensor saved for backward (saved tensor " + i + ", shape "
                    + java.util.Arrays.toString(t.shape()) + ") was modified in place after it was saved (version "
                    + t.version() + ", expected " + versions.get(i) + "); gradients would be wrong");
        }
        return t;
    }

    /** Records a plain value (dim, eps, flag…) for backward; returns this. */
    public Context put(Object value) {
        values.add(value);
        return this;
    }

    /** Plain value {@code i} in the order of {@link #put}. */
    @SuppressWarnings("unchecked")
    public <T> T value(int i) { return (T) values.get(i); }

    boolean isFreed() { return freed; }

    /** The storages that must outlive the op: the output's and every saved tensor's. */
    java.util.List<jlisa.tensor.Storage> keptStorages(Tensor output) {
        java.util.List<jlisa.tensor.Storage> keep = new ArrayList<>(saved.size() + 1);
        keep.add(output.storage());
        for (Tensor t : saved) if (t != null) keep.add(t.storage());
        return keep;
    }

    /** Drops every saved tensor and releases the owned ones. */
    void free() {
        if (freed) return;
        freed = true;
        for (Tensor t : saved) if (t != null) t.storage().unpin();
        for (Tensor t : owned) if (t != null) t.storage().release();
        owned.clear();
        saved.clear();
        versions.clear();
    }
}
