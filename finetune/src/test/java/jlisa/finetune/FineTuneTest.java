package jlisa.finetune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jlisa.optim.Lisa;
import jlisa.optim.data.Example;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.transformer.lora.Lora;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Llama;
import jlisa.transformer.model.Models;

class FineTuneTest {

    private static FineTune.Builder base(Path model, Path data) {
        return FineTune.builder().model(model).jsonl(data).learningRate(2e-3).steps(12).batchSize(4).seed(1).logEvery(0);
    }

    @Test
    void eachMethodLowersTheLossAndLisaTrainsFewerParametersThanFull(@TempDir Path tmp) throws IOException {
        Path model = TinyModels.llamaDirectory(tmp.resolve("model"));
        Path data = TinyModels.reverseJsonl(tmp.resolve("train.jsonl"), 48);
        FineTuneResult full = base(model, data).method(Method.full()).build().run();
        FineTuneResult lora = base(model, data).method(Method.lora().withRank(4)).build().run();
        FineTuneResult lisa = base(model, data).method(Method.lisa().withGamma(1).withPeriod(4)).build().run();
        for (FineTuneResult r : List.of(full, lora, lisa)) {
            assertThat(r.losses()).as(r.method()).hasSize(12);
            double first = (r.losses().get(0) + r.losses().get(1)) / 2, last = (r.losses().get(10) + r.losses().get(11)) / 2;
            assertThat(last).as(r.method() + " loss falls").isLessThan(first);
            assertThat(r.evalLoss()).isEmpty();
            assertThat(r.savedTo()).isEmpty();
        }
        assertThat(full.method()).isEqualTo("full");
        assertThat(lisa.trainableParameters()).isLessThan(full.trainableParameters());
        assertThat(lora.trainableParameters()).isLessThan(lisa.trainableParameters());
    }

    @Test
    void progressCountsEveryStepWithAnEtaAndEvalLossComesWithAnEvalSplit(@TempDir Path tmp) throws IOException {
        Path model = TinyModels.llamaDirectory(tmp.resolve("model"));
        Path data = TinyModels.reverseJsonl(tmp.resolve("train.jsonl"), 40);
        List<Progress> seen = new ArrayList<>();
        List<long[]> started = new ArrayList<>();
        FineTuneResult r = base(model, data).steps(5).evalFraction(0.25).onProgress(seen::add)
                .listener(new FineTuneListener() {
                    @Override public void onStart(long startStep, long totalSteps) { started.add(new long[] {startStep, totalSteps}); }
                }).build().run();
        assertThat(started).singleElement().satisfies(s -> assertThat(s).containsExactly(0, 5));
        assertThat(seen).extracting(Progress::step).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(seen.getLast().eta()).isZero();
        assertThat(seen.getLast().fraction()).isEqualTo(1.0);
        assertThat(seen).extracting(Progress::loss).containsExactlyElementsOf(r.losses());
        assertThat(r.evalLoss()).isPresent();
        assertThat(r.evalLoss().getAsDouble()).isPositive().isFinite();
    }

    @Test
    void resumeAfterAStopGivesTheSameLosses(@TempDir Path tmp) throws IOException {
        Path model = TinyModels.llamaDirectory(tmp.resolve("model"));
        Path data = TinyModels.reverseJsonl(tmp.resolve("train.jsonl"), 40);
        Method lisa = Method.lisa().withGamma(2).withPeriod(3).withPolicy(Lisa.StatePolicy.PARK);
        FineTuneResult straight = base(model, data).method(lisa).steps(8).build().run();

        Path ck = tmp.resolve("ck");
        assertThatThrownBy(() -> base(model, data).method(lisa).steps(8).checkpoints(ck, 4).onProgress(p -> {
            if (p.step() == 5) throw new IllegalStateException("killed after step 5");
        }).build().run()).hasMessage("killed after step 5");

        List<Long> resumedAt = new ArrayList<>();
        FineTuneResult resumed = base(model, data).method(lisa).steps(8).checkpoints(ck, 4).resume(true)
                .listener(new FineTuneListener() {
                    @Override public void onResume(long step, Path dir) { resumedAt.add(step); }
                }).build().run();
        assertThat(resumedAt).containsExactly(4L);
        assertThat(resumed.startStep()).isEqualTo(4);
        assertThat(resumed.losses()).containsExactlyElementsOf(straight.losses().subList(4, 8));
    }

    @Test
    void loraSavesAPeftAdapterAndAMergedModelThatScoresTheSame(@TempDir Path tmp) throws IOException {
        Path model = TinyModels.llamaDirectory(tmp.resolve("model"));
        Path data = TinyModels.reverseJsonl(tmp.resolve("train.jsonl"), 40);
        Path adapter = tmp.resolve("adapter"), merged = tmp.resolve("merged");
        FineTuneResult r = base(model, data).method(Method.lora().withRank(4).withTargets("q_proj", "v_proj")).steps(6)
                .saveTo(adapter).saveMergedTo(merged).build().run();
        assertThat(r.savedTo()).contains(adapter);
        assertThat(adapter.resolve(Lora.CONFIG_FILE)).isRegularFile();
        assertThat(adapter.resolve(Lora.ADAPTER_FILE)).isRegularFile();
        assertThat(Files.readString(adapter.resolve(Lora.CONFIG_FILE))).contains("q_proj").contains("v_proj");

        Example probe = Example.of(97, 98, 99, 61, 99, 98, 97);
        double viaAdapter, viaMerged;
        try (CausalLM lm = Models.load(model)) {
            Lora.load(lm, adapter, false);
            viaAdapter = score(lm, probe);
        }
        try (CausalLM lm = Models.load(merged)) {
            viaMerged = score(lm, probe);
        }
        assertThat(viaMerged).isCloseTo(viaAdapter, org.assertj.core.data.Offset.offset(1e-4));
    }

    @Test
    void aSavedFullFineTuneCarriesTheSourceDirectorysTokenizerAndGenerationFiles(@TempDir Path tmp) throws IOException {
        Path model = TinyModels.llamaDirectory(tmp.resolve("model"));
        Files.writeString(model.resolve("generation_config.json"), "{\"max_new_tokens\": 7}");
        Files.writeString(model.resolve("tokenizer_config.json"), "{\"add_bos_token\": false}");
        Path data = TinyModels.reverseJsonl(tmp.resolve("train.jsonl"), 16);
        Path out = tmp.resolve("out");
        base(model, data).steps(2).saveTo(out).build().run();
        assertThat(out.resolve("config.json")).isRegularFile();
        assertThat(out.resolve("generation_config.json")).hasSameTextualContentAs(model.resolve("generation_config.json"));
        assertThat(out.resolve("tokenizer_config.json")).hasSameTextualContentAs(model.resolve("tokenizer_config.json"));
    }

    private static double score(CausalLM lm, Example e) {
        lm.eval();
        try (var noGrad = jlisa.autograd.GradMode.disabled()) {
            int n = e.ids().length;
            return lm.loss(jlisa.tensor.Tensor.of(e.ids(), 1, n), -100).data().item();
        }
    }

    @Test
    void aModelTheCallerOwnsStaysOpenAndHoldsNoGradientsOrStateAfterwards(@TempDir Path tmp) throws IOException {
        Path data = TinyModels.reverseJsonl(tmp.resolve("train.jsonl"), 40);
        try (Llama lm = new Llama(Llama.Config.preset("llama-tiny"), new Rng(3))) {
            long stateBefore = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE);
            FineTuneResult r = FineTune.builder().jsonl(data).steps(3).batchSize(4).logEvery(0).method(Method.full())
                    .build().run(lm);
            assertThat(r.losses()).hasSize(3);
            assertThat(lm.namedParameters().values()).allSatisfy(p -> assertThat(p.grad()).isNull());
            assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE)).isEqualTo(stateBefore);
            assertThat(lm.parameterCount()).isPositive();   // still usable
        }
    }

    @Test
    void settingsThatCannotWorkAreRefusedWithWhatWasExpected(@TempDir Path tmp) throws IOException {
        assertThatThrownBy(() -> FineTune.builder().build()).hasMessageContaining("no data");
        assertThatThrownBy(() -> FineTune.builder().tokens(tmp.resolve("t")).resume(true).build())
                .hasMessageContaining("resume needs checkpoints");
        assertThatThrownBy(() -> FineTune.builder().tokens(tmp.resolve("t")).saveMergedTo(tmp).build())
                .hasMessageContaining("saveMergedTo is for LoRA");
        assertThatThrownBy(() -> FineTune.builder().learningRate(Double.NaN)).hasMessageContaining("learning rate");
        assertThatThrownBy(() -> FineTune.builder().evalFraction(1.0)).hasMessageContaining("[0, 1)");
        assertThatThrownBy(() -> FineTune.builder().tokens(tmp.resolve("t")).build().run())
                .hasMessageContaining("no model directory");
        assertThatThrownBy(() -> Method.lisa().withGamma(0)).hasMessageContaining("gamma must be >= 1");

        Path model = TinyModels.llamaDirectory(tmp.resolve("model"));
        Path tokens = Files.writeString(tmp.resolve("tokens.txt"), "1 2 3 999\n");
        assertThatThrownBy(() -> FineTune.builder().model(model).tokens(tokens).build().run())
                .hasMessageContaining("token id 999 is outside the model's vocabulary [0, 256)");
        Path weights = Files.writeString(tmp.resolve("w.jsonl"), "{\"prompt\": \"ab\", \"response\": \"ba\"}\n".repeat(8));
        assertThatThrownBy(() -> FineTune.builder().model(model).jsonl(weights).steps(1)
                .method(Method.lisa().withSampling(new Lisa.Sampling.Weights(new double[] {1, 2}))).build().run())
                .hasMessageContaining("2 layer probabilities");
    }
}
