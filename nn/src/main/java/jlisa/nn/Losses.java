package jlisa.nn;

import jlisa.autograd.Variable;
import jlisa.tensor.DType;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * Loss modules, as torch.nn.MSELoss and torch.nn.CrossEntropyLoss. Each returns a 0-dim variable to call
 * {@code backward()} on.
 *
 * <p>Thread-safe: a loss holds only its final settings; the graph it builds belongs to the calling thread.
 */
public final class Losses {
    private Losses() {}

    /** How per-element losses become one number. */
    public enum Reduction {
        /** The average over all elements (PyTorch's default). */
        MEAN,
        /** The total over all elements. */
        SUM
    }

    /** Squared error (prediction − target)², averaged or summed over every element. */
    public static final class MSELoss extends Module {
        private final Reduction reduction;

        /** Mean reduction, torch.nn.MSELoss's default. */
        public MSELoss() { this(Reduction.MEAN); }

        public MSELoss(Reduction reduction) {
            if (reduction == null) throw new IllegalArgumentException("MSELoss: a reduction is required (MEAN or SUM)");
            this.reduction = reduction;
        }

        /** The loss of {@code prediction} against {@code target}; both must have the same shape. */
        public Variable forward(Variable prediction, Variable target) {
            int[] p = prediction.data().shape(), t = target.data().shape();
            if (!java.util.Arrays.equals(p, t)) {
                throw new IllegalArgumentException("MSELoss: prediction " + Shapes.str(p) + " and target " + Shapes.str(t)
                        + " must have the same shape");
            }
            Variable squared = prediction.sub(target).pow(2);
            return reduction == Reduction.MEAN ? squared.mean() : squared.sum();
        }

        /** As {@link #forward(Variable, Variable)} with a constant target. */
        public Variable forward(Variable prediction, Tensor target) { return forward(prediction, new Variable(target)); }

        public Reduction reduction() { return reduction; }
    }

    /**
     * Cross-entropy of logits (..., C) against I32 class ids (...): the mean over the ids that are not
     * {@code ignoreIndex} of −log softmax(logits)[id], in one fused op (softmax, loss and gradient in a
     * single pass).
     */
    public static final class CrossEntropyLoss extends Module {
        private final int ignoreIndex;

        /** Ignores id −100, as torch.nn.CrossEntropyLoss. */
        public CrossEntropyLoss() { this(-100); }

        /** Targets equal to {@code ignoreIndex} add nothing to the loss and do not count in the mean. */
        public CrossEntropyLoss(int ignoreIndex) { this.ignoreIndex = ignoreIndex; }

        /** The loss of {@code logits} (..., C) against {@code targets} (...) of dtype I32. */
        public Variable forward(Variable logits, Tensor targets) {
            int[] l = logits.data().shape(), t = targets.shape();
            if (targets.dtype() != DType.I32) {
                throw new IllegalArgumentException("CrossEntropyLoss: targets must be I32 class ids, got " + targets.dtype());
            }
            if (l.length != t.length + 1 || !java.util.Arrays.equals(java.util.Arrays.copyOf(l, t.length), t)) {
                throw new IllegalArgumentException("CrossEntropyLoss: logits " + Shapes.str(l) + " need targets of shape "
                        + Shapes.str(java.util.Arrays.copyOf(l, Math.max(0, l.length - 1))) + ", got " + Shapes.str(t));
            }
            return logits.crossEntropy(targets, ignoreIndex);
        }

        public int ignoreIndex() { return ignoreIndex; }
    }
}
