package jlisa.transformer.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jlisa.transformer.generate.Generator.Generation;
import jlisa.transformer.generate.Generator.StopReason;
import jlisa.transformer.model.CausalLM;
import org.junit.jupiter.api.Test;

class GeneratorTest {
    static final int[] PROMPT = {4, 9, 2, 33};
    final CausalLM gpt2 = Models4Test.gpt2(64);
    final CausalLM llama = Models4Test.llama();

    @Test
    void seededSamplingIsReproducibleAndChangesWithTheSeed() {
        GenerationConfig cfg = GenerationConfig.sampling(20, 1.0, 42);
        int[] a = Generator.generate(llama, PROMPT, cfg);
        int[] b = Generator.generate(llama, PROMPT, cfg);
        int[] c = Generator.generate(llama, PROMPT, cfg.withSeed(43));
        assertThat(a).hasSize(20).containsExactly(b);
        assertThat(c).hasSize(20).isNotEqualTo(a);

        GenerationConfig filtered = cfg.withTopK(10).withTopP(0.9).withRepetitionPenalty(1.2);
        assertThat(Generator.generate(gpt2, PROMPT, filtered)).containsExactly(Generator.generate(gpt2, PROMPT, filtered));
    }

    @Test
    void degenerateSamplingEqualsGreedy() {
        for (CausalLM model : List.of(gpt2, llama)) {
            int[] greedy = Generator.generate(model, PROMPT, GenerationConfig.greedy(20));
            assertThat(Generator.generate(model, PROMPT, GenerationConfig.sampling(20, 1e-6, 5)))
                    .as("temperature → 0").containsExactly(greedy);
            assertThat(Generator.generate(model, PROMPT, GenerationConfig.sampling(20, 1.5, 6).withTopK(1)))
                    .as("top-k 1").containsExactly(greedy);
            assertThat(Generator.generate(model, PROMPT, GenerationConfig.sampling(20, 1.5, 7).withTopP(1e-9)))
                    .as("tiny top-p").containsExactly(greedy);
            assertThat(Generator.generate(model, PROMPT, GenerationConfig.sampling(20, 1.0, 8)))
                    .as("plain sampling is not greedy on a near-uniform random model").isNotEqualTo(greedy);
        }
    }

    @Test
    void aStopTokenEndsGenerationAndIsReturned() {
        int[] full = Generator.generate(gpt2, PROMPT, GenerationConfig.greedy(20));
        int stop = full[5];
        int first = 0;
        while (full[first] != stop) first++;
        Generation g = Generator.run(gpt2, PROMPT, GenerationConfig.greedy(20).withStopTokens(stop, 60), TokenListener.NONE);
        assertThat(g.stopReason()).isEqualTo(StopReason.STOP_TOKEN);
        assertThat(g.tokens()).containsExactly(Arrays.copyOf(full, first + 1));
    }

    @Test
    void maxNewTokensIsRespected() {
        for (int n : new int[] {0, 1, 7}) {
            Generation g = Generator.run(llama, PROMPT, GenerationConfig.sampling(n, 0.8, 1), null);
            assertThat(g.tokens()).hasSize(n);
            assertThat(g.stopReason()).isEqualTo(StopReason.MAX_NEW_TOKENS);
        }
        int[] long20 = Generator.generate(llama, PROMPT, GenerationConfig.greedy(20));
        assertThat(Generator.generate(llama, PROMPT, GenerationConfig.greedy(7))).containsExactly(Arrays.copyOf(long20, 7));
    }

    @Test
    void theListenerSeesEveryTokenInOrderAndCanStopEarly() {
        List<Integer> seen = new ArrayList<>();
        int[] out = Generator.generate(gpt2, PROMPT, GenerationConfig.sampling(15, 1.0, 3), seen::add);
        assertThat(seen).containsExactly(Arrays.stream(out).boxed().toArray(Integer[]::new));

        List<Integer> three = new ArrayList<>();
        Generation g = Generator.run(gpt2, PROMPT, GenerationConfig.sampling(15, 1.0, 3), id -> {
            three.add(id);
            return three.size() < 3;
        });
        assertThat(g.stopReason()).isEqualTo(StopReason.LISTENER);
        assertThat(g.tokens()).containsExactly(Arrays.copyOf(out, 3));
        assertThat(three).containsExactly(out[0], out[1], out[2]);
    }

    @Test
    void runningOutOfPositionsStopsCleanly() {
        CausalLM small = Models4Test.gpt2(10);
        Generation g = Generator.run(small, PROMPT, GenerationConfig.greedy(50), null);
        assertThat(g.stopReason()).isEqualTo(StopReason.CONTEXT_FULL);
        assertThat(g.tokens()).hasSize(10 - PROMPT.length);

        int[] nine = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        assertThat(Generator.run(small, nine, GenerationConfig.greedy(50), null).tokens()).hasSize(1);
        int[] ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        Generation none = Generator.run(small, ten, GenerationConfig.greedy(50), null);
        assertThat(none.tokens()).isEmpty();
        assertThat(none.stopReason()).isEqualTo(StopReason.CONTEXT_FULL);
        // exactly enough room: maxNewTokens wins the tie
        assertThat(Generator.run(small, PROMPT, GenerationConfig.greedy(6), null).stopReason()).isEqualTo(StopReason.MAX_NEW_TOKENS);
    }

    @Test
    void badPromptsAreRejected() {
        GenerationConfig cfg = GenerationConfig.greedy(3);
        assertThatThrownBy(() -> Generator.generate(gpt2, new int[0], cfg)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one token");
        assertThatThrownBy(() -> Generator.generate(gpt2, new int[] {1, 61}, cfg)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("prompt token 61 at index 1 is outside the vocabulary [0, 61)");
        assertThatThrownBy(() -> Generator.generate(gpt2, new int[] {-1}, cfg)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Generator.generate(Models4Test.gpt2(3), PROMPT, cfg)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the prompt has 4 tokens, more than the model's 3 positions");
    }

    @Test
    void aDecoderRefusesToOverflowItsCache() {
        try (Decoder d = new Decoder(gpt2, 5)) {
            d.feed(PROMPT);
            d.feed(1);
            assertThatThrownBy(() -> d.feed(2)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("5 cached + 1 new tokens exceed the capacity 5");
            assertThat(d.position()).isEqualTo(5);
        }
    }
}
