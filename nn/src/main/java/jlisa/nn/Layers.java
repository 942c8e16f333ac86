package jlisa.nn;

import java.util.Optional;

import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.tensor.DType;
import jlisa.tensor.HeapStorage;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Rng;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.MatMul;

/**
 * The basic layers, each a small module with its parameters under Hugging Face's names.
 *
 * <p>Not thread-safe: a layer's parameters are shared mutable tensors and dropout draws from its
 * generator; run one forward/backward per instance at a time.
 */
public final class Layers {
    private Layers() {}

    /**
     * N(0, std) init into PARAMETER storage; zeros when {@code rng} is null, or inside {@link Module#placeholders}
     * (weights that will be loaded) a placeholder of the shape that holds no memory.
     */
    static Tensor normal(Rng rng, double std, int... shape) {
        if (rng == null && Module.makingPlaceholders()) return Module.placeholder(shape);
        Tensor t = Module.zeros(shape);
        if (rng != null) {
            Tensor init = Tensor.randn(rng, 0, std, DType.F32, shape);
            t.copyFrom(init);
            init.storage().release();   // a temporary: the ledger should not count it until the collector runs
        }
        return t;
    }

    /** Ones in PARAMETER storage, made there directly so no temporary is left for the collector (norm weights). */
    static Tensor ones(int... shape) {
        Tensor t = Module.zeros(shape);
        t.fill(1.0);
        return t;
    }

    /** Uniform in [−bound, bound) into PARAMETER storage. */
    static Tensor uniform(Rng rng, double bound, int... shape) {
        Tensor t = Module.zeros(shape);
        Tensor init = Tensor.rand(rng, -bound, bound, DType.F32, shape);
        t.copyFrom(init);
        init.storage().release();   // a temporary, as in normal()
        return t;
    }

    /**
     * y = x · Wᵀ + b with W stored (out, in), as torch.nn.Linear; with a LoRA adapter enabled,
     * y = x · Wᵀ + b + dropout(x) · Aᵀ · Bᵀ · scaling (PEFT's lora.Linear).
     */
    public static final class Linear extends Module implements Layer {
        public final Parameter weight;
        public final Parameter bias;
        private LoraAdapter lora;

        /** Weight N(0, std) from {@code rng} (zeros when it is null: weights to be loaded), bias zeros. */
        public Linear(int in, int out, boolean bias, Rng rng, double std) {
            this.weight = param("weight", normal(rng, std, out, in));
            this.bias = bias ? param("bias", zeros(out)) : null;
        }

        /**
         * As torch.nn.Linear(in, out): weight and bias uniform in [−1/√in, 1/√in] drawn from {@code rng}
         * (PyTorch's kaiming_uniform_(a=√5) for the weight and its fan-in bound for the bias).
         */
        public Linear(int in, int out, Rng rng) { this(in, out, true, rng); }

        /** As {@link #Linear(int, int, Rng)}, with a bias only when {@code bias}. */
        public Linear(int in, int out, boolean bias, Rng rng) {
            if (in < 1 || out < 1) throw new IllegalArgumentException("Linear: in and out must be at least 1, got (" + in + ", " + out + ")");
            if (rng == null) throw new IllegalArgumentException("Linear: an Rng is required for the default init");
            double bound = 1.0 / Math.sqrt(in);
            this.weight = param("weight", uniform(rng, bound, out, in));
            this.bias = bias ? param("bias", uniform(rng, bound, out)) : null;
        }

        /** As {@link #Linear(int, int, Rng)} with a generator seeded with {@code seed}. */
        public Linear(int in, int out, long seed) { this(in, out, true, new Rng(seed)); }

        @Override public Variable forward(Variable x) {
            return lora == null || lora.merged ? x.linear(weight, bias) : lora.forward(x, bias);
        }

        public int in() { return weight.data().size(1); }

        public int out() { return weight.data().size(0); }

        /**
         * Adds a LoRA adapter of rank {@code r}: children {@code lora_A} (r × in, kaiming-uniform as
         * PEFT) and {@code lora_B} (out × r, zeros), so a fresh adapter leaves the output unchanged.
         */
        public LoraAdapter enableLora(int r, double alpha, double dropout, Rng rng) {
            if (lora != null) throw new IllegalStateException("this Linear already has a LoRA adapter (r=" + lora.r + ")");
            lora = new LoraAdapter(in(), out(), r, alpha, dropout, rng, weight, false);
            lora.register(this::child, isTraining());
            return lora;
        }

        /** The LoRA adapter, if one is enabled. */
        public Optional<LoraAdapter> lora() { return Optional.ofNullable(lora); }
    }

    /**
     * y = x · W + b with W stored (in, out), as GPT-2's Conv1D; read through a transposed view, never
     * copied. A LoRA adapter is PEFT's with fan_in_fan_out: A is (r × in), B (out × r) as for Linear.
     */
    public static final class Conv1D extends Module implements Layer {
        public final Parameter weight;
        public final Parameter bias;
        private LoraAdapter lora;

        public Conv1D(int in, int out, Rng rng, double std) {
            this.weight = param("weight", normal(rng, std, in, out));
            this.bias = param("bias", zeros(out));
        }

        @Override public Variable forward(Variable x) {
            return lora == null || lora.merged ? x.linearInOut(weight, bias) : lora.forward(x, bias);
        }

        public int in() { return weight.data().size(0); }

        public int out() { return weight.data().size(1); }

        /** As {@link Linear#enableLora}; merging adds (scaling · B·A)ᵀ to the (in, out) weight. */
        public LoraAdapter enableLora(int r, double alpha, double dropout, Rng rng) {
            if (lora != null) throw new IllegalStateException("this Conv1D already has a LoRA adapter (r=" + lora.r + ")");
            lora = new LoraAdapter(in(), out(), r, alpha, dropout, rng, weight, true);
            lora.register(this::child, isTraining());
            return lora;
        }

        /** The LoRA adapter, if one is enabled. */
        public Optional<LoraAdapter> lora() { return Optional.ofNullable(lora); }
    }

    /**
     * A LoRA adapter on one projection (Hu et al. 2021, as Hugging Face PEFT): the low-rank update
     * ΔW = scaling · B·A with A (r × in), B (out × r), scaling = alpha / r. Its A and B are
     * {@link Linear} children of the layer named {@code lora_A} and {@code lora_B}, so their weights
     * appear as {@code <layer>.lora_A.weight} and {@code <layer>.lora_B.weight}.
     */
    public static final class LoraAdapter {
        public final int r;
        public final double alpha;
        public final double dropoutP;
        public final double scaling;
        /** True when the base weight is stored (in, out) (GPT-2's Conv1D; PEFT's fan_in_fan_out). */
        public final boolean fanInFanOut;
        private final Linear a, b;
        private final Dropout dropout;
        private final Parameter base;
        private boolean merged;

        LoraAdapter(int in, int out, int r, double alpha, double dropoutP, Rng rng, Parameter base, boolean fanInFanOut) {
            if (r < 1) throw new IllegalArgumentException("LoRA: rank r must be at least 1, got " + r);
            if (!(alpha > 0) || Double.isInfinite(alpha)) throw new IllegalArgumentException("LoRA: alpha must be positive, got " + alpha);
            if (rng == null) throw new IllegalArgumentException("LoRA: an Rng is required for A's init and dropout");
            this.r = r;
            this.alpha = alpha;
            this.dropoutP = dropoutP;
            this.scaling = alpha / r;
            this.fanInFanOut = fanInFanOut;
            this.base = base;
            this.dropout = new Dropout(dropoutP, rng);
            // kaiming_uniform_(a=√5) on (r, in): gain √(2/(1+5)), bound gain·√3/√fan_in = 1/√in
            double bound = 1.0 / Math.sqrt(in);
            this.a = new Linear(in, r, false, null, 0);
            Tensor init = Tensor.rand(rng, -bound, bound, DType.F32, r, in);
            a.weight.data().copyFrom(init);
            init.storage().release();   // a temporary: the ledger should not count it until the collector runs
            this.b = new Linear(r, out, false, null, 0);
        }

        /** Registers A, B and the dropout under PEFT's child names; dropout follows the layer's mode. */
        void register(java.util.function.BiFunction<String, Module, Module> child, boolean training) {
            child.apply("lora_dropout", dropout);
            child.apply("lora_A", a);
            child.apply("lora_B", b);
            dropout.train(training);
        }

        /**
         * The adapted layer's output, base and adapter in one op: x · Wᵀ + bias + dropout(x) · Aᵀ · Bᵀ · scaling
         * (A and B's own Linear modules hold the parameters; their forward is not called).
         */
        Variable forward(Variable x, Parameter bias) {
            Variable dropped = dropout.forward(x);
            return x.linearLora(base, bias, fanInFanOut, a.weight, b.weight, scaling, dropped == x ? null : dropped);
        }

        public Parameter loraA() { return a.weight; }

        public Parameter loraB() { return b.weight; }

        public boolean isMerged() { return merged; }

        /**
         * W += scaling · B·A (transposed for fan_in_fan_out); the adapter then adds nothing in forward.
         * A weight that is not writable F32 heap memory (a memory-mapped checkpoint, BF16) is first
         * replaced by an F32 PARAMETER copy, so the file is never written.
         */
        public void merge() {
            if (merged) throw new IllegalStateException("LoRA: adapter is already merged");
            addDelta(scaling);
            merged = true;
        }

        /** W −= scaling · B·A: the inverse of {@link #merge} up to float rounding. */
        public void unmerge() {
            if (!merged) throw new IllegalStateException("LoRA: adapter is not merged");
            addDelta(-scaling);
            merged = false;
        }

        private void addDelta(double s) {
            Tensor w = base.data();
            boolean onDevice = w.isOnDevice() && w.isContiguous();   // a device-resident model: merged where it lives
            if (!onDevice && (!(w.storage() instanceof HeapStorage) || w.storage().isReadOnly() || w.dtype() != DType.F32
                    || !w.isContiguous())) {
                base.assign(Tensor.zeros(DType.F32, MemoryKind.PARAMETER, w.shape()).copyFrom(w));
                w = base.data();
            }
            Tensor ad = a.weight.data(), bd = b.weight.data();
            int[] expected = fanInFanOut ? new int[] {ad.size(1), bd.size(0)} : new int[] {bd.size(0), ad.size(1)};
            if (!java.util.Arrays.equals(w.shape(), expected)) {
                throw new IllegalStateException("LoRA merge: base weight " + Shapes.str(w.shape()) + " but B·A"
                        + (fanInFanOut ? "ᵀ" : "") + " is " + Shapes.str(expected));
            }
            if (fanInFanOut) MatMul.gemm(s, ad.t(), bd.t(), 1, w);   // (in, out) += s · Aᵀ·Bᵀ
            else MatMul.gemm(s, bd, ad, 1, w);                        // (out, in) += s · B·A
            w.storage().bumpVersion();
        }
    }

    /** Rows of a (V, C) table by token id. */
    public static final class Embedding extends Module {
        public final Parameter weight;

        public Embedding(int vocab, int dim, Rng rng, double std) {
            this.weight = param("weight", normal(rng, std, vocab, dim));
        }

        public Variable forward(Tensor ids) { return weight.embedding(ids); }
    }

    /** LayerNorm over the last dim with weight and bias. */
    public static final class LayerNorm extends Module implements Layer {
        public final Parameter weight;
        public final Parameter bias;
        private final double eps;

        public LayerNorm(int dim, double eps) {
            this.weight = param("weight", ones(dim));
            this.bias = param("bias", zeros(dim));
            this.eps = eps;
        }

        @Override public Variable forward(Variable x) { return x.layerNorm(weight, bias, eps); }
    }

    /** RMSNorm over the last dim with a weight. */
    public static final class RmsNorm extends Module implements Layer {
        public final Parameter weight;
        private final double eps, weightOffset;

        public RmsNorm(int dim, double eps) { this(dim, eps, 0.0); }

        /**
         * An RMSNorm that scales by {@code weightOffset + weight}: Gemma's norms store the scale less one
         * (offset 1, weight initialised to 0), LLaMA's the scale itself (offset 0, weight initialised to 1).
         */
        public RmsNorm(int dim, double eps, double weightOffset) {
            Tensor w = Module.zeros(dim);
            w.fill(1.0 - weightOffset);   // a scale of 1 to start with
            this.weight = param("weight", w);
            this.eps = eps;
            this.weightOffset = weightOffset;
        }

        @Override public Variable forward(Variable x) {
            return x.rmsNorm(weightOffset == 0 ? weight : weight.add(weightOffset), eps);
        }
    }

    /** Inverted dropout in training mode; identity in eval mode or when p = 0. */
    public static final class Dropout extends Module implements Layer {
        private final double p;
        private final Rng rng;

        public Dropout(double p, Rng rng) {
            if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout: p must be in [0, 1), got " + p);
            this.p = p;
            this.rng = rng;
        }

        @Override public Variable forward(Variable x) { return isTraining() && p > 0 ? x.dropout(p, rng) : x; }
    }
}
