package jlisa.transformer.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;

import jlisa.autograd.GradMode;
import jlisa.autograd.Parameter;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each model's own ledger account, and what a closed model says when it is used. */
class ModelMemoryTest {
    private static final Tensor IDS = Tensor.of(new int[] {1, 5, 9, 2, 7, 3, 0, 4}, 2, 4);

    private static long parameterBytes(CausalLM m) {
        long bytes = 0;
        for (Parameter p : m.namedParameters().values()) bytes += p.data().storage().byteSize();
        return bytes;
    }

    private static Path saved(CausalLM m, Path dir) throws Exception {
        try (m) {
            Models.save(m, dir);
        }
        return dir;
    }

    @Test void twoModelsLoadedInOneJvmEachReportOnlyTheirBytes(@TempDir Path dir) throws Exception {
        Path small = saved(new GPT2(GPT2.Config.of(16, 8, 16, 2, 2), new Rng(1)), dir.resolve("small"));
        Path large = saved(new Llama(Llama.Config.of(32, 16, 24, 3, 4, 2, 8), new Rng(2)), dir.resolve("large"));
        try (CausalLM a = Models.load(small); CausalLM b = Models.load(large)) {
            assertThat(a.memory().name()).isEqualTo(small.toString());
            long aBytes = parameterBytes(a), bBytes = parameterBytes(b);
            assertThat(aBytes).isNotEqualTo(bBytes);
            // The zero placeholders each model was built with were given back when the weights were mapped.
            assertThat(a.memory().live(MemoryKind.PARAMETER)).isEqualTo(aBytes);
            assertThat(b.memory().live(MemoryKind.PARAMETER)).isEqualTo(bBytes);
            assertThat(a.memory().liveTotal()).isEqualTo(aBytes);

            a.memory().resetPeaks();
            b.memory().resetPeaks();
            try (var noGrad = GradMode.disabled()) {
                a.forward(IDS);
            }
            assertThat(a.memory().peakTotal()).isGreaterThan(aBytes);   // its forward's temporaries
            assertThat(b.memory().peakTotal()).isEqualTo(bBytes);       // a's forward is not b's
            assertThat(b.memory().liveTotal()).isEqualTo(bBytes);

            KvCache cache = b.newCache(1, 8);
            assertThat(b.memory().live(MemoryKind.ACTIVATION)).isEqualTo(3 * 2 * (2 * 8 * 4) * 4L);   // layers × k,v × (Hkv · maxLen · D=16/4) × 4 bytes
            cache.close();
            assertThat(b.memory().live(MemoryKind.ACTIVATION)).isZero();
        }
    }

    @Test void aClosedModelsAccountFallsToZero(@TempDir Path dir) throws Exception {
        Path d = saved(new GPT2(GPT2.Config.of(16, 8, 16, 2, 2), new Rng(3)), dir.resolve("m"));
        CausalLM m = Models.load(d);
        long weights = parameterBytes(m);
        m.loss(IDS, -1).backward();   // gradients, too, are given back by close
        assertThat(m.memory().peakTotal()).isGreaterThan(weights);
        m.close();
        assertThat(m.memory().live(MemoryKind.PARAMETER)).isZero();   // at once, not when the collector runs
        for (int i = 0; i < 10 && m.memory().liveTotal() != 0; i++) MemoryLedger.collectGarbage();
        assertThat(m.memory().liveTotal()).isZero();
        m.close();   // idempotent
    }

    @Test void aModelBuiltInMemoryCountsItsParametersInItsAccount() {
        try (CausalLM m = new Llama(Llama.Config.of(16, 16, 24, 2, 4, 2, 8), new Rng(4))) {
            assertThat(m.name()).isEqualTo("llama");
            assertThat(m.memory().live(MemoryKind.PARAMETER)).isEqualTo(parameterBytes(m));
        }
    }

    @Test void closingAModelThatBorrowedAnothersWeightsLeavesThemToTheirOwner() {
        GPT2.Config config = GPT2.Config.of(16, 8, 16, 2, 2);
        try (CausalLM owner = new GPT2(config, new Rng(6))) {
            float[] expected = owner.forward(IDS).data().toFloatArray();
            CausalLM borrower = new GPT2(config, new Rng(7));
            borrower.loadStateDict(owner.stateDict(), true);   // the owner's tensors themselves, not copies
            assertThat(borrower.forward(IDS).data().toFloatArray()).containsExactly(expected);
            borrower.close();
            assertThat(owner.forward(IDS).data().toFloatArray()).containsExactly(expected);
            assertThat(owner.memory().live(MemoryKind.PARAMETER)).isEqualTo(parameterBytes(owner));
        }
    }

    @Test void aClosedModelFailsNamingTheModelAtEveryEntryPoint(@TempDir Path dir) throws Exception {
        Path d = saved(new GPT2(GPT2.Config.of(16, 8, 16, 2, 2), new Rng(5)), dir.resolve("closed-one"));
        CausalLM m = Models.load(d);
        Parameter wte = m.namedParameters().get("transformer.wte.weight");
        m.close();
        for (org.assertj.core.api.ThrowableAssert.ThrowingCallable use : java.util.List.<org.assertj.core.api.ThrowableAssert.ThrowingCallable>of(
                () -> m.forward(IDS), () -> m.loss(IDS, -1), () -> m.logitsNoGrad(IDS, null), () -> m.newCache(1, 4),
                wte::data)) {
            assertThatThrownBy(use).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("model " + d + " was closed").hasMessageContaining("load it again")
                    .hasMessageNotContaining("Already closed");
        }
        assertThat(m.isClosed()).isTrue();
        assertThat(wte.toString()).contains("closed");
    }
}
