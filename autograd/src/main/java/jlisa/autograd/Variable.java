package jlisa.autograd;

import java.util.Arrays;

import jlisa.autograd.functions.Layers;
import jlisa.autograd.functions.Pointwise;
import jlisa.autograd.functions.Products;
import jlisa.autograd.functions.Reduce;
import jlisa.autograd.functions.Views;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Attention;
import jlisa.tensor.kernels.Rope;

/**
 * A differentiable value: a {@link Tensor} plus what reverse-mode differentiation needs — whether it
 * requires a gradient, the gradient itself once {@link #backward()} has run, and, for values computed
 * by an op, the graph {@link Node} that made it.
 *
 * <p>Every op here is one {@link Function} applied through {@link Function#apply}; the ops mirror the
 * tensor module's (broadcasting, views, reductions, matmul) and add the transformer layers.
 *
 * <p>Memory: {@code backward()} frees the graph as it goes, including the values of intermediate
 * variables that ops allocated; reading such a value afterwards throws. Call {@link #retain()} on
 * an intermediate before backward to keep it, or pass {@code retainGraph}.
 *
 * <p>Not thread-safe: a graph is built, walked backward and freed by one thread; build separate graphs on separate threads.
 */
public class Variable {
    private Tensor data;
    private Tensor grad;
    private boolean requiresGrad;
    private boolean retained;
    private boolean freed;
    Node gradFn;

    /** A constant: no gradient. */
    public Variable(Tensor data) { this(data, false); }

    /** A leaf that requires a gradient when {@code requiresGrad}. */
    public Variable(Tensor data, boolean requiresGrad) {
        if (data == null) throw new IllegalArgumentException("Variable: data must not be null");
        this.data = data;
        this.requiresGrad = requiresGrad;
    }

    // ---------------------------------------------------------------- state

    /** The value. Throws if backward freed it (see {@link #retain()}). */
    public Tensor data() {
        if (freed) {
            throw new IllegalStateException("this intermediate value (made by " + gradFn.name() + ") was freed by backward(); "
                    + "call retain() on it before backward, or backward with retainGraph=true");
        }
        return data;
    }

    /** The accumulated gradient, or null before any backward reached it. */
    public Tensor grad() { return grad; }

    public boolean requiresGrad() { return requiresGrad; }

    /** True for values not made by a recorded op (inputs, parameters, constants). */
    public boolean isLeaf() { return gradFn == null; }

    /** The node that made this value, or null for a leaf. */
    public Node gradFn() { return gradFn; }

    /** Turns gradient tracking on or off for a leaf (intermediates inherit theirs from their inputs). */
    public Variable requiresGrad(boolean on) {
        if (!isLeaf()) {
            throw new IllegalStateException("requiresGrad can only be changed on a leaf; this value was made by " + gradFn.name()
                    + " (use detach() for a leaf copy of it)");
        }
        requiresGrad = on;
        return this;
    }

    /** Drops the gradient and releases its memory (PyTorch's zero_grad with set_to_none). */
    public void zeroGrad() {
        if (grad != null) grad.storage().release();
        grad = null;
    }

    /** A leaf sharing this value's tensor, with no history and no gradient. */
    public Variable detach() { return new Variable(data(), false); }

    /** Keeps this intermediate value alive when backward frees the graph. Returns this. */
    public Variable retain() {
        retained = true;
        return this;
    }

    boolean isRetained() { return retained; }

    /** The tensor even when freed (the engine's bookkeeping: shapes, storage identity). */
    Tensor rawData() { return data; }

    boolean isFreed() { return freed; }

    /** Replaces a leaf's value (loading weights); the gradient is dropped. */
    void replaceData(Tensor newData) {
        if (!isLeaf()) throw new IllegalStateException("only a leaf's value can be replaced; this one was made by " + gradFn.name());
        zeroGrad();
        data = newData;
    }

    void markFreed() { freed = true; }

    /**
     * Adds {@code g} into the gradient. When there is none yet and the engine passes ownership
     * ({@code mayAdopt}), the tensor becomes the gradient without a copy; returns true if it did.
     */
    boolean accumulateGrad(Tensor g, boolean mayAdopt) {
        if (grad == null) {
            DType dtype = data.dtype().computeType();
            boolean whole = g.isDense() || (g.isOnDevice() && g.isContiguous() && data.isOnDevice());
            if (mayAdopt && whole && g.offset() == 0 && g.numel() == g.storage().length() && g.dtype() == dtype) {
                g.storage().relabel(MemoryKind.GRADIENT);
                grad = g.view(data.shape());
                return true;
            }
            grad = Tensor.emptyOn(data, dtype, MemoryKind.GRADIENT, data.shape()).copyFrom(g);   // where the value is
            return false;
        }
        grad.addInPlace(g);
        return false;
    }

    // ---------------------------------------------------------------- backward

    /** Backpropagates from this scalar: every leaf that requires grad gets d(this)/d(leaf) added to its grad. */
    public void backward() { Backward.run(this, null, false); }

    /** Backpropagates {@code gradient} (this value's shape) — the vector-Jacobian product. */
    public void backward(Tensor gradient) { Backward.run(this, gradient, false); }

    /** As {@link #backward(Tensor)}; with {@code retainGraph} the graph stays usable for another backward. */
    public void backward(Tensor gradient, boolean retainGraph) { Backward.run(this, gradient, retainGraph); }

    // ---------------------------------------------------------------- arithmetic (broadcasting)

    public Variable add(Variable o) { return Function.apply(new Pointwise.Add(), this, o); }

    public Variable sub(Variable o) { return Function.apply(new Pointwise.Sub(), this, o); }

    public Variable mul(Variable o) { return Function.apply(new Pointwise.Mul(), this, o); }

    public Variable div(Variable o) { return Function.apply(new Pointwise.Div(), this, o); }

    public Variable add(double s) { return Function.apply(new Pointwise.AddScalar(s), this); }

    public Variable sub(double s) { return Function.apply(new Pointwise.AddScalar(-s), this); }

    public Variable mul(double s) { return Function.apply(new Pointwise.MulScalar(s), this); }

    public Variable div(double s) { return Function.apply(new Pointwise.MulScalar(1.0 / s), this); }

    public Variable pow(double p) { return Function.apply(new Pointwise.PowScalar(p), this); }

    public Variable neg() { return Function.apply(new Pointwise.Neg(), this); }

    public Variable exp() { return Function.apply(new Pointwise.Exp(), this); }

    public Variable log() { return Function.apply(new Pointwise.Log(), this); }

    public Variable sqrt() { return Function.apply(new Pointwise.Sqrt(), this); }

    public Variable tanh() { return Function.apply(new Pointwise.Tanh(), this); }

    public Variable sigmoid() { return Function.apply(new Pointwise.Sigmoid(), this); }

    public Variable relu() { return Function.apply(new Pointwise.Relu(), this); }

    public Variable abs() { return Function.apply(new Pointwise.Abs(), this); }

    // ---------------------------------------------------------------- products

    /** Matrix product with PyTorch's matmul semantics: 1-D operands promoted, batch dims broadcast (bmm included). */
    public Variable matmul(Variable o) {
        boolean vecA = data().dim() == 1, vecB = o.data().dim() == 1;
        Variable a = vecA ? unsqueeze(0) : this, b = vecB ? o.unsqueeze(1) : o;
        Variable r = Function.apply(new Products.MatMulFn(), a, b);
        if (vecA) r = r.squeeze(-2);
        if (vecB) r = r.squeeze(-1);
        return r;
    }

    /** x · Wᵀ, for this x (..., in) and {@code weight} (out, in): a linear layer without bias. */
    public Variable linear(Variable weight) { return linear(weight, null); }

    /** x · Wᵀ + b, for this x (..., in), {@code weight} (out, in) and {@code bias} (out), or null as {@link #linear(Variable)}. */
    public Variable linear(Variable weight, Variable bias) {
        return Function.apply(new Products.Linear(), this, weight, bias);
    }

    /**
     * A LoRA-adapted linear layer, as one op: x · Wᵀ + b + scaling · (dropped · Aᵀ) · Bᵀ, for {@code loraA} (r, in),
     * {@code loraB} (out, r) and {@code dropped} the dropped-out x (null: x itself). With {@code weightInOut}, W is
     * stored (in, out) as GPT-2's Conv1D. See {@link jlisa.autograd.functions.Products.LoraLinear}.
     */
    public Variable linearLora(Variable weight, Variable bias, boolean weightInOut, Variable loraA, Variable loraB,
                               double scaling, Variable dropped) {
        return Function.apply(new Products.LoraLinear(scaling, weightInOut), this, weight, bias, loraA, loraB, dropped);
    }

    /** x · W + b for {@code weight} stored (in, out), as GPT-2's Conv1D; its gradient comes out (in, out) without a copy. */
    public Variable linearInOut(Variable weight, Variable bias) {
        return Function.apply(new Products.Linear(true), this, weight, bias);
    }

    // ---------------------------------------------------------------- views

    public Variable reshape(int... shape) { return Function.apply(new Views.Reshape(shape), this); }

    /** Same as {@link #reshape}: autograd does not distinguish views from copies. */
    public Variable view(int... shape) { return reshape(shape); }

    public Variable transpose(int dim0, int dim1) { return Function.apply(new Views.Transpose(dim0, dim1), this); }

    public Variable permute(int... order) { return Function.apply(new Views.Permute(order), this); }

    public Variable narrow(int dim, int start, int length) {
        return Function.apply(new Views.Slice(dim, start, start + length, 1), this);
    }

    public Variable slice(int dim, int start, int end, int step) {
        return Function.apply(new Views.Slice(dim, start, end, step), this);
    }

    public Variable expand(int... shape) { return Function.apply(new Views.Expand(shape), this); }

    public Variable unsqueeze(int dim) { return reshape(data().unsqueeze(dim).shape()); }

    public Variable squeeze(int dim) { return reshape(data().squeeze(dim).shape()); }

    public Variable contiguous() { return Function.apply(new Views.Contiguous(), this); }

    /** Joins variables along {@code dim}. */
    public static Variable cat(int dim, Variable... parts) { return Function.apply(new Views.Cat(dim), parts); }

    /** Consecutive pieces along {@code dim} with the given sizes (each a differentiable slice). */
    public Variable[] split(int dim, int... sizes) {
        int d = jlisa.tensor.Shapes.dim(dim, data().dim(), "split");
        long total = 0;
        for (int s : sizes) total += s;
        if (total != data().size(d)) {
            throw new IllegalArgumentException("split: sizes " + Arrays.toString(sizes) + " add up to " + total
                    + " but dim " + d + " of " + Arrays.toString(data().shape()) + " has " + data().size(d));
        }
        Variable[] out = new Variable[sizes.length];
        for (int i = 0, at = 0; i < sizes.length; at += sizes[i++]) out[i] = narrow(d, at, sizes[i]);
        return out;
    }

    // ---------------------------------------------------------------- reductions

    public Variable sum(int... dims) { return sum(false, dims); }

    public Variable sum(boolean keepDim, int... dims) { return Function.apply(new Reduce.Sum(keepDim, dims), this); }

    public Variable mean(int... dims) { return mean(false, dims); }

    public Variable mean(boolean keepDim, int... dims) { return Function.apply(new Reduce.Mean(keepDim, dims), this); }

    /** Maximum over dims; the gradient is split evenly among tied maxima. */
    public Variable max(boolean keepDim, int... dims) { return Function.apply(new Reduce.Max(keepDim, dims), this); }

    public Variable var(boolean keepDim, int correction, int... dims) {
        return Function.apply(new Reduce.Var(keepDim, correction, dims), this);
    }

    // ---------------------------------------------------------------- transformer layers

    /** softmax over {@code dim}. */
    public Variable softmax(int dim) { return alongLastDim(dim, new Layers.SoftmaxFn()); }

    /** log-softmax over {@code dim}. */
    public Variable logSoftmax(int dim) { return alongLastDim(dim, new Layers.LogSoftmaxFn()); }

    private Variable alongLastDim(int dim, Function fn) {
        int d = jlisa.tensor.Shapes.dim(dim, data().dim(), fn.name().toLowerCase());
        int last = data().dim() - 1;
        if (d == last) return Function.apply(fn, this);
        return Function.apply(fn, transpose(d, last)).transpose(d, last);
    }

    /** LayerNorm over the last dim without an affine part (PyTorch's {@code elementwise_affine=False}). */
    public Variable layerNorm(double eps) { return layerNorm(null, null, eps); }

    /** LayerNorm over the last dim; weight and bias may be null (no scale, no shift), as {@link #layerNorm(double)}. */
    public Variable layerNorm(Variable weight, Variable bias, double eps) {
        return Function.apply(new Layers.LayerNormFn(eps), this, weight, bias);
    }

    /** RMSNorm over the last dim without a weight. */
    public Variable rmsNorm(double eps) { return rmsNorm(null, eps); }

    /** RMSNorm over the last dim; weight may be null (no scale), as {@link #rmsNorm(double)}. */
    public Variable rmsNorm(Variable weight, double eps) { return Function.apply(new Layers.RmsNormFn(eps), this, weight); }

    /** GELU with the tanh approximation (GPT-2's "gelu_new"). */
    public Variable geluTanh() { return Function.apply(new Layers.Gelu(true), this); }

    /** GELU, exact (erf) form. */
    public Variable gelu() { return Function.apply(new Layers.Gelu(false), this); }

    public Variable silu() { return Function.apply(new Layers.Silu(), this); }

    /** Rows of this weight (V, C) for I32 token ids of any shape: shape ids.shape + (C). */
    public Variable embedding(Tensor ids) { return Function.apply(new Layers.EmbeddingFn(ids), this); }

    /** Mean cross-entropy of these logits (..., V) against I32 targets, skipping {@code ignoreIndex}. */
    public Variable crossEntropy(Tensor targets, int ignoreIndex) {
        return Function.apply(new Layers.CrossEntropyFn(targets, ignoreIndex), this);
    }

    /** Causal attention of q = this (B, H, T, D) over k, v (B, Hkv, T, D), scale 1/√D. */
    public Variable causalAttention(Variable k, Variable v) {
        return causalAttention(k, v, Attention.defaultScale(data().size(-1)));
    }

    /** As {@link #causalAttention(Variable, Variable)} with scores scaled by {@code scale}. */
    public Variable causalAttention(Variable k, Variable v, double scale) {
        return Function.apply(new Layers.AttentionFn(scale), this, k, v);
    }

    /** As {@link #causalAttention(Variable, Variable)} with the scale, soft-cap and sliding window of {@code spec}. */
    public Variable causalAttention(Variable k, Variable v, Attention.Spec spec) {
        return Function.apply(new Layers.AttentionFn(spec), this, k, v);
    }

    /**
     * Causal self-attention over this packed projection (B, T, (H + 2·Hkv)·D), q, k and v side by side along the last
     * dim; returns (B, T, H·D), scale 1/√D. Reads the three where they lie and writes one gradient for this.
     */
    public Variable causalSelfAttention(int heads, int kvHeads) {
        int D = data().size(-1) / (heads + 2 * kvHeads);
        return Function.apply(new Layers.PackedAttentionFn(heads, kvHeads, Attention.defaultScale(D)), this);
    }

    /** Inverted dropout with probability {@code p} drawn from {@code rng}; identity when p = 0. */
    public Variable dropout(double p, Rng rng) {
        if (p == 0) return this;
        return Function.apply(new Layers.DropoutFn(p, rng), this);
    }

    /** Rotary position embedding of this (B, H, T, D) with precomputed tables. */
    public Variable rope(Rope.Cache cache, Rope.Layout layout) { return Function.apply(new Layers.RopeFn(cache, layout), this); }

    // ---------------------------------------------------------------- printing

    @Override public String toString() {
        String kind = isLeaf() ? (requiresGrad ? "leaf, requires grad" : "constant") : "made by " + gradFn.name();
        return "Variable(" + (freed ? "freed" : data.toString()) + ", " + kind + ")";
    }
}
