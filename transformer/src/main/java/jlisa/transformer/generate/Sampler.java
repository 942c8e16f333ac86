package jlisa.transformer.generate;

import java.util.Arrays;
import java.util.BitSet;

import jlisa.tensor.Rng;

/**
 * Picks the next token from a logits vector, as Hugging Face's generate does: repetition penalty → temperature →
 * top-k → top-p → softmax (in double) → one uniform draw from the seeded {@link Rng}. Greedy (temperature 0) is
 * argmax after the repetition penalty and draws nothing. The filters are public so they can be checked alone;
 * they work in place and mark removed tokens with −∞.
 *
 * <p>Not thread-safe: each sampler draws from its own Rng; give each thread (each batch row) its own.
 */
public final class Sampler {
    private final GenerationConfig config;
    private final Rng rng;

    public Sampler(GenerationConfig config) {
        this.config = config;
        this.rng = new Rng(config.seed());
    }

    /**
     * The next token for {@code logits} (V, left unchanged); {@code seen} holds the ids already in the prompt and
     * the output (for the repetition penalty; may be null when there is none).
     */
    public int next(double[] logits, BitSet seen) {
        checkFinite(logits);
        double[] x = logits.clone();
        if (config.repetitionPenalty() != 1.0 && seen != null) applyRepetitionPenalty(x, seen, config.repetitionPenalty());
        if (config.isGreedy()) return argmax(x);
        applyTemperature(x, config.temperature());
        keepTopK(x, config.topK());
        keepTopP(x, config.topP());
        return sample(x, rng);
    }

    /** Index of the largest value, the first one on ties. */
    public static int argmax(double[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /** CTRL's penalty on every id in {@code seen}: positive logits divided by {@code penalty}, negative ones multiplied. */
    public static void applyRepetitionPenalty(double[] x, BitSet seen, double penalty) {
        for (int i = seen.nextSetBit(0); i >= 0 && i < x.length; i = seen.nextSetBit(i + 1)) {
            x[i] = x[i] < 0 ? x[i] * penalty : x[i] / penalty;
        }
    }

    /** x / temperature (temperature &gt; 0). */
    public static void applyTemperature(double[] x, double temperature) {
        if (!(temperature > 0)) throw new IllegalArgumentException("temperature must be > 0 to scale logits, got " + temperature);
        if (temperature == 1.0) return;
        for (int i = 0; i < x.length; i++) x[i] /= temperature;
    }

    /**
     * Sets to −∞ every value below the k-th largest (HF's TopKLogitsWarper: values tied with the k-th are kept).
     * k = 0 or k ≥ V keeps everything.
     */
    public static void keepTopK(double[] x, int k) {
        if (k < 0) throw new IllegalArgumentException("top-k: k must be ≥ 0, got " + k);
        if (k == 0 || k >= x.length) return;
        double[] sorted = x.clone();
        Arrays.sort(sorted);
        double threshold = sorted[x.length - k];
        for (int i = 0; i < x.length; i++) if (x[i] < threshold) x[i] = Double.NEGATIVE_INFINITY;
    }

    /**
     * Nucleus filter (HF's TopPLogitsWarper): sort the probabilities ascending, remove tokens while their cumulative
     * probability is ≤ 1 − p, never the most likely one. What remains is the smallest set of most likely tokens
     * whose mass reaches p. Among equal values the higher index counts as less likely. p = 1 keeps everything.
     */
    public static void keepTopP(double[] x, double p) {
        if (!(p > 0 && p <= 1)) throw new IllegalArgumentException("top-p: p must be in (0, 1], got " + p);
        if (p == 1.0 || x.length < 2) return;
        double[] prob = softmax(x);
        Integer[] order = new Integer[x.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> x[a] != x[b] ? Double.compare(x[a], x[b]) : Integer.compare(b, a));
        double cum = 0, limit = 1 - p;
        for (int r = 0; r < order.length - 1; r++) {
            cum += prob[order[r]];
            if (cum > limit) break;
            x[order[r]] = Double.NEGATIVE_INFINITY;
        }
    }

    /** exp(x − max) / Σ, in double; −∞ gives 0. */
    public static double[] softmax(double[] x) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : x) max = Math.max(max, v);
        if (max == Double.NEGATIVE_INFINITY) throw new IllegalArgumentException("softmax: every logit is −∞");
        double[] p = new double[x.length];
        double sum = 0;
        for (int i = 0; i < x.length; i++) sum += p[i] = Math.exp(x[i] - max);
        for (int i = 0; i < x.length; i++) p[i] /= sum;
        return p;
    }

    /** One draw from softmax(x): u ~ U[0, 1) from {@code rng}, the first token whose cumulative probability exceeds u. */
    public static int sample(double[] x, Rng rng) {
        double[] p = softmax(x);
        double u = rng.nextDouble(), cum = 0;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 0) continue;
            cum += p[i];
            last = i;
            if (cum > u) return i;
        }
        return last;    // rounding left cum a hair under u: the last token with any probability
    }

    private static void checkFinite(double[] logits) {
        if (logits.length == 0) throw new IllegalArgumentException("sampler: empty logits");
        for (int i = 0; i < logits.length; i++) {
            if (Double.isNaN(logits[i]) || logits[i] == Double.POSITIVE_INFINITY) {
                throw new IllegalStateException("sampler: logit " + i + " is " + logits[i] + " (the model produced non-finite values)");
            }
        }
    }
}
