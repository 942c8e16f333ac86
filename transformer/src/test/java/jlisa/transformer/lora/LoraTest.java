package jlisa.transformer.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.MatMul;
import jlisa.transformer.io.SafeTensors;
import jlisa.transformer.io.SafeTensorsFile;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.GPT2;
import jlisa.transformer.model.Llama;
import jlisa.transformer.model.Models;
import jlisa.nn.Layers.Conv1D;
import jlisa.nn.Layers.Linear;
import jlisa.nn.Layers.LoraAdapter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoraTest {
    private static final Tensor IDS = Tensor.of(new int[] {1, 5, 9, 2, 7, 3, 0, 4, 11, 60, 33, 8}, 2, 6);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static GPT2 gpt2() { return new GPT2(GPT2.Config.of(64, 32, 32, 2, 4), new Rng(1)); }

    private static Llama llama() { return new Llama(Llama.Config.of(64, 32, 64, 2, 4, 2, 32), new Rng(2)); }

    private static float[] logits(CausalLM m) { return m.logitsNoGrad(IDS, null).toFloatArray(); }

    /** Stands in for training: A and B get random values, so the adapter changes the output. */
    private static void perturb(CausalLM m, long seed) {
        Rng rng = new Rng(seed);
        for (Parameter p : Lora.adapterParameters(m).values()) {
            p.data().copyFrom(Tensor.randn(rng, 0, 0.2, DType.F32, p.data().shape()));
        }
    }

    private static double maxAbs(Tensor t) {
        double m = 0;
        for (double v : t.toDoubleArray()) m = Math.max(m, Math.abs(v));
        return m;
    }

    private static void assertClose(float[] actual, float[] expected, double tol) {
        assertThat(actual).hasSameSizeAs(expected);
        double worst = 0;
        for (int i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        assertThat(worst).as("max |difference|").isLessThanOrEqualTo(tol);
    }

    @Test
    void freshAdapterLeavesLogitsUnchanged() {
        GPT2 g = gpt2();
        float[] before = logits(g);
        Lora.apply(g, LoraConfig.of(4, 8, "c_attn", "c_fc"));
        assertThat(logits(g)).containsExactly(before);

        Llama l = llama();
        float[] lBefore = logits(l);
        Map<String, Parameter> params = Lora.apply(l, LoraConfig.of(4, 8, "q_proj", "v_proj"));
        assertThat(logits(l)).containsExactly(lBefore);
        assertThat(params).hasSize(2 * 2 * 2);
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Tensor t = e.getValue().data();
            if (e.getKey().endsWith("lora_B.weight")) {
                assertThat(t.toFloatArray()).containsOnly(0f);
            } else {   // kaiming-uniform(a=√5): U(−1/√in, 1/√in), in = 32
                assertThat(maxAbs(t)).isLessThanOrEqualTo(1 / Math.sqrt(32)).isGreaterThan(0);
            }
            assertThat(t.storage().kind()).isEqualTo(MemoryKind.PARAMETER);
        }
    }

    @Test
    void adaptedLinearAddsScaledLowRankUpdate() {
        Llama l = llama();
        Lora.apply(l, LoraConfig.of(4, 12, "q_proj"));
        perturb(l, 7);
        Linear q = (Linear) Lora.layers(l).get("model.layers.1.self_attn.q_proj");
        Tensor x = Tensor.randn(new Rng(3), 0, 1, DType.F32, 2, 3, 32);
        float[] y = q.forward(new Variable(x)).data().toFloatArray();
        // y = x·Wᵀ + (alpha/r)·x·Aᵀ·Bᵀ, in float64 by hand; W (out, in)
        double[] w = q.weight.data().toDoubleArray(), xs = x.toDoubleArray();
        double[] lowRank = lowRank(xs, q.lora().orElseThrow(), 6, 32, 32);
        for (int row = 0; row < 6; row++) {
            for (int o = 0; o < 32; o++) {
                double s = 0;
                for (int i = 0; i < 32; i++) s += xs[row * 32 + i] * w[o * 32 + i];
                lowRank[row * 32 + o] += s;
            }
        }
        assertClose(y, toFloats(lowRank), 1e-5);
    }

    @Test
    void adaptedConv1DAddsScaledLowRankUpdate() {
        GPT2 g = gpt2();
        Lora.apply(g, LoraConfig.of(2, 4, "c_fc"));
        perturb(g, 8);
        Conv1D fc = (Conv1D) Lora.layers(g).get("transformer.h.0.mlp.c_fc");
        assertThat(fc.lora().orElseThrow().loraA().data().shape()).containsExactly(2, 32);    // (r, in) as PEFT, whatever W's layout
        assertThat(fc.lora().orElseThrow().loraB().data().shape()).containsExactly(128, 2);   // (out, r)
        fc.bias.data().copyFrom(Tensor.randn(new Rng(4), 0, 1, DType.F32, 128));
        Tensor x = Tensor.randn(new Rng(5), 0, 1, DType.F32, 5, 32);
        float[] y = fc.forward(new Variable(x)).data().toFloatArray();
        double[] w = fc.weight.data().toDoubleArray(), b = fc.bias.data().toDoubleArray(), xs = x.toDoubleArray();  // W (in, out)
        double[] expected = lowRank(xs, fc.lora().orElseThrow(), 5, 32, 128);
        for (int row = 0; row < 5; row++) {
            for (int o = 0; o < 128; o++) {
                double s = b[o];
                for (int i = 0; i < 32; i++) s += xs[row * 32 + i] * w[i * 128 + o];
                expected[row * 128 + o] += s;
            }
        }
        assertClose(y, toFloats(expected), 1e-5);
    }

    /** scaling · x·Aᵀ·Bᵀ for rows × in inputs. */
    private static double[] lowRank(double[] x, LoraAdapter lora, int rows, int in, int out) {
        double[] a = lora.loraA().data().toDoubleArray(), b = lora.loraB().data().toDoubleArray();
        int r = lora.r;
        double[] y = new double[rows * out];
        for (int row = 0; row < rows; row++) {
            double[] h = new double[r];
            for (int k = 0; k < r; k++) for (int i = 0; i < in; i++) h[k] += x[row * in + i] * a[k * in + i];
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int k = 0; k < r; k++) s += h[k] * b[o * r + k];
                y[row * out + o] = lora.scaling * s;
            }
        }
        return y;
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    @Test
    void onlyAdaptersRequireAndReceiveGradients() {
        for (CausalLM m : new CausalLM[] {gpt2(), llama()}) {
            Map<String, Parameter> adapters = Lora.apply(m, LoraConfig.of(4, 8, m instanceof GPT2 ? "c_attn" : "v_proj"));
            perturb(m, 9);
            for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
                boolean adapter = e.getKey().endsWith(".lora_A.weight") || e.getKey().endsWith(".lora_B.weight");
                assertThat(e.getValue().requiresGrad()).as(e.getKey()).isEqualTo(adapter);
                assertThat(adapters.containsKey(e.getKey())).as(e.getKey()).isEqualTo(adapter);
            }
            m.loss(IDS, -100).backward();
            for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
                Tensor grad = e.getValue().grad();
                if (adapters.containsKey(e.getKey())) {
                    assertThat(grad).as(e.getKey()).isNotNull();
                    assertThat(maxAbs(grad)).as(e.getKey()).isGreaterThan(0);
                } else {
                    assertThat(grad).as(e.getKey()).isNull();
                }
            }
        }
    }

    @Test
    void frozenBaseWeightsCostNoWeightGradientMatmul() {
        for (CausalLM m : new CausalLM[] {gpt2(), llama()}) {
            Lora.apply(m, LoraConfig.of(4, 8, m instanceof GPT2 ? "c_attn" : "q_proj"));
            // embeddings trainable in both runs, so every activation needs its gradient and only dW differs
            m.layerGroups().get("embedding").values().forEach(p -> p.requiresGrad(true));
            long frozen = backwardGemms(m);
            m.requiresGrad(true);
            long full = backwardGemms(m);
            assertThat(full - frozen).as(m.getClass().getSimpleName() + ": one dW gemm per base Linear/Conv1D")
                    .isEqualTo(Lora.layers(m).size());
        }
    }

    /** GEMMs of the loss and its backward (the fused LM head + loss computes its gradients in forward). */
    private static long backwardGemms(CausalLM m) {
        m.parameters().forEach(Parameter::zeroGrad);
        long before = MatMul.gemmCalls();
        Variable loss = m.loss(IDS, -100);
        loss.backward();
        return MatMul.gemmCalls() - before;
    }

    @Test
    void mergedForwardEqualsAdapterForwardAndUnmergeRestoresWeights() {
        for (CausalLM m : new CausalLM[] {gpt2(), llama()}) {
            String[] targets = m instanceof GPT2 ? new String[] {"c_attn", "c_proj"} : new String[] {"q_proj", "down_proj"};
            Lora.apply(m, LoraConfig.of(4, 16, targets));
            perturb(m, 10);
            Map<String, float[]> weights = new LinkedHashMap<>();
            Lora.layers(m).forEach((path, layer) -> weights.put(path, weightOf(layer).data().toFloatArray()));
            float[] adapted = logits(m);

            Lora.merge(m);
            assertThat(Lora.adapters(m).values()).allMatch(LoraAdapter::isMerged);
            assertClose(logits(m), adapted, 1e-5);
            Lora.adapters(m).keySet().forEach(path ->
                    assertThat(weightOf(Lora.layers(m).get(path)).data().toFloatArray()).as(path).isNotEqualTo(weights.get(path)));

            Lora.unmerge(m);
            Lora.layers(m).forEach((path, layer) -> assertClose(weightOf(layer).data().toFloatArray(), weights.get(path), 1e-6));
            assertClose(logits(m), adapted, 1e-5);
        }
    }

    @Test
    void mergingIntoAMemoryMappedCheckpointCopiesTheWeightAndLeavesTheFileAlone(@TempDir Path dir) throws Exception {
        Models.save(llama(), dir);
        byte[] file = Files.readAllBytes(dir.resolve(SafeTensors.MODEL_FILE));
        try (CausalLM m = Models.load(dir)) {
            Lora.apply(m, LoraConfig.of(4, 8, "q_proj"));
            perturb(m, 14);
            float[] adapted = logits(m);
            Lora.merge(m);
            assertClose(logits(m), adapted, 1e-5);
            Lora.unmerge(m);
            assertClose(logits(m), adapted, 1e-5);
            Linear q = (Linear) Lora.layers(m).get("model.layers.0.self_attn.q_proj");
            assertThat(q.weight.data().storage().kind()).isEqualTo(MemoryKind.PARAMETER);
        }
        assertThat(Files.readAllBytes(dir.resolve(SafeTensors.MODEL_FILE))).isEqualTo(file);
    }

    private static Parameter weightOf(jlisa.nn.Module layer) {
        return layer instanceof Linear l ? l.weight : ((Conv1D) layer).weight;
    }

    @Test
    void savedAdapterLoadsIntoAFreshBaseWithIdenticalLogitsUnderPeftNames(@TempDir Path dir) throws Exception {
        GPT2 g = gpt2();
        Lora.apply(g, new LoraConfig(4, 8, 0.1, List.of("c_attn"), 3));
        perturb(g, 11);
        g.eval();
        float[] expected = logits(g);
        Lora.save(g, dir.resolve("gpt2"), "gpt2");

        GPT2 fresh = gpt2();
        fresh.eval();
        Map<String, Parameter> loaded = Lora.load(fresh, dir.resolve("gpt2"), true);
        assertThat(logits(fresh)).containsExactly(expected);
        assertThat(loaded.values()).allMatch(Parameter::requiresGrad);
        assertThat(fresh.namedParameters().values().stream().filter(Parameter::requiresGrad)).hasSize(4);

        try (SafeTensorsFile st = SafeTensors.open(dir.resolve("gpt2").resolve(Lora.ADAPTER_FILE))) {
            assertThat(st.names()).containsExactlyInAnyOrder(
                    "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight",
                    "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight",
                    "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight",
                    "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight");
            assertThat(st.info("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight").shape()).containsExactly(96, 4);
        }
        JsonNode cfg = JSON.readTree(dir.resolve("gpt2").resolve(Lora.CONFIG_FILE).toFile());
        assertThat(cfg.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(cfg.get("r").asInt()).isEqualTo(4);
        assertThat(cfg.get("lora_alpha").isIntegralNumber()).isTrue();
        assertThat(cfg.get("lora_alpha").asInt()).isEqualTo(8);
        assertThat(cfg.get("lora_dropout").asDouble()).isEqualTo(0.1);
        assertThat(cfg.get("target_modules").toString()).isEqualTo("[\"c_attn\"]");
        assertThat(cfg.get("fan_in_fan_out").asBoolean()).isTrue();
        assertThat(cfg.get("bias").asText()).isEqualTo("none");
        assertThat(cfg.get("task_type").asText()).isEqualTo("CAUSAL_LM");
        assertThat(cfg.get("base_model_name_or_path").asText()).isEqualTo("gpt2");
        assertThat(cfg.get("inference_mode").asBoolean()).isFalse();
        try (var files = Files.list(dir.resolve("gpt2"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(Lora.ADAPTER_FILE, Lora.CONFIG_FILE);
        }

        Llama l = llama();
        Lora.apply(l, LoraConfig.of(2, 4, "q_proj", "v_proj", "down_proj"));
        perturb(l, 12);
        Lora.adapterParameters(l).values().forEach(p -> p.requiresGrad(false));
        Lora.save(l, dir.resolve("llama"), null);
        Llama freshL = llama();
        Lora.load(freshL, dir.resolve("llama"), false);
        assertThat(logits(freshL)).containsExactly(logits(l));
        assertThat(freshL.namedParameters().values()).noneMatch(Parameter::requiresGrad);
        JsonNode lcfg = JSON.readTree(dir.resolve("llama").resolve(Lora.CONFIG_FILE).toFile());
        assertThat(lcfg.get("target_modules").toString()).isEqualTo("[\"down_proj\",\"q_proj\",\"v_proj\"]");
        assertThat(lcfg.get("fan_in_fan_out").asBoolean()).isFalse();
        assertThat(lcfg.get("inference_mode").asBoolean()).isTrue();
        assertThat(lcfg.get("base_model_name_or_path").isNull()).isTrue();
        assertThat(Lora.readConfig(dir.resolve("llama"))).isEqualTo(new LoraConfig(2, 4, 0, List.of("down_proj", "q_proj", "v_proj"), 0));

        // an adapter loads into a model that already has matching adapters, too
        Llama again = llama();
        Lora.apply(again, LoraConfig.of(2, 4, "q_proj", "v_proj", "down_proj"));
        Lora.load(again, dir.resolve("llama"), true);
        assertThat(logits(again)).containsExactly(logits(l));
    }

    @Test
    void savedTargetsSelectExactlyTheAdaptedLayers(@TempDir Path dir) throws Exception {
        GPT2 g = gpt2();
        Lora.apply(g, LoraConfig.of(2, 2, "attn.c_proj"));   // not mlp.c_proj
        Lora.save(g, dir, "");
        JsonNode cfg = JSON.readTree(dir.resolve(Lora.CONFIG_FILE).toFile());
        assertThat(cfg.get("target_modules").toString()).isEqualTo("[\"attn.c_proj\"]");
        GPT2 fresh = gpt2();
        Lora.load(fresh, dir, false);
        assertThat(Lora.adapters(fresh).keySet()).containsExactly("transformer.h.0.attn.c_proj", "transformer.h.1.attn.c_proj");
    }

    @Test
    void mismatchedAdaptersFailNamingTheProblemAndLeaveTheModelAlone(@TempDir Path dir) throws Exception {
        Llama l = llama();
        Lora.apply(l, LoraConfig.of(8, 16, "q_proj", "v_proj"));
        Path saved = dir.resolve("r8");
        Lora.save(l, saved, null);

        // wrong r: the model's adapters have r=4
        Llama r4 = llama();
        Lora.apply(r4, LoraConfig.of(4, 16, "q_proj", "v_proj"));
        assertThatThrownBy(() -> Lora.load(r4, saved, false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("r=8").hasMessageContaining("r=4");

        // wrong r in the config for the saved tensors: shapes disagree
        Path wrongR = copy(saved, dir.resolve("wrongR"));
        editConfig(wrongR, c -> c.put("r", 4));
        Llama bare = llama();
        assertThatThrownBy(() -> Lora.load(bare, wrongR, false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
                .hasMessageContaining("(8, 32)").hasMessageContaining("(4, 32)");
        assertThat(Lora.adapters(bare)).isEmpty();

        // a missing tensor
        Path missing = copy(saved, dir.resolve("missing"));
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (SafeTensorsFile st = SafeTensors.open(saved.resolve(Lora.ADAPTER_FILE))) {
            for (String n : st.names()) if (!n.contains("layers.1.self_attn.v_proj.lora_B")) tensors.put(n, st.tensor(n, MemoryKind.OTHER).copy());
        }
        SafeTensors.write(missing.resolve(Lora.ADAPTER_FILE), tensors, Map.of("format", "pt"));
        assertThatThrownBy(() -> Lora.load(llama(), missing, false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("missing 1: [base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight]");

        // wrong target: the config names k_proj, the tensors are q_proj and v_proj's
        Path wrongTarget = copy(saved, dir.resolve("wrongTarget"));
        editConfig(wrongTarget, c -> c.putArray("target_modules").add("k_proj"));
        assertThatThrownBy(() -> Lora.load(llama(), wrongTarget, false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("missing 4").hasMessageContaining("k_proj.lora_A.weight")
                .hasMessageContaining("unexpected 8").hasMessageContaining("q_proj.lora_A.weight");

        // a target this architecture does not have
        Path gptTarget = copy(saved, dir.resolve("gptTarget"));
        editConfig(gptTarget, c -> c.putArray("target_modules").add("c_attn"));
        assertThatThrownBy(() -> Lora.load(llama(), gptTarget, false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[c_attn] match no").hasMessageContaining("q_proj");

        // not LoRA, and PEFT options jlisa lacks
        Path ia3 = copy(saved, dir.resolve("ia3"));
        editConfig(ia3, c -> c.put("peft_type", "IA3"));
        assertThatThrownBy(() -> Lora.load(llama(), ia3, false)).hasMessageContaining("peft_type is \"IA3\", expected \"LORA\"");
        Path dora = copy(saved, dir.resolve("dora"));
        editConfig(dora, c -> c.put("use_dora", true));
        assertThatThrownBy(() -> Lora.load(llama(), dora, false)).hasMessageContaining("use_dora");
        assertThatThrownBy(() -> Lora.load(llama(), dir.resolve("nowhere"), false)).hasMessageContaining("no adapter_config.json");
    }

    private static Path copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        for (String f : new String[] {Lora.ADAPTER_FILE, Lora.CONFIG_FILE}) Files.copy(from.resolve(f), to.resolve(f));
        return to;
    }

    private static void editConfig(Path dir, java.util.function.Consumer<ObjectNode> edit) throws Exception {
        ObjectNode c = (ObjectNode) JSON.readTree(dir.resolve(Lora.CONFIG_FILE).toFile());
        edit.accept(c);
        JSON.writeValue(dir.resolve(Lora.CONFIG_FILE).toFile(), c);
    }

    @Test
    void targetsThatMatchNothingAreAClearError() {
        GPT2 g = gpt2();
        assertThatThrownBy(() -> Lora.apply(g, LoraConfig.of(4, 8, "q_proj", "v_proj"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[q_proj, v_proj] match no").hasMessageContaining("[c_attn, c_proj, c_fc]");
        assertThat(g.namedParameters().values()).allMatch(Parameter::requiresGrad);   // nothing was frozen
        assertThatThrownBy(() -> LoraConfig.of(0, 8, "c_attn")).hasMessageContaining("r must be at least 1");
        assertThatThrownBy(() -> LoraConfig.of(4, 8)).hasMessageContaining("target_modules is empty");
    }

    @Test
    void applyingTwiceAndMergingTwiceAreErrors() {
        Llama l = llama();
        Lora.apply(l, LoraConfig.of(4, 8, "q_proj"));
        assertThatThrownBy(() -> Lora.apply(l, LoraConfig.of(4, 8, "v_proj"))).hasMessageContaining("already has adapters");
        LoraAdapter a = Lora.adapters(l).values().iterator().next();
        a.merge();
        assertThatThrownBy(a::merge).hasMessageContaining("already merged");
        assertThatThrownBy(() -> Lora.merge(llama())).hasMessageContaining("no adapters");
    }

    @Test
    void dropoutActsOnlyInTrainingMode() {
        Llama l = llama();
        Lora.apply(l, new LoraConfig(4, 8, 0.5, List.of("q_proj", "v_proj"), 5));
        perturb(l, 13);
        l.eval();
        float[] eval1 = logits(l), eval2 = logits(l);
        assertThat(eval1).containsExactly(eval2);
        l.train(true);
        assertThat(logits(l)).isNotEqualTo(eval1);
        Set<String> names = new TreeSet<>(l.namedParameters().keySet());
        assertThat(names).noneMatch(n -> n.contains("lora_dropout"));
    }
}
