package jlisa.autograd.functions;

import jlisa.autograd.Context;
import jlisa.autograd.Function;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Activations;
import jlisa.tensor.kernels.Attention;
import jlisa.tensor.kernels.CrossEntropy;
import jlisa.tensor.kernels.Embedding;
import jlisa.tensor.kernels.LayerNorm;
import jlisa.tensor.kernels.RmsNorm;
import jlisa.tensor.kernels.Rope;
import jlisa.tensor.kernels.Softmax;

/**
 * The transformer's ops. Each forward and backward is one call to the matching kernel pair in
 * {@code jlisa.tensor.kernels}, so every formula exists once.
 *
 * <p>The function classes are per call (not shared between threads); the class itself holds no state.
 */
public final class Layers {
    private Layers() {}

    /** softmax over the last dim. Backward: y ∘ (g − Σ g∘y). */
    public static final class SoftmaxFn extends Function {
        @Override public String name() { return "Softmax"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor y = Softmax.softmax(in[0]);
            ctx.save(y);
            return y;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            return new Tensor[] {Softmax.softmaxBackward(ctx.saved(0), g)};
        }
    }

    /** log-softmax over the last dim. Backward: g − softmax · Σ g. */
    public static final class LogSoftmaxFn extends Function {
        @Override public String name() { return "LogSoftmax"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor y = Softmax.logSoftmax(in[0]);
            ctx.save(y);
            return y;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            return new Tensor[] {Softmax.logSoftmaxBackward(ctx.saved(0), g)};
        }
    }

    /** LayerNorm over the last dim; inputs x, weight (or null), bias (or null). */
    public static final class LayerNormFn extends Function {
        private final double eps;

        public LayerNormFn(double eps) { this.eps = eps; }

        @Override public String name() { return "LayerNorm"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            LayerNorm.Result r = LayerNorm.forward(in[0], in[1], in[2], eps);
            ctx.save(in[0], in[1]);
            ctx.saveOwned(r.mean());
            ctx.saveOwned(r.rstd());
            return r.out();
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            LayerNorm.Gradients d = LayerNorm.backward(g, ctx.saved(0), ctx.saved(1), ctx.saved(2), ctx.saved(3),
                    ctx.needsGrad(0), ctx.needsGrad(1), ctx.needsGrad(2));
            return new Tensor[] {d.dx(), d.dweight(), d.dbias()};
        }
    }

    /** RMSNorm over the last dim; inputs x, weight (or null). */
    public static final class RmsNormFn extends Function {
        private final double eps;

        public RmsNormFn(double eps) { this.eps = eps; }

        @Override public String name() { return "RmsNorm"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            RmsNorm.Result r = RmsNorm.forward(in[0], in[1], eps);
            ctx.save(in[0], in[1]);
            ctx.saveOwned(r.rstd());
            return r.out();
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            RmsNorm.Gradients d = RmsNorm.backward(g, ctx.saved(0), ctx.saved(1), ctx.saved(2), ctx.needsGrad(0), ctx.needsGrad(1));
            return new Tensor[] {d.dx(), d.dweight()};
        }
    }

    /** GELU, with the tanh approximation (GPT-2) or the exact erf form. */
    public static final class Gelu extends Function {
        private final boolean tanhApproximation;

        public Gelu(boolean tanhApproximation) { this.tanhApproximation = tanhApproximation; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.save(in[0]);
            return tanhApproximation ? Activations.geluTanh(in[0]) : Activations.geluErf(in[0]);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor x = ctx.saved(0);
            return new Tensor[] {tanhApproximation ? Activations.geluTanhBackward(x, g) : Activations.geluErfBackward(x, g)};
        }
    }

    /** SiLU, x · σ(x). */
    public static final class Silu extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.save(in[0]);
            return Activations.silu(in[0]);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            return new Tensor[] {Activations.siluBackward(ctx.saved(0), g)};
        }
    }

    /** Rows of the weight (V, C) for token ids (I32, any shape). Backward: scatter-add into dweight. */
    public static final class EmbeddingFn extends Function {
        private final Tensor ids;

        public EmbeddingFn(Tensor ids) { this.ids = ids; }

        @Override public String name() { return "Embedding"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.put(in[0].size(0));
            return Embedding.forward(in[0], ids);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            return new Tensor[] {Embedding.backward(g, ids, ctx.<Integer>value(0))};
        }
    }

    /**
     * Mean cross-entropy of logits (..., V) against I32 targets, skipping the ignore index. The
     * forward computes dlogits in the same sweep (owned, freed with the graph) when logits need a
     * gradient; backward only scales it by the upstream scalar.
     */
    public static final class CrossEntropyFn extends Function {
        private final Tensor targets;
        private final int ignoreIndex;

        public CrossEntropyFn(Tensor targets, int ignoreIndex) {
            this.targets = targets;
            this.ignoreIndex = ignoreIndex;
        }

        @Override public String name() { return "CrossEntropy"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            CrossEntropy.Result r = CrossEntropy.forward(in[0], targets, ignoreIndex, ctx.needsGrad(0));
            if (r.dlogits() != null) ctx.saveOwned(r.dlogits());
            return r.loss();
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor dlogits = ctx.saved(0);
            return new Tensor[] {dlogits.mul(g.item())};   // a new tensor: the saved one is freed with the graph
        }
    }

    /**
     * Causal scaled-dot-product attention; inputs q (B,H,T,D), k and v (B,Hkv,T,D), any layout the kernel reads in
     * place. The output and the gradients come laid out (B, T, heads, D), so merging the heads back is a view.
     */
    public static final class AttentionFn extends Function {
        private final Attention.Spec spec;

        public AttentionFn(double scale) { this(Attention.Spec.ofScale(scale)); }

        /** Attention with the scale, soft-cap and window of {@code spec}. */
        public AttentionFn(Attention.Spec spec) { this.spec = spec; }

        @Override public String name() { return "Attention"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Attention.Result r = Attention.forward(in[0], in[1], in[2], spec);
            ctx.save(in[0], in[1], in[2], r.out());
            ctx.saveOwned(r.lse());
            return r.out();
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Attention.Grads d = Attention.backward(g, ctx.saved(0), ctx.saved(1), ctx.saved(2), ctx.saved(3), ctx.saved(4), spec);
            return new Tensor[] {d.dq(), d.dk(), d.dv()};
        }
    }

    /**
     * Causal self-attention over a packed projection: input qkv (B, T, (H + 2·Hkv)·D) holds q, k and v side by side
     * (GPT-2's c_attn), output (B, T, H·D). The kernel reads q, k, v as views of qkv and writes dq, dk, dv straight
     * into one gradient of qkv's shape, so neither pass splits, transposes or reassembles anything.
     */
    public static final class PackedAttentionFn extends Function {
        private final int heads, kvHeads;
        private final double scale;

        public PackedAttentionFn(int heads, int kvHeads, double scale) {
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.scale = scale;
        }

        @Override public String name() { return "Attention"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor[] qkv = Attention.unpack(in[0], heads, kvHeads);
            int B = in[0].size(0), T = in[0].size(1), D = qkv[0].size(3);
            Tensor out = Tensor.emptyOn(in[0], in[0].dtype().computeType(), B, T, heads * D);   // written whole
            Attention.Result r = Attention.forward(qkv[0], qkv[1], qkv[2], scale, Attention.splitHeads(out, heads));
            ctx.save(in[0], out);
            ctx.saveOwned(r.lse());
            return out;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor packed = ctx.saved(0);
            Tensor[] qkv = Attention.unpack(packed, heads, kvHeads);
            Tensor dqkv = Tensor.emptyOn(packed, ctx.saved(1).dtype(), packed.shape());   // dq, dk, dv cover it whole
            Tensor[] d = Attention.unpack(dqkv, heads, kvHeads);
            Attention.backward(Attention.splitHeads(g, heads), qkv[0], qkv[1], qkv[2], Attention.splitHeads(ctx.saved(1), heads),
                    ctx.saved(2), scale, d[0], d[1], d[2]);
            return new Tensor[] {dqkv};
        }
    }

    /** Inverted dropout with a seeded mask: y = x · mask / (1 − p). */
    public static final class DropoutFn extends Function {
        private final double p;
        private final Rng rng;

        public DropoutFn(double p, Rng rng) {
            this.p = p;
            this.rng = rng;
        }

        @Override public String name() { return "Dropout"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            jlisa.tensor.kernels.Dropout.Result r = jlisa.tensor.kernels.Dropout.forward(in[0], p, rng);
            ctx.saveOwned(r.mask());
            return r.out();
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            return new Tensor[] {jlisa.tensor.kernels.Dropout.backward(g, ctx.saved(0), p)};
        }
    }

    /** Rotary position embedding of x (B, H, T, D) with precomputed cos/sin tables. Backward: the inverse rotation. */
    public static final class RopeFn extends Function {
        private final Rope.Cache cache;
        private final Rope.Layout layout;

        public RopeFn(Rope.Cache cache, Rope.Layout layout) {
            this.cache = cache;
            this.layout = layout;
        }

        @Override public String name() { return "Rope"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) { return Rope.forward(in[0], cache, layout); }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {Rope.backward(g, cache, layout)}; }
    }
}
