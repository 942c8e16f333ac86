package jlisa.transformer.generate;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.BitSet;

import jlisa.autograd.GradMode;
import jlisa.tensor.Tensor;
import jlisa.transformer.model.CausalLM;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Generation through the KV cache gives what re-running the whole sequence gives. */
class KvCacheGenerationTest {
    static final int NEW_TOKENS = 24;
    static final int[] PROMPT = {5, 17, 3, 42, 8, 11, 0};

    static CausalLM model(String name) {
        return switch (name) {
            case "gpt2-random" -> Models4Test.gpt2(64);
            case "llama-gqa-random" -> Models4Test.llama();
            default -> Models4Test.golden(name);
        };
    }

    /** Next-token logits of the last position, recomputing the whole sequence without a cache. */
    static double[] recomputed(CausalLM model, int[] ids) {
        try (var noGrad = GradMode.disabled()) {
            Tensor logits = model.forward(Tensor.of(ids.clone(), 1, ids.length)).data();
            return logits.narrow(1, ids.length - 1, 1).toDoubleArray();
        }
    }

    /**
     * Greedy, plain or with a repetition penalty: a random GPT-2 (tied head) keeps repeating its last token and the
     * qwen2 checkpoint settles on one token, so for those the penalty makes the continuation walk through many tokens.
     */
    @ParameterizedTest
    @CsvSource({"gpt2-random, 2.0", "llama-gqa-random, 1.0", "gpt2-tiny, 1.0", "llama-gqa, 1.0", "qwen2-tied, 1.5"})
    void greedyWithCacheEqualsGreedyRecomputedWithoutIt(String name, double penalty) {
        try (CausalLM model = model(name)) {
            int[] cached = Generator.generate(model, PROMPT, GenerationConfig.greedy(NEW_TOKENS).withRepetitionPenalty(penalty));

            int[] seq = PROMPT.clone();
            int[] expected = new int[NEW_TOKENS];
            for (int i = 0; i < NEW_TOKENS; i++) {
                double[] logits = recomputed(model, seq);
                BitSet seen = new BitSet();
                for (int id : seq) seen.set(id);
                if (penalty != 1.0) Sampler.applyRepetitionPenalty(logits, seen, penalty);
                expected[i] = Sampler.argmax(logits);
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = expected[i];
            }
            assertThat(cached).as("%s, repetition penalty %s", name, penalty).containsExactly(expected);
            assertThat(Arrays.stream(cached).distinct().count()).as("distinct tokens from %s", name).isGreaterThan(3);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-random", "llama-gqa-random", "gpt2-tiny", "llama-gqa", "qwen2-tied", "qwen3-tied",
            "gemma-tiny", "gemma2-tiny", "gemma3-tiny", "llama3-rope-scaling"})
    void cachedLogitsMatchRecomputedLogitsAtEveryStep(String name) {
        try (CausalLM model = model(name); Decoder decoder = new Decoder(model, PROMPT.length + NEW_TOKENS)) {
            // the prompt in two chunks: the second runs queries 4.. against keys 0.. (Tq < Tk)
            decoder.feed(Arrays.copyOf(PROMPT, 4));
            double[] logits = decoder.feed(Arrays.copyOfRange(PROMPT, 4, PROMPT.length));
            int[] seq = PROMPT.clone();
            for (int step = 0; step < NEW_TOKENS; step++) {
                double[] want = recomputed(model, seq);
                assertThat(logits).hasSize(model.vocabSize());
                int worst = 0;
                for (int v = 0; v < want.length; v++) {
                    if (Math.abs(logits[v] - want[v]) > Math.abs(logits[worst] - want[worst])) worst = v;
                }
                assertThat(Math.abs(logits[worst] - want[worst]))
                        .as("%s step %d logit %d: cached %s vs recomputed %s", name, step, worst, logits[worst], want[worst])
                        .isLessThan(1e-4);
                int next = Sampler.argmax(want);
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = next;
                assertThat(decoder.position()).isEqualTo(seq.length - 1);
                if (step < NEW_TOKENS - 1) logits = decoder.feed(next);
            }
        }
    }
}
