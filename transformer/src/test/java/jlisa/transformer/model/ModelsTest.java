package jlisa.transformer.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;

import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.transformer.io.SafeTensors;
import jlisa.transformer.io.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelsTest {
    private static final Tensor IDS = Tensor.of(new int[] {1, 5, 9, 2, 7, 3, 0, 4}, 2, 4);

    @Test
    void savedModelsLoadBackWithIdenticalLogitsAndHfNames(@TempDir Path dir) throws Exception {
        CausalLM[] models = {
            new GPT2(GPT2.Config.of(16, 8, 16, 2, 2), new Rng(1)),
            new Llama(Llama.Config.of(16, 16, 24, 2, 4, 2, 8), new Rng(2))};
        for (CausalLM m : models) {
            Path d = dir.resolve(m.getClass().getSimpleName());
            Models.save(m, d);
            try (CausalLM back = Models.load(d); TensorSource file = SafeTensors.openModel(d)) {
                assertThat(back.forward(IDS).data().toFloatArray()).containsExactly(m.forward(IDS).data().toFloatArray());
                assertThat(file.names()).containsExactlyInAnyOrderElementsOf(m.namedParameters().keySet());
            }
            assertThat(Files.list(d).map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("config.json", "model.safetensors");
            if (java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
                // config.json is as readable as any new file (it was 0600, from Files.createTempFile)
                Path plain = Files.write(dir.resolve(m.getClass().getSimpleName() + ".plain"), new byte[] {1});
                assertThat(Files.getPosixFilePermissions(d.resolve("config.json"))).isEqualTo(Files.getPosixFilePermissions(plain));
            }
        }
        try (TensorSource gpt2 = SafeTensors.openModel(dir.resolve("GPT2"))) {
            assertThat(gpt2.names()).contains("transformer.h.1.attn.c_attn.weight", "transformer.wte.weight")
                    .doesNotContain("lm_head.weight");
            assertThat(gpt2.info("transformer.h.0.mlp.c_fc.weight").shape()).containsExactly(16, 64);   // Conv1D: in × out
        }
        try (TensorSource llama = SafeTensors.openModel(dir.resolve("Llama"))) {
            assertThat(llama.names()).contains("model.layers.0.self_attn.k_proj.weight", "lm_head.weight", "model.norm.weight");
            assertThat(llama.info("model.layers.0.self_attn.k_proj.weight").shape()).containsExactly(8, 16);  // GQA: 2 kv heads
        }
    }

    @Test
    void loadedF32WeightsAreMappedNotCopied() throws Exception {
        try (CausalLM m = Models.load(GoldenModelTest.golden("llama-gqa"))) {
            Parameter q = m.namedParameters().get("model.layers.0.self_attn.q_proj.weight");
            assertThat(q.data().storage()).isInstanceOf(jlisa.tensor.SegmentStorage.class);
            assertThat(q.data().storage().kind()).isEqualTo(MemoryKind.PARAMETER);
        }
    }

    @Test
    void bf16AndShardedCheckpointsLoadAndScoreLikeTheF32One(@TempDir Path dir) throws Exception {
        Path golden = GoldenModelTest.golden("llama-gqa");
        java.util.List<int[]> lines = GoldenModelTest.tokenLines(golden.resolve("tokens.txt"));
        double f32;
        java.util.Map<String, Tensor> state = new java.util.TreeMap<>();
        try (CausalLM m = Models.load(golden)) {
            f32 = Scoring.score(m, lines).loss();
            m.stateDict().forEach((k, v) -> state.put(k, v.copy()));
        }
        // BF16: weights stay bf16 in the mapped file and are widened by the kernels as they are read
        Path bf = Files.createDirectories(dir.resolve("bf16"));
        Files.copy(golden.resolve("config.json"), bf.resolve("config.json"));
        java.util.Map<String, Tensor> halves = new java.util.TreeMap<>();
        state.forEach((k, v) -> halves.put(k, v.to(jlisa.tensor.DType.BF16)));
        SafeTensors.write(bf.resolve("model.safetensors"), halves, java.util.Map.of());
        try (CausalLM m = Models.load(bf)) {
            assertThat(m.namedParameters().get("model.layers.1.mlp.up_proj.weight").data().dtype()).isEqualTo(jlisa.tensor.DType.BF16);
            assertThat(Math.abs(Scoring.score(m, lines).loss() - f32) / f32).isLessThan(2e-2);
        }
        // two shards and an index, as HF writes large checkpoints
        Path sh = Files.createDirectories(dir.resolve("sharded"));
        Files.copy(golden.resolve("config.json"), sh.resolve("config.json"));
        java.util.Map<String, Tensor> a = new java.util.TreeMap<>(), b = new java.util.TreeMap<>();
        StringBuilder map = new StringBuilder();
        state.forEach((k, v) -> {
            boolean first = k.contains("layers.0") || k.contains("embed");
            (first ? a : b).put(k, v);
            map.append(map.length() == 0 ? "" : ",").append('"').append(k).append("\":\"")
                    .append(first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors").append('"');
        });
        SafeTensors.write(sh.resolve("model-00001-of-00002.safetensors"), a, java.util.Map.of());
        SafeTensors.write(sh.resolve("model-00002-of-00002.safetensors"), b, java.util.Map.of());
        Files.writeString(sh.resolve("model.safetensors.index.json"), "{\"metadata\":{},\"weight_map\":{" + map + "}}");
        try (CausalLM m = Models.load(sh)) {
            assertThat(Scoring.score(m, lines).loss()).isEqualTo(f32);
        }
    }

    @Test
    void checkpointProblemsNameWhatIsWrong(@TempDir Path dir) throws Exception {
        Llama m = new Llama(Llama.Config.of(16, 16, 24, 1, 4, 2, 8), new Rng(3));
        Models.save(m, dir);
        // an extra tensor and a missing one
        java.util.Map<String, Tensor> t = new java.util.TreeMap<>(m.stateDict());
        t.remove("model.norm.weight");
        t.put("model.layers.0.extra.weight", Tensor.zeros(2));
        SafeTensors.write(dir.resolve("model.safetensors"), t, java.util.Map.of());
        assertThatThrownBy(() -> Models.load(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("missing 1: [model.norm.weight]").hasMessageContaining("unexpected 1: [model.layers.0.extra.weight]");
        // a wrong shape
        t = new java.util.TreeMap<>(m.stateDict());
        t.put("model.norm.weight", Tensor.zeros(17));
        SafeTensors.write(dir.resolve("model.safetensors"), t, java.util.Map.of());
        assertThatThrownBy(() -> Models.load(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("model.norm.weight").hasMessageContaining("[17]").hasMessageContaining("[16]");
        // an inconsistent config
        Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"llama\",\"vocab_size\":16,\"hidden_size\":18,"
                + "\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":4}");
        assertThatThrownBy(() -> Models.load(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("hidden_size 18").hasMessageContaining("num_attention_heads 4");
        Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"llama\",\"vocab_size\":16}");
        assertThatThrownBy(() -> Models.load(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'hidden_size' is missing");
        Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"bert\"}");
        assertThatThrownBy(() -> Models.load(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'bert' is not supported");
        Files.writeString(dir.resolve("config.json"), "{not json");
        assertThatThrownBy(() -> Models.load(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("config.json");
    }

    @Test
    void layerGroupsCoverEveryParameterOnceInModelOrder() {
        Llama m = new Llama(Llama.Config.of(16, 16, 24, 3, 4, 2, 8), new Rng(4));
        var groups = m.layerGroups();
        assertThat(groups.keySet()).containsExactly("embedding", "layer.0", "layer.1", "layer.2", "head");
        assertThat(groups.get("embedding")).containsOnlyKeys("model.embed_tokens.weight");
        assertThat(groups.get("head")).containsOnlyKeys("model.norm.weight", "lm_head.weight");
        assertThat(groups.get("layer.1")).hasSize(9).containsKey("model.layers.1.mlp.down_proj.weight");
        long total = groups.values().stream().mapToLong(java.util.Map::size).sum();
        assertThat(total).isEqualTo(m.namedParameters().size());
        GPT2 g = new GPT2(GPT2.Config.preset("tiny"), new Rng(5));
        assertThat(g.layerGroups().get("embedding")).containsOnlyKeys("transformer.wte.weight", "transformer.wpe.weight");
        assertThat(g.layerGroups().get("head")).containsOnlyKeys("transformer.ln_f.weight", "transformer.ln_f.bias");
    }

    @Test
    void trainingStepReachesEveryParameterAndParametersAreCountedInTheLedger() {
        long before = MemoryLedger.live(MemoryKind.PARAMETER);
        GPT2 m = new GPT2(GPT2.Config.of(32, 16, 16, 2, 2), new Rng(6));
        assertThat(MemoryLedger.live(MemoryKind.PARAMETER) - before).isGreaterThanOrEqualTo(4L * m.parameterCount());
        Variable loss = m.loss(Tensor.of(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2, 5), -100);
        loss.backward();
        for (var e : m.namedParameters().entrySet()) assertThat(e.getValue().grad()).as(e.getKey()).isNotNull();
        assertThat(loss.data().item()).isBetween(2.0, 5.0);   // ≈ ln 32 at init
    }

    @Test
    void badIdsAreRejectedWithShapes() {
        GPT2 m = new GPT2(GPT2.Config.of(32, 4, 16, 1, 2), new Rng(7));
        assertThatThrownBy(() -> m.forward(Tensor.zeros(2, 3))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("I32").hasMessageContaining("(2, 3)");
        assertThatThrownBy(() -> m.forward(Tensor.of(new int[5], 1, 5))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exceed");
        assertThatThrownBy(() -> m.forward(Tensor.of(new int[] {40}, 1, 1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("40");
    }
}
