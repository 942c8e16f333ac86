package jlisa.transformer.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import jlisa.autograd.GradMode;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.CrossEntropy;

/** Mean next-token cross-entropy of token sequences: the reference contract checked against PyTorch. */
public final class Scoring {
    private Scoring() {}

    /** Total loss over every position of every sequence divided by the number of predictions. */
    public record Score(double loss, long tokens) {}

    /** Reads one sequence per line, token ids separated by whitespace; blank lines are skipped. */
    public static List<int[]> readTokens(Path file) throws IOException {
        List<int[]> lines = new ArrayList<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(file)) {
            lineNo++;
            String s = line.strip();
            if (s.isEmpty()) continue;
            String[] parts = s.split("\\s+");
            int[] ids = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    ids[i] = Integer.parseInt(parts[i]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(file + ":" + lineNo + ": expected integer token ids, got '" + parts[i] + "'");
                }
            }
            lines.add(ids);
        }
        return lines;
    }

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
