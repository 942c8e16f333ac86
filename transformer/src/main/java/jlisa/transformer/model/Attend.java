package jlisa.transformer.model;

import jlisa.autograd.GradMode;
import jlisa.autograd.Variable;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Attention;

/** Causal attention of (B, H, T, D) heads, through the KV cache when one is given (generation, no grad). */
final class Attend {
    private Attend() {}

    static Variable attend(Variable q, Variable k, Variable v, KvCache cache, int layer) {
        if (cache == null) return q.causalAttention(k, v);
        if (GradMode.isEnabled() && (q.requiresGrad() || k.requiresGrad() || v.requiresGrad())) {
            throw new IllegalStateException("attention with a KV cache is for generation; run it in a no-grad scope");
        }
        Tensor[] kv = cache.append(layer, k.data(), v.data());
        Tensor out = Attention.forward(q.data(), kv[0], kv[1], Attention.defaultScale(q.data().size(3))).out();
        return new Variable(out);
    }
}
