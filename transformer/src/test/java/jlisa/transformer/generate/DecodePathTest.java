package jlisa.transformer.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;

import jlisa.autograd.Parameter;
import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Tensor;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.GPT2;
import jlisa.transformer.model.KvCache;
import jlisa.transformer.model.Llama;
import jlisa.transformer.model.Models;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Decoding as generation runs it: the LM head on the last position only, weights read where they are mapped, BF16
 * widened on the fly.
 */
class DecodePathTest {
    private static final int[] PROMPT = {5, 17, 3, 42, 8, 11, 0, 9, 31};

    private static void assertClose(double[] got, double[] want, double tol, String what) {
        assertThat(got).hasSameSizeAs(want);
        for (int i = 0; i < want.length; i++) assertThat(got[i]).as("%s, logit %d", what, i).isCloseTo(want[i], within(tol));
    }

    @Test void lastLogitsAreTheFullLogitsLastRowAndTheCacheAdvancesTheSame() {
        try (CausalLM model = KvCacheGenerationTest.model("llama-gqa-random")) {
            Tensor ids = Tensor.of(new int[] {5, 17, 3, 42, 8, 11, 0, 9, 1, 2, 3, 4}, 2, 6);
            KvCache a = model.newCache(2, 10), b = model.newCache(2, 10);
            try (a; b) {
                Tensor all = model.logitsNoGrad(ids, a);               // (2, 6, V)
                Tensor last = model.lastLogitsNoGrad(ids, b);          // (2, V)
                assertThat(last.shape()).containsExactly(2, model.vocabSize());
                for (int r = 0; r < 2; r++) {
                    assertClose(last.narrow(0, r, 1).toDoubleArray(), all.narrow(0, r, 1).narrow(1, 5, 1).toDoubleArray(),
                            1e-5, "row " + r);
                }
                assertThat(b.lengths()).containsExactly(a.lengths());
                // one more step through each cache agrees as well: the caches hold the same keys and values
                Tensor next = Tensor.of(new int[] {7, 13}, 2, 1);
                assertClose(model.lastLogitsNoGrad(next, b).toDoubleArray(), model.logitsNoGrad(next, a).toDoubleArray(),
                        1e-5, "the step after");
            }
        }
    }

    @Test void weightBytesPerTokenCountsTheHeadButNotTheLookupTables() {
        Llama.Config untied = Llama.Config.of(100, 16, 24, 2, 4, 2, 64);
        try (Llama m = new Llama(untied, new Rng(1))) {
            long embedding = 100L * 16 * 4;
            assertThat(m.weightBytes()).isEqualTo(m.parameterCount() * 4L);
            assertThat(m.weightBytesPerToken()).isEqualTo(m.weightBytes() - embedding);
        }
        try (GPT2 g = new GPT2(GPT2.Config.of(100, 64, 16, 2, 4), new Rng(1))) {   // tied: the table is the head
            long positions = 64L * 16 * 4;
            assertThat(g.weightBytesPerToken()).isEqualTo(g.weightBytes() - positions);
        }
    }

    /**
     * A BF16 checkpoint decodes, read in place and widened as loaded, to the logits of the same (rounded) weights
     * stored as F32, within float rounding: widening is exact, so only the order of the F32 sums could differ.
     */
    @Test void bf16WeightsDecodeAsTheirF32Widening(@TempDir Path dir) throws Exception {
        for (String family : new String[] {"llama", "gpt2"}) {
            CausalLM built = family.equals("llama") ? KvCacheGenerationTest.model("llama-gqa-random") : Models4Test.gpt2(64);
            Path bf16 = dir.resolve(family + "-bf16"), f32 = dir.resolve(family + "-f32");
            Models.save(built, bf16, DType.BF16);
            built.close();
            try (CausalLM half = Models.load(bf16)) {
                Models.save(half, f32, DType.F32);
            }
            try (CausalLM half = Models.load(bf16); CausalLM full = Models.load(f32)) {
                for (Parameter p : half.namedParameters().values()) {
                    if (p.data().dim() == 2) {   // matrices stay in the mapped file as BF16: nothing widened ahead of time
                        assertThat(p.data().storage()).isInstanceOf(SegmentStorage.class);
                        assertThat(p.data().dtype()).isEqualTo(DType.BF16);
                    }
                }
                try (Decoder h = new Decoder(half, 32); Decoder f = new Decoder(full, 32)) {
                    double[] lh = h.feed(PROMPT), lf = f.feed(PROMPT);
                    assertClose(lh, lf, 1e-5, family + " prefill");
                    for (int step = 0; step < 6; step++) {
                        int token = Sampler.argmax(lf);
                        assertThat(Sampler.argmax(lh)).as("%s step %d", family, step).isEqualTo(token);
                        lh = h.feed(token);
                        lf = f.feed(token);
                        assertClose(lh, lf, 1e-5, family + " decode step " + step);
                    }
                }
            }
        }
    }
}
