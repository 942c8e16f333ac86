package jlisa.transformer.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The LLaMA-based families beyond their PyTorch goldens: saving, HF's defaults, refusals, a training step. */
class FamiliesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"llama3-rope-scaling", "llama-linear-rope", "qwen3-tied", "gemma-tiny", "gemma2-tiny", "gemma3-tiny"})
    void aSavedDirectoryLoadsBackAsTheSameModel(String name, @TempDir Path tmp) throws Exception {
        Path golden = GoldenModelTest.golden(name);
        List<int[]> lines = GoldenModelTest.tokenLines(golden.resolve("tokens.txt"));
        try (CausalLM model = Models.load(golden)) {
            Models.save(model, tmp);
            try (CausalLM again = Models.load(tmp)) {
                assertThat(((Llama) again).config()).isEqualTo(((Llama) model).config());
                assertThat(Scoring.score(again, lines).loss()).isEqualTo(Scoring.score(model, lines).loss());
            }
        }
        var saved = JSON.readTree(tmp.resolve("config.json").toFile());
        var original = JSON.readTree(golden.resolve("config.json").toFile());
        assertThat(saved.get("model_type")).isEqualTo(original.get("model_type"));
        for (String key : List.of("rope_scaling", "layer_types", "sliding_window", "query_pre_attn_scalar")) {
            if (original.hasNonNull(key)) assertThat(saved.get(key)).as(key).isNotNull();
        }
    }

    @Test
    void absentKeysTakeTheDefaultsOfHfConfigClasses() {
        LlamaVariant g2 = LlamaVariant.defaults("gemma2", 4);
        assertThat(g2.attnSoftcap()).isEqualTo(50);
        assertThat(g2.finalSoftcap()).isEqualTo(30);
        assertThat(g2.queryPreAttnScalar()).isEqualTo(256);
        assertThat(g2.slidingWindow()).isEqualTo(4096);
        assertThat(List.of(g2.sliding(0), g2.sliding(1), g2.sliding(2), g2.sliding(3))).containsExactly(true, false, true, false);
        LlamaVariant g3 = LlamaVariant.defaults("gemma3_text", 12);
        assertThat(g3.attnSoftcap()).isZero();
        assertThat(g3.localRopeTheta()).isEqualTo(10000.0);
        assertThat(g3.sliding(4)).isTrue();
        assertThat(g3.sliding(5)).as("every sixth layer attends globally").isFalse();
        assertThat(g3.sliding(11)).isFalse();
        assertThat(LlamaVariant.defaults("qwen3", 2).qkNorm()).isTrue();
    }

    @Test
    void aNullSoftcapTurnsItOff() throws Exception {
        ObjectNode c = config("gemma2-tiny");
        c.putNull("attn_logit_softcapping");
        c.putNull("final_logit_softcapping");
        Llama.Config parsed = Llama.Config.from(ConfigJson.parse(c.toString(), "test"));
        assertThat(parsed.variant().attnSoftcap()).isZero();
        assertThat(parsed.variant().finalSoftcap()).isZero();
    }

    @Test
    void unsupportedVariantsAreRefusedByName(@TempDir Path tmp) throws Exception {
        assertThatThrownBy(() -> loadWith("llama3-rope-scaling", c -> c.putObject("rope_scaling")
                .put("rope_type", "yarn").put("factor", 4.0), tmp.resolve("yarn")))
                .hasMessageContaining("rope_scaling type 'yarn' is not supported");
        assertThatThrownBy(() -> loadWith("qwen3-tied", c -> c.put("use_sliding_window", true), tmp.resolve("sw")))
                .hasMessageContaining("use_sliding_window=true is not supported for qwen3");
        assertThatThrownBy(() -> loadWith("gemma-tiny", c -> c.put("model_type", "gemma3"), tmp.resolve("mm")))
                .hasMessageContaining("multimodal").hasMessageContaining("gemma3_text");
        assertThatThrownBy(() -> loadWith("gemma-tiny", c -> c.put("hidden_activation", "relu"), tmp.resolve("act")))
                .hasMessageContaining("hidden_activation 'relu' is not gelu_pytorch_tanh");
        assertThatThrownBy(() -> loadWith("gemma2-tiny", c -> c.putArray("layer_types").add("sliding_attention"), tmp.resolve("lt")))
                .hasMessageContaining("layer_types must list one type per layer (3)");
        assertThatThrownBy(() -> loadWith("llama-gqa", c -> c.put("model_type", "phi3"), tmp.resolve("phi")))
                .hasMessageContaining("model_type 'phi3' is not supported").hasMessageContaining("gemma3_text");
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma", "gemma2", "gemma3_text"})
    void aFreshModelOfEachFamilyTrainsAStep(String type) {
        LlamaVariant v = LlamaVariant.defaults(type, 2);
        Llama.Config c = new Llama.Config(64, 32, 48, 2, 4, 2, 8, 1e-6, 10000.0, 64, true, false, 0.02, v);
        try (Llama model = new Llama(c, new Rng(1))) {
            model.train(true);
            Rng rng = new Rng(2);
            int[] ids = new int[2 * 9];
            for (int i = 0; i < ids.length; i++) ids[i] = rng.nextInt(64);
            Tensor in = Tensor.of(ids, 2, 9).narrow(1, 0, 8).contiguous(), target = Tensor.of(ids, 2, 9).narrow(1, 1, 8).contiguous();
            var loss = model.loss(in, target, -100);
            assertThat(loss.data().item()).isBetween(Math.log(64) - 1, Math.log(64) + 1);
            loss.backward();
            model.namedParameters().forEach((name, p) ->
                    assertThat(p.grad()).as("gradient of %s", name).isNotNull());
            assertThat(model.namedParameters().keySet()).allMatch(n -> !n.contains("norm") || n.endsWith(".weight"));
            if (v.qkNorm()) assertThat(model.namedParameters()).containsKey("model.layers.1.self_attn.k_norm.weight");
            if (v.sandwichNorms()) assertThat(model.namedParameters()).containsKey("model.layers.0.post_feedforward_layernorm.weight");
            assertThat(model.checkpointDType()).isEqualTo(DType.F32);
        }
    }

    private static ObjectNode config(String golden) throws Exception {
        return (ObjectNode) JSON.readTree(GoldenModelTest.golden(golden).resolve("config.json").toFile());
    }

    private static void loadWith(String golden, java.util.function.Consumer<ObjectNode> change, Path dir) throws Exception {
        ObjectNode c = config(golden);
        change.accept(c);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), c.toString());
        Files.copy(GoldenModelTest.golden(golden).resolve("model.safetensors"), dir.resolve("model.safetensors"));
        Models.load(dir).close();
    }
}
