package jlisa.optim;

import java.util.List;
import java.util.Map;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import jlisa.autograd.Parameter;
import jlisa.tensor.Backend;
import jlisa.tensor.DeviceStorage;
import jlisa.tensor.Parallel;
import jlisa.tensor.Tensor;

/**
 * AdamW (Loshchilov &amp; Hutter), as torch.optim.AdamW computes it: decoupled weight decay
 * {@code p ← p·(1 − lr·λ)}, moments {@code m ← β₁m + (1−β₁)g}, {@code v ← β₂v + (1−β₂)g²}, and
 * {@code p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)} with each parameter's own step count t.
 * Moments kept in an accelerator's memory (an active {@link Backend} when they were created) are updated
 * there by the backend's fused kernel.
 *
 * <p>Built from a model in one call: {@code new AdamW(model.namedParameters(), 1e-3)}.
 *
 * <p>Not thread-safe: {@link #step()} updates parameters and moments in place (itself split over the
 * kernel thread pool); call it from one thread, after backward has finished.
 */
public class AdamW extends Optimizer {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private final double beta1, beta2, eps;

    /**
     * Every parameter of {@code namedParameters} (a model's {@code namedParameters()}: the dotted names key
     * the state dict) in one group, with torch.optim.AdamW's defaults: betas (0.9, 0.999), eps 1e-8 and
     * weight decay 0.01 on every parameter. For decay on matrices only, pass {@link ParamGroup#withDecay}.
     */
    public AdamW(Map<String, Parameter> namedParameters, double lr) { this(namedParameters, lr, 0.01); }

    /** As {@link #AdamW(Map, double)} with weight decay {@code weightDecay} on every parameter. */
    public AdamW(Map<String, Parameter> namedParameters, double lr, double weightDecay) {
        this(List.of(new ParamGroup("default", namedParameters, 1.0, weightDecay)), lr);
    }

    /** PyTorch's defaults for betas (0.9, 0.999) and eps (1e-8); weight decay is each group's. */
    public AdamW(List<ParamGroup> groups, double lr) { this(groups, lr, 0.9, 0.999, 1e-8); }

    public AdamW(List<ParamGroup> groups, double lr, double beta1, double beta2, double eps) {
        super(groups, lr);
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("AdamW: betas must be in [0, 1), got (" + beta1 + ", " + beta2 + ")");
        }
        if (!(eps >= 0)) throw new IllegalArgumentException("AdamW: eps must be >= 0, got " + eps);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    @Override protected boolean updatesOnDevice() { return true; }

    @Override protected void update(Parameter p, Tensor param, Tensor grad, ParamGroup group, double lr, long t) {
        Tensor m = state(p, "exp_avg"), v = state(p, "exp_avg_sq");
        double bc1 = 1 - Math.pow(beta1, t), bc2 = 1 - Math.pow(beta2, t);
        if (m.storage() instanceof DeviceStorage device) {
            // The moments live in an accelerator's memory: its fused kernel runs this same update there.
            device.backend().adamw(param, grad, m, v, new Backend.AdamWStep((float) lr, (float) beta1, (float) beta2,
                    (float) eps, (float) group.weightDecay(), (float) (lr / bc1), (float) Math.sqrt(bc2)));
            return;
        }
        update(param.floatArray(), param.offset(), grad.floatArray(), grad.offset(), m.floatArray(), v.floatArray(),
                param.numel(), (float) lr, (float) beta1, (float) beta2, (float) eps, (float) group.weightDecay(),
                (float) (lr / bc1), (float) Math.sqrt(bc2));
    }

    /**
     * The fused update over n elements (m and v indexed from 0), split across threads by range: every
     * element is updated alone, so the result does not depend on the thread count.
     */
    public static void update(float[] p, int pOff, float[] g, int gOff, float[] m, float[] v, int n, float lr,
                              float beta1, float beta2, float eps, float weightDecay, float stepSize, float bc2Sqrt) {
        float decay = 1 - lr * weightDecay, b1c = 1 - beta1, b2c = 1 - beta2;
        Parallel.forRange(0, n, 1 << 15, (lo, hi) -> {
            int i = lo;
            // whole vectors from lo; the range ends are multiples of nothing in particular, so lanes and tail
            // must compute the same bits: they do (mul/fma/sqrt/div are exactly rounded in both).
            for (int bound = lo + S.loopBound(hi - lo); i < bound; i += S.length()) {
                FloatVector gi = FloatVector.fromArray(S, g, gOff + i);
                FloatVector mi = FloatVector.fromArray(S, m, i).mul(beta1).add(gi.mul(b1c));
                FloatVector vi = FloatVector.fromArray(S, v, i).mul(beta2).add(gi.mul(gi).mul(b2c));
                mi.intoArray(m, i);
                vi.intoArray(v, i);
                FloatVector denom = vi.sqrt().div(bc2Sqrt).add(eps);
                FloatVector pi = FloatVector.fromArray(S, p, pOff + i).mul(decay);
                pi.sub(mi.div(denom).mul(stepSize)).intoArray(p, pOff + i);
            }
            for (; i < hi; i++) {
                float gi = g[gOff + i];
                float mi = m[i] * beta1 + gi * b1c;
                float vi = v[i] * beta2 + gi * gi * b2c;
                m[i] = mi;
                v[i] = vi;
                float denom = (float) Math.sqrt(vi) / bc2Sqrt + eps;
                p[pOff + i] = p[pOff + i] * decay - mi / denom * stepSize;
            }
        });
    }
}
