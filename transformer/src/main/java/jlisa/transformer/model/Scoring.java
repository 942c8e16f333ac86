package jlisa.transformer.model;

import java.util.List;

import jlisa.autograd.GradMode;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.CrossEntropy;

/**
 * Mean next-token cross-entropy of token sequences: the reference contract checked against PyTorch.
 *
 * <p>Not thread-safe: scoring runs the model, which serves one thread at a time.
 */
public final class Scoring {
    private Scoring() {}

    /** Total loss over every position of every sequence divided by the number of predictions. */
    public record Score(double loss, long tokens) {}

    /** Scores each sequence on its own (a line of L ids gives L−1 predictions) and averages over all predictions. */
    public static Score score(CausalLM model, List<int[]> sequences) {
        double total = 0;
        long count = 0;
        try (var noGrad = GradMode.disabled()) {
            for (int[] seq : sequences) {
                for (int id : seq) {
                    if (id < 0 || id >= model.vocabSize()) {
                        throw new IllegalArgumentException("score: token id " + id + " is outside the vocabulary [0, "
                                + model.vocabSize() + ")");
                    }
                }
                if (seq.length < 2) continue;
                int n = seq.length - 1;
                Tensor inputs = Tensor.of(java.util.Arrays.copyOf(seq, n), 1, n);
                Tensor targets = Tensor.of(java.util.Arrays.copyOfRange(seq, 1, seq.length), n);
                Tensor logits = model.forward(inputs).data().reshape(n, model.vocabSize());
                Tensor rows = CrossEntropy.rowLosses(logits, targets, CrossEntropy.DEFAULT_IGNORE_INDEX);
                for (double v : rows.toDoubleArray()) total += v;
                count += n;
            }
        }
        return new Score(count == 0 ? Double.NaN : total / count, count);
    }
}
