package jlisa.transformer.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Tensor;
import jlisa.transformer.generate.Generator.Generation;
import jlisa.transformer.generate.Generator.StopReason;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.KvCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A batch of prompts of different lengths gives, row by row, what {@link Generator#run} gives each prompt alone. */
class BatchGenerationTest {
    static final List<int[]> PROMPTS = List.of(new int[] {4, 9, 2, 33}, new int[] {7}, new int[] {5, 17, 3, 42, 8, 11, 0},
            new int[] {12, 40}, new int[] {4, 9, 2, 33, 1, 1, 6, 20, 13});

    static CausalLM model(String name) {
        return name.equals("gpt2") ? Models4Test.gpt2(64) : Models4Test.llama();
    }

    static List<Generation> oneByOne(CausalLM model, List<int[]> prompts, GenerationConfig config) {
        List<Generation> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            out.add(Generator.run(model, prompts.get(i), config.withSeed(config.seed() + i), TokenListener.NONE));
        }
        return out;
    }

    static void assertSameGenerations(List<Generation> batch, List<Generation> alone, String what) {
        assertThat(batch).as(what).hasSameSizeAs(alone);
        for (int i = 0; i < alone.size(); i++) {
            assertThat(batch.get(i).tokens()).as("%s, row %d tokens", what, i).containsExactly(alone.get(i).tokens());
            assertThat(batch.get(i).stopReason()).as("%s, row %d stop reason", what, i).isEqualTo(alone.get(i).stopReason());
        }
    }

    /** A random GPT-2 (tied head) keeps repeating its last token; the penalty makes the rows walk through many. */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void greedyBatchOfDifferentLengthsEqualsRunForEachPrompt(String name) {
        CausalLM model = model(name);
        GenerationConfig cfg = GenerationConfig.greedy(20).withRepetitionPenalty(name.equals("gpt2") ? 2.0 : 1.3);
        List<Generation> alone = oneByOne(model, PROMPTS, cfg);
        assertSameGenerations(Generator.runBatch(model, PROMPTS, cfg), alone, name);
        for (Generation g : alone) assertThat(Arrays.stream(g.tokens()).distinct().count()).as("distinct tokens").isGreaterThan(3);
        assertThat(alone.get(0).tokens()).as("rows differ").isNotEqualTo(alone.get(1).tokens());
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void rowIUsesSeedPlusI(String name) {
        CausalLM model = model(name);
        GenerationConfig cfg = GenerationConfig.sampling(15, 1.0, 100).withTopK(20).withRepetitionPenalty(1.1);
        List<Generation> batch = Generator.runBatch(model, PROMPTS, cfg);
        assertSameGenerations(batch, oneByOne(model, PROMPTS, cfg), name);
        // the same prompt twice in one batch: different seeds, different samples
        List<Generation> twice = Generator.runBatch(model, List.of(PROMPTS.get(0), PROMPTS.get(0)), cfg);
        assertThat(twice.get(0).tokens()).isNotEqualTo(twice.get(1).tokens());
    }

    @Test
    void aBatchOfOneEqualsRun() {
        CausalLM model = Models4Test.llama();
        for (GenerationConfig cfg : List.of(GenerationConfig.greedy(12), GenerationConfig.sampling(12, 0.9, 5))) {
            Generation alone = Generator.run(model, PROMPTS.get(2), cfg, null);
            assertSameGenerations(Generator.runBatch(model, List.of(PROMPTS.get(2)), cfg), List.of(alone), cfg.toString());
        }
    }

    @Test
    void eachRowStopsForItsOwnReason() {
        CausalLM small = Models4Test.gpt2(10);
        GenerationConfig cfg = GenerationConfig.greedy(5);
        int[] three = {1, 2, 3}, eight = {1, 2, 3, 4, 5, 6, 7, 8}, ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        int stop = Generator.run(small, new int[] {30, 31}, cfg, null).tokens()[0];
        List<Generation> out = Generator.runBatch(small, List.of(three, eight, ten, new int[] {30, 31}), cfg.withStopTokens(stop));
        assertThat(out).extracting(Generation::stopReason).containsExactly(StopReason.MAX_NEW_TOKENS, StopReason.CONTEXT_FULL,
                StopReason.CONTEXT_FULL, StopReason.STOP_TOKEN);
        assertThat(out).extracting(g -> g.tokens().length).containsExactly(5, 2, 0, 1);
        assertThat(out.get(3).tokens()).containsExactly(stop);

        List<Generation> none = Generator.runBatch(small, List.of(three, ten), GenerationConfig.greedy(0));
        assertThat(none).extracting(Generation::stopReason).containsOnly(StopReason.MAX_NEW_TOKENS);
        assertThat(none).allSatisfy(g -> assertThat(g.tokens()).isEmpty());
    }

    @Test
    void aRowThatHitsAStopTokenEarlyStopsWhileTheOthersGoOn() {
        CausalLM model = Models4Test.llama();
        GenerationConfig cfg = GenerationConfig.greedy(16);
        List<Generation> free = oneByOne(model, PROMPTS, cfg);
        // a token that row 0 emits early and that no other row ever emits
        int stop = -1, at = -1;
        for (int t = 0; t < 8 && stop < 0; t++) {
            int candidate = free.get(0).tokens()[t];
            boolean elsewhere = false;
            for (int i = 1; i < free.size(); i++) elsewhere |= Arrays.stream(free.get(i).tokens()).anyMatch(x -> x == candidate);
            if (!elsewhere) {
                stop = candidate;
                at = t;
            }
        }
        assertThat(stop).as("a token only row 0 emits, early in %s", Arrays.toString(free.get(0).tokens())).isNotNegative();

        List<Generation> out = Generator.runBatch(model, PROMPTS, cfg.withStopTokens(stop));
        assertThat(out.get(0).stopReason()).isEqualTo(StopReason.STOP_TOKEN);
        assertThat(out.get(0).tokens()).containsExactly(Arrays.copyOf(free.get(0).tokens(), at + 1));
        for (int i = 1; i < out.size(); i++) {
            assertThat(out.get(i).stopReason()).as("row %d", i).isEqualTo(StopReason.MAX_NEW_TOKENS);
            assertThat(out.get(i).tokens()).as("row %d", i).hasSize(16).containsExactly(free.get(i).tokens());
        }
    }

    @Test
    void badPromptsAreRejectedNamingTheRow() {
        CausalLM gpt2 = Models4Test.gpt2(8);
        GenerationConfig cfg = GenerationConfig.greedy(3);
        int[] ok = {1, 2};
        assertThatThrownBy(() -> Generator.runBatch(gpt2, List.of(), cfg)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the batch holds no prompts");
        assertThatThrownBy(() -> Generator.runBatch(gpt2, null, cfg)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Generator.runBatch(null, List.of(ok), cfg)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("model and config must not be null");
        assertThatThrownBy(() -> Generator.runBatch(gpt2, List.of(ok, new int[0]), cfg)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("prompt 1 of the batch: the prompt must hold at least one token");
        assertThatThrownBy(() -> Generator.runBatch(gpt2, Arrays.asList(ok, ok, null), cfg)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("prompt 2 of the batch");
        assertThatThrownBy(() -> Generator.runBatch(gpt2, List.of(ok, ok, new int[] {3, 61}), cfg))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("prompt 2 of the batch: prompt token 61 at index 1 is outside the vocabulary [0, 61)");
        assertThatThrownBy(() -> Generator.runBatch(gpt2, List.of(ok, new int[9]), cfg)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("prompt 1 of the batch: the prompt has 9 tokens, more than the model's 8 positions");
    }

    @Test
    void theCacheIsReleasedAfterTheBatch() {
        CausalLM model = Models4Test.llama();   // 2 layers, 2 kv heads of 8 dims
        MemoryLedger.collectGarbage();
        long before = MemoryLedger.live(MemoryKind.ACTIVATION);
        MemoryLedger.resetPeaks();
        Generator.runBatch(model, PROMPTS, GenerationConfig.greedy(10));
        long cacheBytes = 2L * 2 * PROMPTS.size() * 2 * (9 + 10 - 1) * 8 * Float.BYTES;   // k and v, layers, B, Hkv, len, D
        assertThat(MemoryLedger.peak(MemoryKind.ACTIVATION) - before).as("the cache was there").isGreaterThanOrEqualTo(cacheBytes);
        MemoryLedger.collectGarbage();
        assertThat(MemoryLedger.live(MemoryKind.ACTIVATION)).as("activation bytes after the batch").isEqualTo(before);
    }

    /**
     * The batched forward against batch-1 decoders fed the same tokens: prompts of different lengths, then a step of
     * two tokens per row (rows at different positions, T &gt; 1), then single-token steps.
     */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void batchedDecodeLogitsMatchBatchOfOneLogits(String name) {
        CausalLM model = model(name);
        int B = PROMPTS.size(), steps = 6, V = model.vocabSize();
        KvCache cache = model.newCache(B, 9 + 2 + steps);
        List<Decoder> alone = new ArrayList<>();
        try {
            for (int i = 0; i < B; i++) {
                Decoder d = new Decoder(model, 9 + 2 + steps);
                alone.add(d);
                int[] p = PROMPTS.get(i);
                double[] want = d.feed(p);
                double[] got = model.logitsNoGrad(Tensor.of(p.clone(), 1, p.length), cache.rows(i)).narrow(1, p.length - 1, 1)
                        .toDoubleArray();
                assertClose(got, want, name + " prefill row " + i);
            }
            assertThat(cache.lengths()).containsExactly(4, 1, 7, 2, 9);
            for (int step = 0; step < steps; step++) {
                int t = step == 0 ? 2 : 1;
                int[] ids = new int[B * t];
                for (int i = 0; i < ids.length; i++) ids[i] = (7 * i + 3 * step + 1) % V;
                Tensor logits = model.logitsNoGrad(Tensor.of(ids.clone(), B, t), cache);   // (B, t, V)
                for (int i = 0; i < B; i++) {
                    double[] want = alone.get(i).feed(Arrays.copyOfRange(ids, i * t, (i + 1) * t));
                    assertClose(logits.narrow(0, i, 1).narrow(1, t - 1, 1).toDoubleArray(), want, name + " step " + step + " row " + i);
                }
            }
            assertThat(cache.length(4)).isEqualTo(9 + 2 + steps - 1);
        } finally {
            cache.release();
            alone.forEach(Decoder::close);
        }
    }

    static void assertClose(double[] got, double[] want, String what) {
        assertThat(got).as(what).hasSameSizeAs(want);
        int worst = 0;
        for (int v = 0; v < want.length; v++) if (Math.abs(got[v] - want[v]) > Math.abs(got[worst] - want[worst])) worst = v;
        assertThat(Math.abs(got[worst] - want[worst])).as("%s, logit %d: batched %s vs alone %s", what, worst, got[worst], want[worst])
                .isLessThanOrEqualTo(1e-5);
    }
}
