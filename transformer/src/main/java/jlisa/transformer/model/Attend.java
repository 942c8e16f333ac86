package jlisa.transformer.model;

import jlisa.autograd.GradMode;
import jlisa.autograd.Variable;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Attention;

/**
 * Causal attention, through the KV cache when one is given (generation, no grad). The kernel reads q, k, v as views
 * (a transposed (B, T, H, D) projection, or a packed qkv) and its output merges back into (B, T, H·D) as a view.
 */
final class Attend {
    private Attend() {}

    /** Attention of (B, H, T, D) heads q over k, v (B, Hkv, T, D) with the layer's scale, soft-cap and window; returns (B, H, T, D). */
    static Variable attend(Variable q, Variable k, Variable v, KvCache cache, int layer, Attention.Spec spec) {
        if (cache == null) return q.causalAttention(k, v, spec);
        checkNoGrad(q, k, v);
        return new Variable(cache.attend(layer, q.data(), k.data(), v.data(), null, spec));
    }

    /** Self-attention over a packed projection qkv (B, T, (H + 2·Hkv)·D) holding q, k, v side by side; returns (B, T, H·D). */
    static Variable attendPacked(Variable qkv, int heads, int kvHeads, KvCache cache, int layer) {
        if (cache == null) return qkv.causalSelfAttention(heads, kvHeads);
        checkNoGrad(qkv);
        Tensor[] views = Attention.unpack(qkv.data(), heads, kvHeads);
        int B = qkv.data().size(0), T = qkv.data().size(1), D = views[0].size(3);
        Tensor out = Tensor.empty(qkv.data().dtype().computeType(), B, T, heads * D);
        cache.attend(layer, views[0], views[1], views[2], Attention.splitHeads(out, heads));
        return new Variable(out);
    }

    private static void checkNoGrad(Variable... inputs) {
        boolean needs = false;
        for (Variable x : inputs) needs |= x.requiresGrad();
        if (GradMode.isEnabled() && needs) {
            throw new IllegalStateException("attention with a KV cache is for generation; run it in a no-grad scope");
        }
    }
}
