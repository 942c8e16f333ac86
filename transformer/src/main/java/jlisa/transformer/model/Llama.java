package jlisa.transformer.model;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.IntStream;

import jlisa.autograd.ActivationScope;
import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Attention;
import jlisa.tensor.kernels.Rope;
import jlisa.nn.Layers.Embedding;
import jlisa.nn.Layers.Linear;
import jlisa.nn.Layers.RmsNorm;
import jlisa.nn.Module;
import jlisa.nn.ModuleList;

/**
 * LLaMA as Hugging Face's {@code LlamaForCausalLM}: RMSNorm, rotary positions in HF's rotate-half
 * layout, SwiGLU MLP, grouped-query attention. The same class serves the families built on it, whose configs
 * differ in a few switches ({@link LlamaVariant}): Mistral and SmolLM (none), Qwen2 (biases on q/k/v), Qwen3 (RMSNorm on
 * each head of q and k), Gemma (norms that scale by 1 + w, a √hidden embedding scale, GeGLU), Gemma-2 (norms after
 * attention and MLP as well, a query scale of its own, soft-capped attention and final logits, sliding-window
 * attention on alternate layers) and Gemma-3 (Gemma-2's layout with q/k norms, five sliding layers in six with their
 * own RoPE base); {@code rope_scaling} (linear, Llama-3.1) applies to any of them.
 *
 * <p>Not thread-safe: one forward pass per model at a time.
 */
public final class Llama extends CausalLM {

    /** The fields of HF's LlamaConfig (and Mistral/Qwen2's) that the architecture needs. */
    public record Config(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
                         int numKvHeads, int headDim, double rmsNormEps, double ropeTheta, int maxPositions,
                         boolean tieWordEmbeddings, boolean qkvBias, double initStd, LlamaVariant variant) {

        /** A LLaMA config (model_type llama, or qwen2 when q/k/v have biases). */
        public Config(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads,
                      int headDim, double rmsNormEps, double ropeTheta, int maxPositions, boolean tieWordEmbeddings,
                      boolean qkvBias, double initStd) {
            this(vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, rmsNormEps, ropeTheta,
                    maxPositions, tieWordEmbeddings, qkvBias, initStd, LlamaVariant.llama(qkvBias ? "qwen2" : "llama"));
        }

        public Config {
            if (variant == null) throw new IllegalArgumentException("LLaMA config: variant is required (LlamaVariant.llama(\"llama\"))");
            if (!variant.layerTypes().isEmpty() && variant.layerTypes().size() != numLayers) {
                throw new IllegalArgumentException("LLaMA config: layer_types has " + variant.layerTypes().size()
                        + " entries for " + numLayers + " layers");
            }
            if (numHeads < 1 || numKvHeads < 1 || numHeads % numKvHeads != 0) {
                throw new IllegalArgumentException("LLaMA config: num_attention_heads " + numHeads
                        + " must be a positive multiple of num_key_value_heads " + numKvHeads);
            }
            if (headDim < 2 || headDim % 2 != 0) {
                throw new IllegalArgumentException("LLaMA config: head dim " + headDim + " must be even (rotary pairs)");
            }
            if (vocabSize < 1 || hiddenSize < 1 || intermediateSize < 1 || numLayers < 0 || maxPositions < 1) {
                throw new IllegalArgumentException("LLaMA config: sizes must be positive, got " + this);
            }
        }

        /** A config with LLaMA's defaults: head dim = hidden / heads, eps 1e-6, theta 10000, untied. */
        public static Config of(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads, int maxPositions) {
            if (hidden % heads != 0) {
                throw new IllegalArgumentException("LLaMA config: hidden_size " + hidden + " is not divisible by heads " + heads);
            }
            return new Config(vocab, hidden, intermediate, layers, heads, kvHeads, hidden / heads, 1e-6, 10000.0,
                    maxPositions, false, false, 0.02);
        }

        /** Reads HF's config.json (model_type llama, mistral, qwen2; SmolLM uses llama). */
        public static Config fromJson(Path configJson) { return from(ConfigJson.read(configJson)); }

        static Config from(ConfigJson c) {
            String type = c.string("model_type", "llama");
            if (!LlamaVariant.TYPES.contains(type)) {
                throw new IllegalArgumentException(c.source() + ": model_type '" + type + "' is not one of " + LlamaVariant.TYPES);
            }
            if (c.bool("mlp_bias", false)) throw new IllegalArgumentException(c.source() + ": mlp_bias=true is not supported");
            int hidden = c.integer("hidden_size"), heads = c.integer("num_attention_heads");
            int headDim = c.integer("head_dim", -1);
            if (headDim < 0) {
                if (hidden % heads != 0) {
                    throw new IllegalArgumentException(c.source() + ": hidden_size " + hidden
                            + " is not divisible by num_attention_heads " + heads + " and no head_dim is given");
                }
                headDim = hidden / heads;
            }
            boolean qkvBias = type.equals("qwen2") || c.bool("attention_bias", false);
            if (!type.equals("qwen2") && c.bool("attention_bias", false)) {
                throw new IllegalArgumentException(c.source() + ": attention_bias=true (bias on o_proj too) is not supported");
            }
            int layers = c.integer("num_hidden_layers");
            boolean gemma = type.startsWith("gemma");
            return new Config(c.integer("vocab_size"), hidden, c.integer("intermediate_size"), layers,
                    heads, c.integer("num_key_value_heads", heads), headDim, c.number("rms_norm_eps", 1e-6),
                    c.number("rope_theta", type.equals("gemma3_text") ? 1_000_000.0 : 10000.0), c.integer("max_position_embeddings", 2048),
                    c.bool("tie_word_embeddings", gemma), qkvBias, c.number("initializer_range", 0.02),
                    LlamaVariant.from(type, c, layers));
        }

        /** HF's config.json for this config (model_type qwen2 when q/k/v have biases, else llama). */
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model_type", variant.modelType());
            m.put("architectures", java.util.List.of(LlamaVariant.ARCHITECTURES.get(variant.modelType())));
            m.put("vocab_size", vocabSize);
            m.put("hidden_size", hiddenSize);
            m.put("intermediate_size", intermediateSize);
            m.put("num_hidden_layers", numLayers);
            m.put("num_attention_heads", numHeads);
            m.put("num_key_value_heads", numKvHeads);
            m.put("head_dim", headDim);
            m.put("rms_norm_eps", rmsNormEps);
            m.put("rope_theta", ropeTheta);
            m.put("max_position_embeddings", maxPositions);
            m.put("tie_word_embeddings", tieWordEmbeddings);
            variant.putJson(m);
            m.put("initializer_range", initStd);
            m.put("torch_dtype", "float32");
            return m;
        }

        /**
         * Presets: llama-thin has many thin layers for LISA memory studies (32 layers, 256 wide, GQA 8/2, byte vocab);
         * smollm-135m is SmolLM-135M's shape, tinyllama-8l TinyLlama-1.1B's with 8 of its 22 layers.
         */
        public static Config preset(String name) {
            return switch (name) {
                case "llama-thin" -> new Config(256, 256, 688, 32, 8, 2, 32, 1e-6, 10000.0, 2048, true, false, 0.02);
                case "llama-tiny" -> new Config(256, 128, 344, 4, 4, 2, 32, 1e-6, 10000.0, 1024, true, false, 0.02);
                // the shapes generation is measured on beside Jlama (bench generate --random, bench/vs-jlama.sh)
                case "smollm-135m" -> new Config(49152, 576, 1536, 30, 9, 3, 64, 1e-5, 10000.0, 2048, true, false, 0.02);
                case "tinyllama-8l" -> new Config(32000, 2048, 5632, 8, 32, 4, 64, 1e-5, 10000.0, 2048, false, false, 0.02);
                default -> throw new IllegalArgumentException("unknown LLaMA preset '" + name
                        + "' (expected llama-thin, llama-tiny, smollm-135m, tinyllama-8l)");
            };
        }
    }

    private final Config config;
    private final Body model;
    private final Linear lmHead;   // null when tied to the embedding
    /** RoPE's inverse frequencies, scaled as rope_scaling says, and those of the sliding layers (Gemma-3's own base). */
    private final Rope.Frequencies ropeFrequencies, localRopeFrequencies;

    public Llama(Config config, Rng rng) { this(config, rng, "llama"); }

    /** As {@link #Llama(Config, Rng)}, called {@code name} in messages and in its ledger account; zeros without an rng. */
    Llama(Config config, Rng rng, String name) {
        super(name);
        this.config = config;
        LlamaVariant variant = config.variant();
        Rope.Frequencies plain = Rope.Frequencies.of(config.ropeTheta(), config.headDim());
        this.ropeFrequencies = variant.ropeScaling().map(s -> s.apply(plain)).orElse(plain);
        // Gemma-3's sliding layers have a base of their own, never scaled
        this.localRopeFrequencies = variant.localRopeTheta() > 0
                ? Rope.Frequencies.of(variant.localRopeTheta(), config.headDim()) : ropeFrequencies;
        try (var charge = memory().charge()) {
            this.model = child("model", new Body(config, rng));
            this.lmHead = config.tieWordEmbeddings() ? null
                    : child("lm_head", new Linear(config.hiddenSize(), config.vocabSize(), false, rng, config.initStd()));
        }
    }

    public Config config() { return config; }

    @Override protected Variable hiddenStates(Tensor ids, KvCache cache) {
        int[] starts = startPositions(ids, cache);
        int T = ids.size(1);
        LlamaVariant variant = config.variant();
        Positions rope = Positions.of(starts, T, ropeFrequencies);
        Positions localRope = localRopeFrequencies == ropeFrequencies ? rope : Positions.of(starts, T, localRopeFrequencies);
        Variable x = model.embedTokens.forward(ids);
        // HF multiplies by √hidden rounded to the hidden dtype (float32)
        if (variant.gemmaNorms()) x = x.mul((float) Math.sqrt(config.hiddenSize()));
        for (int l = 0; l < config.numLayers(); l++) {
            x = model.layers.get(l).forward(x, variant.sliding(l) ? localRope : rope, cache, l);
        }
        if (cache != null) cache.advance(T);
        return model.norm.forward(x);
    }

    @Override protected Variable head(Variable hidden) {
        Variable logits = lmHead == null ? hidden.linear(model.embedTokens.weight, null) : lmHead.forward(hidden);
        double cap = config.variant().finalSoftcap();
        return cap == 0 ? logits : logits.mul(1 / cap).tanh().mul(cap);   // Gemma-2: cap · tanh(logits / cap)
    }

    @Override protected Variable plainHeadWeight() {
        if (config.variant().finalSoftcap() != 0) return null;   // the soft-cap sits between the product and the loss
        if (lmHead == null) return model.embedTokens.weight;
        boolean adapter = lmHead.lora().filter(a -> !a.isMerged()).isPresent();
        return lmHead.bias == null && !adapter ? lmHead.weight : null;
    }

    @Override protected KvCache createCache(int batch, int maxLen) {
        return new KvCache(config.numLayers(), batch, config.numKvHeads(), Math.min(maxLen, config.maxPositions()),
                config.headDim());
    }

    @Override public Map<String, Object> configJson() { return config.toJson(); }

    @Override public int vocabSize() { return config.vocabSize(); }

    @Override public int maxPositions() { return config.maxPositions(); }

    @Override protected ModuleList<Block> blocks() { return model.layers; }

    @Override protected String blocksPath() { return "model.layers"; }

    @Override protected boolean isEmbedding(String name) { return name.equals("model.embed_tokens.weight"); }

    @Override public Parameter tokenEmbedding() { return model.embedTokens.weight; }

    @Override protected boolean tiedHead() { return lmHead == null; }

    /**
     * The rotary tables of one forward pass. When every row starts at the same position, one table of T positions
     * serves all rows. When they differ (a batched KV cache whose prompts had different lengths), the table holds
     * B·T positions, row b's from b·T on, and q and k are rotated laid out as one sequence of B·T steps.
     */
    record Positions(Rope.Cache rope, boolean perRow) {
        static Positions of(int[] starts, int T, Rope.Frequencies frequencies) {
            boolean same = true;
            for (int start : starts) same &= start == starts[0];
            if (same) return new Positions(Rope.Cache.of(Rope.positions(starts[0], T), frequencies), false);
            int[] flat = new int[starts.length * T];
            for (int i = 0; i < flat.length; i++) flat[i] = starts[i / T] + i % T;
            return new Positions(Rope.Cache.of(flat, frequencies), true);
        }

        /** The heads (B, n, T, D) of a projection (B, T, n·D), rotated to their positions. */
        Variable rotate(Variable projection, int B, int T, int n, int D) {
            if (!perRow) return projection.reshape(B, T, n, D).transpose(1, 2).rope(rope, Rope.Layout.HALF);
            return projection.reshape(1, B * T, n, D).transpose(1, 2).rope(rope, Rope.Layout.HALF)
                    .transpose(1, 2).reshape(B, T, n, D).transpose(1, 2);
        }
    }

    /** HF's LlamaModel: the part under the "model." prefix. */
    static final class Body extends Module {
        final Embedding embedTokens;
        final ModuleList<Block> layers;
        final RmsNorm norm;

        Body(Config c, Rng rng) {
            embedTokens = child("embed_tokens", new Embedding(c.vocabSize(), c.hiddenSize(), rng, c.initStd()));
            layers = child("layers", new ModuleList<>(IntStream.range(0, c.numLayers()).mapToObj(i -> new Block(c, rng, i)).toList()));
            norm = child("norm", norm(c, c.hiddenSize()));
        }
    }

    /** The family's RMSNorm over {@code dim}: Gemma's scale by 1 + weight. */
    static RmsNorm norm(Config c, int dim) {
        return new RmsNorm(dim, c.rmsNormEps(), c.variant().gemmaNorms() ? 1.0 : 0.0);
    }

    /**
     * x + attn(norm(x)), then + mlp(norm(x)). With sandwich norms (Gemma-2, -3) attention's and the MLP's outputs are
     * normed too before they join the residual, and the pre-MLP norm is called pre_feedforward_layernorm while
     * post_attention_layernorm norms attention's output (in LLaMA it is the pre-MLP norm).
     */
    static final class Block extends Module {
        final RmsNorm inputLayernorm, postAttentionLayernorm, preFeedforwardLayernorm, postFeedforwardLayernorm;
        final SelfAttention selfAttn;
        final SwiGlu mlp;

        Block(Config c, Rng rng, int layer) {
            selfAttn = child("self_attn", new SelfAttention(c, rng, layer));
            mlp = child("mlp", new SwiGlu(c, rng));
            inputLayernorm = child("input_layernorm", norm(c, c.hiddenSize()));
            postAttentionLayernorm = child("post_attention_layernorm", norm(c, c.hiddenSize()));
            boolean sandwich = c.variant().sandwichNorms();
            preFeedforwardLayernorm = sandwich ? child("pre_feedforward_layernorm", norm(c, c.hiddenSize())) : null;
            postFeedforwardLayernorm = sandwich ? child("post_feedforward_layernorm", norm(c, c.hiddenSize())) : null;
        }

        Variable forward(Variable x, Positions rope, KvCache cache, int layer) {
            try (var scope = ActivationScope.open()) {   // frees what no backward reads when the block returns
                Variable attn = selfAttn.forward(inputLayernorm.forward(x), rope, cache, layer);
                if (preFeedforwardLayernorm == null) {
                    Variable h = x.add(attn);
                    return scope.keep(h.add(mlp.forward(postAttentionLayernorm.forward(h))));
                }
                Variable h = x.add(postAttentionLayernorm.forward(attn));
                return scope.keep(h.add(postFeedforwardLayernorm.forward(mlp.forward(preFeedforwardLayernorm.forward(h)))));
            }
        }
    }

    /**
     * Grouped-query attention with rotary positions on q and k; with q/k norms (Qwen3, Gemma-3) each head of q and k
     * is RMS-normed before it is rotated. The scale, soft-cap and window are the family's and the layer's.
     */
    static final class SelfAttention extends Module {
        final Linear qProj, kProj, vProj, oProj;
        final RmsNorm qNorm, kNorm;
        final int heads, kvHeads, headDim;
        final Attention.Spec spec;

        SelfAttention(Config c, Rng rng, int layer) {
            heads = c.numHeads();
            kvHeads = c.numKvHeads();
            headDim = c.headDim();
            LlamaVariant v = c.variant();
            double scale = 1 / Math.sqrt(v.queryPreAttnScalar() > 0 ? v.queryPreAttnScalar() : headDim);
            spec = new Attention.Spec(scale, v.attnSoftcap(), v.sliding(layer) ? v.slidingWindow() : 0);
            qNorm = v.qkNorm() ? child("q_norm", norm(c, headDim)) : null;
            kNorm = v.qkNorm() ? child("k_norm", norm(c, headDim)) : null;
            qProj = child("q_proj", new Linear(c.hiddenSize(), heads * headDim, c.qkvBias(), rng, c.initStd()));
            kProj = child("k_proj", new Linear(c.hiddenSize(), kvHeads * headDim, c.qkvBias(), rng, c.initStd()));
            vProj = child("v_proj", new Linear(c.hiddenSize(), kvHeads * headDim, c.qkvBias(), rng, c.initStd()));
            oProj = child("o_proj", new Linear(heads * headDim, c.hiddenSize(), false, rng, c.initStd()));
        }

        Variable forward(Variable x, Positions rope, KvCache cache, int layer) {
            int B = x.data().size(0), T = x.data().size(1);
            Variable q = rope.rotate(headNorm(qNorm, qProj.forward(x), B, T, heads), B, T, heads, headDim);
            Variable k = rope.rotate(headNorm(kNorm, kProj.forward(x), B, T, kvHeads), B, T, kvHeads, headDim);
            Variable v = vProj.forward(x).reshape(B, T, kvHeads, headDim).transpose(1, 2);
            Variable y = Attend.attend(q, k, v, cache, layer, spec);
            return oProj.forward(y.transpose(1, 2).reshape(B, T, heads * headDim));
        }

        /** The projection (B, T, n·D) with each of its n heads RMS-normed, when there is a norm. */
        private Variable headNorm(RmsNorm norm, Variable projection, int B, int T, int n) {
            if (norm == null) return projection;
            return norm.forward(projection.reshape(B, T, n, headDim)).reshape(B, T, n * headDim);
        }
    }

    /** down(silu(gate(x)) · up(x)), or with the tanh GELU in place of silu (Gemma's GeGLU). */
    static final class SwiGlu extends Module {
        final Linear gateProj, upProj, downProj;
        final boolean gelu;

        SwiGlu(Config c, Rng rng) {
            gelu = c.variant().activation().equals("gelu_pytorch_tanh");
            gateProj = child("gate_proj", new Linear(c.hiddenSize(), c.intermediateSize(), false, rng, c.initStd()));
            upProj = child("up_proj", new Linear(c.hiddenSize(), c.intermediateSize(), false, rng, c.initStd()));
            downProj = child("down_proj", new Linear(c.intermediateSize(), c.hiddenSize(), false, rng, c.initStd()));
        }

        Variable forward(Variable x) {
            Variable gate = gateProj.forward(x);
            return downProj.forward((gelu ? gate.geluTanh() : gate.silu()).mul(upProj.forward(x)));
        }
    }
}
