package jlisa.transformer.generate;

import java.util.Set;
import java.util.TreeSet;

/**
 * How {@link Generator} picks tokens, with Hugging Face's meanings:
 * <ul>
 *   <li>{@code maxNewTokens} ≥ 0: at most this many tokens are generated (the prompt does not count);</li>
 *   <li>{@code temperature} ≥ 0: 0 is greedy decoding (argmax, first maximum on ties; top-k, top-p and the seed are
 *       then unused), otherwise logits are divided by it and a token is sampled;</li>
 *   <li>{@code topK} ≥ 0: keep the k most likely tokens (ties with the k-th are kept too); 0 turns it off;</li>
 *   <li>{@code topP} in (0, 1]: nucleus sampling, keep the most likely tokens whose probability adds up to at
 *       least topP; 1.0 turns it off;</li>
 *   <li>{@code stopTokens}: token ids (≥ 0) that end generation; the stop token is emitted and returned, as HF
 *       emits EOS;</li>
 *   <li>{@code seed}: seeds the one {@link jlisa.tensor.Rng} of a run (one draw per sampled token);</li>
 *   <li>{@code repetitionPenalty} &gt; 0 (CTRL, HF's RepetitionPenaltyLogitsProcessor): the logit of every token
 *       already in the prompt or the output is divided by it when positive and multiplied by it when negative;
 *       1.0 turns it off. It applies to greedy decoding too.</li>
 * </ul>
 * Logits go through repetition penalty → temperature → top-k → top-p, HF's order.
 *
 * <p>Immutable; safe to share between threads.
 */
public record GenerationConfig(int maxNewTokens, double temperature, int topK, double topP, Set<Integer> stopTokens,
                               long seed, double repetitionPenalty) {
    public GenerationConfig {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("generation config: maxNewTokens must be ≥ 0, got " + maxNewTokens);
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("generation config: temperature must be finite and ≥ 0 (0 = greedy), got "
                    + temperature);
        }
        if (topK < 0) throw new IllegalArgumentException("generation config: topK must be ≥ 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("generation config: topP must be in (0, 1] (1.0 = off), got " + topP);
        }
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("generation config: repetitionPenalty must be finite and > 0 (1.0 = off), got "
                    + repetitionPenalty);
        }
        if (stopTokens == null) throw new IllegalArgumentException("generation config: stopTokens must not be null (use Set.of())");
        for (Integer id : stopTokens) {
            if (id == null || id < 0) {
                throw new IllegalArgumentException("generation config: stop token ids must be ≥ 0, got " + id + " in " + stopTokens);
            }
        }
        stopTokens = Set.copyOf(new TreeSet<>(stopTokens));
    }

    /** Greedy decoding of up to {@code maxNewTokens} tokens, no stop tokens. */
    public static GenerationConfig greedy(int maxNewTokens) {
        return new GenerationConfig(maxNewTokens, 0.0, 0, 1.0, Set.of(), 0L, 1.0);
    }

    /** Plain sampling at {@code temperature} with {@code seed}, no top-k, no top-p, no stop tokens. */
    public static GenerationConfig sampling(int maxNewTokens, double temperature, long seed) {
        return new GenerationConfig(maxNewTokens, temperature, 0, 1.0, Set.of(), seed, 1.0);
    }

    /** True when tokens are picked by argmax (temperature 0). */
    public boolean isGreedy() { return temperature == 0.0; }

    public GenerationConfig withMaxNewTokens(int n) {
        return new GenerationConfig(n, temperature, topK, topP, stopTokens, seed, repetitionPenalty);
    }

    public GenerationConfig withTemperature(double t) {
        return new GenerationConfig(maxNewTokens, t, topK, topP, stopTokens, seed, repetitionPenalty);
    }

    public GenerationConfig withTopK(int k) {
        return new GenerationConfig(maxNewTokens, temperature, k, topP, stopTokens, seed, repetitionPenalty);
    }

    public GenerationConfig withTopP(double p) {
        return new GenerationConfig(maxNewTokens, temperature, topK, p, stopTokens, seed, repetitionPenalty);
    }

    public GenerationConfig withStopTokens(int... ids) {
        Set<Integer> s = new TreeSet<>();
        for (int id : ids) s.add(id);
        return new GenerationConfig(maxNewTokens, temperature, topK, topP, s, seed, repetitionPenalty);
    }

    public GenerationConfig withSeed(long s) {
        return new GenerationConfig(maxNewTokens, temperature, topK, topP, stopTokens, s, repetitionPenalty);
    }

    public GenerationConfig withRepetitionPenalty(double penalty) {
        return new GenerationConfig(maxNewTokens, temperature, topK, topP, stopTokens, seed, penalty);
    }
}
