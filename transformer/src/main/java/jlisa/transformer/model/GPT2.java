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

import jlisa.nn.Layers.Conv1D;
import jlisa.nn.Layers.Dropout;
import jlisa.nn.Layers.Embedding;
import jlisa.nn.Layers.LayerNorm;
import jlisa.nn.Module;
import jlisa.nn.ModuleList;

/**
 * GPT-2 as Hugging Face's {@code GPT2LMHeadModel}: learned positions, pre-LayerNorm blocks,
 * multi-head attention through one fused c_attn projection, GELU (tanh) MLP, head tied to the token
 * embedding. Parameter names and layouts are the checkpoint's (Conv1D weights stored in × out).
 *
 * <p>Not thread-safe, as every {@link CausalLM}: one forward or training step at a time per instance.
 */
public final class GPT2 extends CausalLM {

    /** The fields of HF's GPT2Config that the architecture needs. */
    public record Config(int vocabSize, int nPositions, int nEmbd, int nLayer, int nHead, int nInner,
                         double layerNormEps, double dropout, boolean tieWordEmbeddings) {
        public Config {
            if (nEmbd % nHead != 0) {
                throw new IllegalArgumentException("GPT-2 config: n_embd " + nEmbd + " is not divisible by n_head " + nHead);
            }
            if (vocabSize < 1 || nPositions < 1 || nLayer < 0 || nHead < 1 || nInner < 1) {
                throw new IllegalArgumentException("GPT-2 config: sizes must be positive, got " + this);
            }
            if (!tieWordEmbeddings) {
                throw new IllegalArgumentException("GPT-2 config: only tied word embeddings are supported (tie_word_embeddings=false)");
            }
        }

        /** A config with the usual defaults: inner 4·width, eps 1e-5, no dropout, tied head. */
        public static Config of(int vocab, int positions, int width, int layers, int heads) {
            return new Config(vocab, positions, width, layers, heads, 4 * width, 1e-5, 0.0, true);
        }

        /** Reads HF's config.json (model_type gpt2). */
        public static Config fromJson(Path configJson) { return from(ConfigJson.read(configJson)); }

        static Config from(ConfigJson c) {
            String type = c.string("model_type", "gpt2");
            if (!type.equals("gpt2")) throw new IllegalArgumentException(c.source() + ": model_type '" + type + "' is not gpt2");
            String act = c.string("activation_function", "gelu_new");
            if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh")) {
                throw new IllegalArgumentException(c.source() + ": activation_function '" + act
                        + "' is not supported (expected gelu_new, GPT-2's tanh GELU)");
            }
            int width = c.integer("n_embd");
            return new Config(c.integer("vocab_size"), c.integer("n_positions"), width, c.integer("n_layer"),
                    c.integer("n_head"), c.integer("n_inner", 4 * width), c.number("layer_norm_epsilon", 1e-5),
                    c.number("resid_pdrop", 0.0), c.bool("tie_word_embeddings", true));
        }

        /** HF's config.json for this config (model_type gpt2). */
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model_type", "gpt2");
            m.put("architectures", java.util.List.of("GPT2LMHeadModel"));
            m.put("vocab_size", vocabSize);
            m.put("n_positions", nPositions);
            m.put("n_ctx", nPositions);
            m.put("n_embd", nEmbd);
            m.put("n_layer", nLayer);
            m.put("n_head", nHead);
            m.put("n_inner", nInner);
            m.put("activation_function", "gelu_new");
            m.put("layer_norm_epsilon", layerNormEps);
            m.put("resid_pdrop", dropout);
            m.put("embd_pdrop", dropout);
            m.put("attn_pdrop", 0.0);
            m.put("initializer_range", 0.02);
            m.put("tie_word_embeddings", true);
            m.put("torch_dtype", "float32");
            return m;
        }

        /** Presets for benchmarks: tiny (byte vocab), d6, gpt2-124M. */
        public static Config preset(String name) {
            return switch (name) {
                case "tiny" -> of(256, 1024, 128, 4, 4);
                case "d6" -> of(50257, 1024, 384, 6, 6);
                case "gpt2-124M", "gpt2" -> of(50257, 1024, 768, 12, 12);
                default -> throw new IllegalArgumentException("unknown GPT-2 preset '" + name + "' (expected tiny, d6, gpt2-124M)");
            };
        }
    }

    private final Config config;
    private final Body transformer;

    /** A freshly initialised model (HF's init: N(0, 0.02), residual projections N(0, 0.02/√(2·layers)), zero biases). */
    public GPT2(Config config, Rng rng) { this(config, rng, "gpt2"); }

    /** As {@link #GPT2(Config, Rng)}, called {@code name} in messages and in its ledger account; zeros without an rng. */
    GPT2(Config config, Rng rng, String name) {
        super(name);
        this.config = config;
        try (var charge = memory().charge()) {
            this.transformer = child("transformer", new Body(config, rng));
        }
    }

    public Config config() { return config; }

    /** The tied token embedding. */
    @Override public Parameter tokenEmbedding() { return transformer.wte.weight; }

    @Override protected boolean tiedHead() { return true; }

    @Override protected Variable hiddenStates(Tensor ids, KvCache cache) {
        int[] starts = startPositions(ids, cache);   // per row: the rows of a batched cache may be at different positions
        int B = ids.size(0), T = ids.size(1);
        int[] pos = new int[B * T];
        for (int i = 0; i < pos.length; i++) pos[i] = starts[i / T] + i % T;
        Variable x = transformer.wte.forward(ids).add(transformer.wpe.forward(Tensor.of(pos, B, T)));
        x = transformer.drop.forward(x);
        for (int l = 0; l < config.nLayer(); l++) x = transformer.h.get(l).forward(x, cache, l);
        if (cache != null) cache.advance(T);
        return transformer.lnF.forward(x);
    }

    @Override protected Variable head(Variable hidden) { return hidden.linear(transformer.wte.weight, null); }

    @Override protected Variable plainHeadWeight() { return transformer.wte.weight; }

    @Override protected KvCache createCache(int batch, int maxLen) {
        return new KvCache(config.nLayer(), batch, config.nHead(), Math.min(maxLen, config.nPositions()),
                config.nEmbd() / config.nHead());
    }

    @Override public Map<String, Object> configJson() { return config.toJson(); }

    @Override public int vocabSize() { return config.vocabSize(); }

    @Override public int maxPositions() { return config.nPositions(); }

    @Override protected ModuleList<Block> blocks() { return transformer.h; }

    @Override protected String blocksPath() { return "transformer.h"; }

    @Override protected boolean isEmbedding(String name) {
        return name.equals("transformer.wte.weight") || name.equals("transformer.wpe.weight");
    }

    /** HF's GPT2Model: the part under the "transformer." prefix. */
    static final class Body extends Module {
        final Embedding wte, wpe;
        final Dropout drop;
        final ModuleList<Block> h;
        final LayerNorm lnF;

        Body(Config c, Rng rng) {
            wte = child("wte", new Embedding(c.vocabSize(), c.nEmbd(), rng, 0.02));
            wpe = child("wpe", new Embedding(c.nPositions(), c.nEmbd(), rng, 0.02));
            drop = new Dropout(c.dropout(), rng);
            h = child("h", new ModuleList<>(IntStream.range(0, c.nLayer()).mapToObj(i -> new Block(c, rng)).toList()));
            lnF = child("ln_f", new LayerNorm(c.nEmbd(), c.layerNormEps()));
        }
    }

    /** x + attn(ln_1(x)), then + mlp(ln_2(x)). */
    static final class Block extends Module {
        final LayerNorm ln1, ln2;
        final SelfAttention attn;
        final Mlp mlp;

        Block(Config c, Rng rng) {
            ln1 = child("ln_1", new LayerNorm(c.nEmbd(), c.layerNormEps()));
            attn = child("attn", new SelfAttention(c, rng));
            ln2 = child("ln_2", new LayerNorm(c.nEmbd(), c.layerNormEps()));
            mlp = child("mlp", new Mlp(c, rng));
        }

        Variable forward(Variable x, KvCache cache, int layer) {
            try (var scope = ActivationScope.open()) {   // frees what no backward reads when the block returns
                Variable h = x.add(attn.forward(ln1.forward(x), cache, layer));
                return scope.keep(h.add(mlp.forward(ln2.forward(h))));
            }
        }
    }

    /** Multi-head causal self-attention with the fused (C → 3C) c_attn projection. */
    static final class SelfAttention extends Module {
        final Conv1D cAttn, cProj;
        final Dropout residDrop;
        final int heads, width;

        SelfAttention(Config c, Rng rng) {
            cAttn = child("c_attn", new Conv1D(c.nEmbd(), 3 * c.nEmbd(), rng, 0.02));
            cProj = child("c_proj", new Conv1D(c.nEmbd(), c.nEmbd(), rng, 0.02 / Math.sqrt(2.0 * c.nLayer())));
            residDrop = new Dropout(c.dropout(), rng);
            heads = c.nHead();
            width = c.nEmbd();
        }

        Variable forward(Variable x, KvCache cache, int layer) {
            Variable y = Attend.attendPacked(cAttn.forward(x), heads, heads, cache, layer);   // (B, T, C)
            return residDrop.forward(cProj.forward(y));
        }
    }

    /** c_fc → GELU (tanh) → c_proj. */
    static final class Mlp extends Module {
        final Conv1D cFc, cProj;
        final Dropout drop;

        Mlp(Config c, Rng rng) {
            cFc = child("c_fc", new Conv1D(c.nEmbd(), c.nInner(), rng, 0.02));
            cProj = child("c_proj", new Conv1D(c.nInner(), c.nEmbd(), rng, 0.02 / Math.sqrt(2.0 * c.nLayer())));
            drop = new Dropout(c.dropout(), rng);
        }

        Variable forward(Variable x) { return drop.forward(cProj.forward(cFc.forward(x).geluTanh())); }
    }

}
