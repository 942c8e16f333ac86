package jlisa.nn;

import jlisa.autograd.Variable;

/**
 * Elementwise activation modules, as torch.nn.ReLU, GELU, Tanh, Sigmoid and SiLU. They hold no
 * parameters; each forward is one differentiable op of {@link Variable} (whose gradchecks live with it).
 *
 * <p>Thread-safe: the modules hold no state beyond the training flag, which they do not read.
 */
public final class Activations {
    private Activations() {}

    /** max(0, x). */
    public static final class ReLU extends Module implements Layer {
        @Override public Variable forward(Variable x) { return x.relu(); }
    }

    /** GELU, exact x·Φ(x) by default, or the tanh approximation (PyTorch's {@code approximate='tanh'}). */
    public static final class GELU extends Module implements Layer {
        private final boolean tanhApproximation;

        /** The exact (erf) form, torch.nn.GELU's default. */
        public GELU() { this(false); }

        /** With {@code tanhApproximation}, GPT-2's "gelu_new". */
        public GELU(boolean tanhApproximation) { this.tanhApproximation = tanhApproximation; }

        @Override public Variable forward(Variable x) { return tanhApproximation ? x.geluTanh() : x.gelu(); }
    }

    /** tanh(x). */
    public static final class Tanh extends Module implements Layer {
        @Override public Variable forward(Variable x) { return x.tanh(); }
    }

    /** 1 / (1 + e^−x). */
    public static final class Sigmoid extends Module implements Layer {
        @Override public Variable forward(Variable x) { return x.sigmoid(); }
    }

    /** x · σ(x) (also called swish). */
    public static final class SiLU extends Module implements Layer {
        @Override public Variable forward(Variable x) { return x.silu(); }
    }
}
