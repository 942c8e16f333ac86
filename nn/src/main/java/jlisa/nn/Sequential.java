package jlisa.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import jlisa.autograd.Variable;

/**
 * Modules applied one after another, as torch.nn.Sequential: the output of each is the input of the
 * next. Children are named 0, 1, 2, … so parameters appear as {@code 0.weight}, {@code 2.bias}, ….
 * Every child must be a {@link Layer} (one variable in, one variable out).
 *
 * <p>Not thread-safe: a forward pass builds an autograd graph on the calling thread and dropout draws
 * from its generator; use one instance per thread, or guard it.
 */
public final class Sequential extends Module implements Layer {
    private final List<Layer> layers = new ArrayList<>();

    /** The given layers, in order; at least one. */
    public Sequential(Layer... layers) { this(List.of(layers)); }

    /** The given layers, in order; at least one. */
    public Sequential(List<? extends Layer> layers) {
        if (layers.isEmpty()) throw new IllegalArgumentException("Sequential: expected at least one layer, got none");
        for (Layer layer : layers) {
            if (!(layer instanceof Module m)) {
                throw new IllegalArgumentException("Sequential: layer " + this.layers.size() + " is a "
                        + layer.getClass().getName() + ", expected a Module");
            }
            child(Integer.toString(this.layers.size()), m);
            this.layers.add(layer);
        }
    }

    /** Runs every layer in order. */
    @Override public Variable forward(Variable x) {
        Variable y = x;
        for (Layer layer : layers) y = layer.forward(y);
        return y;
    }

    /** The layer at {@code index}. */
    public Layer get(int index) {
        if (index < 0 || index >= layers.size()) {
            throw new IndexOutOfBoundsException("Sequential: index " + index + " is outside 0 .. " + (layers.size() - 1));
        }
        return layers.get(index);
    }

    /** Number of layers. */
    public int size() { return layers.size(); }

    /** The layers in order (unmodifiable). */
    public List<Layer> layers() { return Collections.unmodifiableList(layers); }
}
