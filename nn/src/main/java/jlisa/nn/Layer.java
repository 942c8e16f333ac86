package jlisa.nn;

import jlisa.autograd.Variable;

/**
 * A module with one input and one output, the shape {@link Sequential} chains. Implemented by the layers
 * of {@link Layers} that take a variable and by the {@link Activations}.
 *
 * <p>Implementations are modules and, like {@link Module}, not thread-safe.
 */
@FunctionalInterface
public interface Layer {
    /** This layer applied to {@code x}. */
    Variable forward(Variable x);
}
