package jlisa.transformer.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What sets the families built on LLaMA apart, read from their config.json as HF's modeling files read it; LLaMA's
 * own values are all off. One record of switches rather than a class per family: each switch is a few lines in
 * {@link Llama}, and a family is a choice of them.
 *
 * @param modelType          config.json's model_type: llama, mistral, qwen2, qwen3, gemma, gemma2 or gemma3_text
 * @param ropeScaling        rope_scaling (linear, llama3); for Gemma-3 on its full-attention layers only
 * @param qkNorm             an RMSNorm over each head of q and k before RoPE (Qwen3, Gemma-3: q_norm, k_norm)
 * @param gemmaNorms         Gemma's norms, which scale by 1 + weight, and its embeddings scaled by √hidden
 * @param activation         the MLP's gate activation: silu (SwiGLU) or gelu_pytorch_tanh (Gemma's GeGLU)
 * @param sandwichNorms      norms after attention and after the MLP as well as before (Gemma-2, Gemma-3)
 * @param queryPreAttnScalar attention scale 1/√queryPreAttnScalar (Gemma-2, -3); 0 means 1/√head_dim
 * @param attnSoftcap        attention scores soft-capped as c·tanh(s/c) (Gemma-2: 50); 0 means off
 * @param finalSoftcap       logits soft-capped the same way (Gemma-2: 30); 0 means off
 * @param slidingWindow      the window of the sliding-attention layers: a query sees its last W keys, itself included
 * @param layerTypes         per layer "sliding_attention" or "full_attention" (HF's layer_types); empty means all full
 * @param localRopeTheta     the RoPE base of the sliding layers (Gemma-3's rope_local_base_freq); 0 means rope_theta
 *
 * <p>Immutable and thread-safe.
 */
public record LlamaVariant(String modelType, Optional<RopeScaling> ropeScaling, boolean qkNorm, boolean gemmaNorms,
                           String activation, boolean sandwichNorms, double queryPreAttnScalar, double attnSoftcap,
                           double finalSoftcap, int slidingWindow, List<String> layerTypes, double localRopeTheta) {

    /** The model types this record describes. */
    public static final List<String> TYPES = List.of("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text");

    /** HF's class for each model type (config.json's architectures). */
    static final Map<String, String> ARCHITECTURES = Map.of("llama", "LlamaForCausalLM", "mistral", "MistralForCausalLM",
            "qwen2", "Qwen2ForCausalLM", "qwen3", "Qwen3ForCausalLM", "gemma", "GemmaForCausalLM",
            "gemma2", "Gemma2ForCausalLM", "gemma3_text", "Gemma3ForCausalLM");

    static final String SLIDING = "sliding_attention", FULL = "full_attention";

    public LlamaVariant {
        if (!TYPES.contains(modelType)) throw new IllegalArgumentException("model_type '" + modelType + "' is not one of " + TYPES);
        if (!activation.equals("silu") && !activation.equals("gelu_pytorch_tanh")) {
            throw new IllegalArgumentException(modelType + ": activation '" + activation + "' is not silu or gelu_pytorch_tanh");
        }
        if (queryPreAttnScalar < 0 || attnSoftcap < 0 || finalSoftcap < 0 || slidingWindow < 0 || localRopeTheta < 0) {
            throw new IllegalArgumentException(modelType + ": query_pre_attn_scalar, soft-caps, sliding_window and "
                    + "rope_local_base_freq must not be negative");
        }
        layerTypes = List.copyOf(layerTypes);
        for (String t : layerTypes) {
            if (!t.equals(SLIDING) && !t.equals(FULL)) {
                throw new IllegalArgumentException(modelType + ": layer type '" + t + "' is not " + SLIDING + " or " + FULL);
            }
        }
        if (layerTypes.contains(SLIDING) && slidingWindow == 0) {
            throw new IllegalArgumentException(modelType + ": sliding_attention layers need a sliding_window ≥ 1");
        }
    }

    /** Plain LLaMA switches under model type {@code type} (llama, mistral or qwen2). */
    public static LlamaVariant llama(String type) {
        return new LlamaVariant(type, Optional.empty(), false, false, "silu", false, 0, 0, 0, 0, List.of(), 0);
    }

    /** This variant with {@code rope_scaling}. */
    public LlamaVariant withRopeScaling(RopeScaling scaling) {
        return new LlamaVariant(modelType, Optional.of(scaling), qkNorm, gemmaNorms, activation, sandwichNorms,
                queryPreAttnScalar, attnSoftcap, finalSoftcap, slidingWindow, layerTypes, localRopeTheta);
    }

    /** True when layer {@code layer} attends over a sliding window. */
    public boolean sliding(int layer) { return !layerTypes.isEmpty() && layerTypes.get(layer).equals(SLIDING); }

    /** The switches of a config.json of model type {@code type}. */
    static LlamaVariant from(String type, ConfigJson c, int layers) {
        Optional<RopeScaling> scaling = c.has("rope_scaling") ? RopeScaling.from(c.node("rope_scaling"), c.source()) : Optional.empty();
        boolean gemma = type.startsWith("gemma");
        if (type.equals("qwen2") || type.equals("qwen3")) {
            if (c.bool("use_sliding_window", false)) {
                throw new IllegalArgumentException(c.source() + ": use_sliding_window=true is not supported for " + type);
            }
        }
        String activation;
        if (gemma) {   // HF's Gemma uses the tanh GELU whatever older configs' hidden_act says, unless hidden_activation is set
            activation = c.string("hidden_activation", "gelu_pytorch_tanh");
            if (activation.equals("gelu_tanh")) activation = "gelu_pytorch_tanh";
            if (!activation.equals("gelu_pytorch_tanh")) {
                throw new IllegalArgumentException(c.source() + ": hidden_activation '" + activation + "' is not gelu_pytorch_tanh");
            }
        } else {
            activation = c.string("hidden_act", "silu");
            if (!activation.equals("silu")) throw new IllegalArgumentException(c.source() + ": hidden_act '" + activation + "' is not silu");
        }
        int window = 0;
        List<String> types = List.of();
        if (type.equals("mistral") && c.has("sliding_window")) {   // Mistral 7B v0.1: every layer slides
            window = c.integer("sliding_window");
            types = Collections.nCopies(layers, SLIDING);
        }
        if (type.equals("gemma2") || type.equals("gemma3_text")) {
            window = c.integer("sliding_window", 4096);
            types = layerTypes(c, layers, type.equals("gemma2") ? 2 : c.integer("sliding_window_pattern", 6));
        }
        boolean sandwich = type.equals("gemma2") || type.equals("gemma3_text");
        // HF's config classes' defaults where a key is absent: Gemma2Config caps at 50 and 30, Gemma3TextConfig not at all
        boolean gemma2 = type.equals("gemma2");
        return new LlamaVariant(type, scaling, type.equals("qwen3") || type.equals("gemma3_text"), gemma, activation, sandwich,
                sandwich ? c.number("query_pre_attn_scalar", 256) : 0,
                gemma2 || type.equals("gemma3_text") ? softcap(c, "attn_logit_softcapping", gemma2 ? 50 : 0)
                        : checkNoSoftcap(c, "attn_logit_softcapping", type),
                sandwich ? softcap(c, "final_logit_softcapping", gemma2 ? 30 : 0) : checkNoSoftcap(c, "final_logit_softcapping", type),
                window, types, type.equals("gemma3_text") ? c.number("rope_local_base_freq", 10000.0) : 0);
    }

    /** HF's layer_types when given, else HF's default: layer i slides unless (i + 1) is a multiple of {@code pattern}. */
    private static List<String> layerTypes(ConfigJson c, int layers, int pattern) {
        JsonNode given = c.node("layer_types");
        List<String> types = new ArrayList<>();
        if (given != null && !given.isNull()) {
            if (!given.isArray() || given.size() != layers) {
                throw new IllegalArgumentException(c.source() + ": layer_types must list one type per layer (" + layers
                        + "), got " + given);
            }
            given.forEach(t -> types.add(t.asText()));
            return types;
        }
        if (pattern < 1) throw new IllegalArgumentException(c.source() + ": sliding_window_pattern must be ≥ 1, got " + pattern);
        for (int i = 0; i < layers; i++) types.add((i + 1) % pattern != 0 ? SLIDING : FULL);
        return types;
    }

    /** A soft-cap: {@code dflt} when the key is absent, 0 (off) when it is null, else its value. */
    private static double softcap(ConfigJson c, String key, double dflt) {
        JsonNode n = c.node(key);
        if (n == null) return dflt;
        return n.isNull() ? 0 : c.number(key, 0);
    }

    /**
     * The switches HF's config class of {@code modelType} gives a config.json that names nothing but the sizes: e.g.
     * {@code defaults("gemma2", layers)} caps attention at 50 and logits at 30, with a 4096-token window on
     * every other layer, as {@code Gemma2Config()} does.
     */
    public static LlamaVariant defaults(String modelType, int numLayers) {
        if (!TYPES.contains(modelType)) throw new IllegalArgumentException("model_type '" + modelType + "' is not one of " + TYPES);
        return from(modelType, ConfigJson.parse("{}", modelType + " defaults"), numLayers);
    }

    private static double checkNoSoftcap(ConfigJson c, String key, String type) {
        if (c.number(key, 0) != 0) throw new IllegalArgumentException(c.source() + ": " + key + " is not part of " + type);
        return 0;
    }

    /** Writes the config.json fields of these switches into {@code m}. */
    void putJson(Map<String, Object> m) {
        if (activation.equals("silu")) m.put("hidden_act", "silu");
        else m.put("hidden_activation", activation);
        ropeScaling.ifPresent(s -> m.put("rope_scaling", s.toJson()));
        if (sandwichNorms) m.put("query_pre_attn_scalar", queryPreAttnScalar);
        if (sandwichNorms) m.put("attn_logit_softcapping", attnSoftcap == 0 ? null : attnSoftcap);
        if (sandwichNorms) m.put("final_logit_softcapping", finalSoftcap == 0 ? null : finalSoftcap);
        if (slidingWindow > 0) {
            m.put("sliding_window", slidingWindow);
            if (!modelType.equals("mistral")) m.put("layer_types", layerTypes);
        }
        if (localRopeTheta > 0) m.put("rope_local_base_freq", localRopeTheta);
        if (modelType.equals("qwen3")) m.put("attention_bias", false);
    }
}
