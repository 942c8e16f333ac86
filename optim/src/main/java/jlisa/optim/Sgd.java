package jlisa.optim;

import java.util.List;
import java.util.Map;

import jlisa.autograd.Parameter;
import jlisa.tensor.Tensor;

/**
 * SGD as torch.optim.SGD: {@code d = g + λp}; with momentum μ, {@code b ← μb + d} (b = d on the first
 * step) and {@code d = b}, or {@code d = d + μb} with Nesterov; then {@code p ← p − lr·d}.
 *
 * <p>Built from a model in one call: {@code new Sgd(model.namedParameters(), 0.1)}.
 *
 * <p>Not thread-safe: {@link #step()} updates parameters and momentum buffers in place; call it from one
 * thread, after backward has finished.
 */
public class Sgd extends Optimizer {
    private final double momentum;
    private final boolean nesterov;

    /**
     * Every parameter of {@code namedParameters} (a model's {@code namedParameters()}: the dotted names key
     * the state dict) in one group, with torch.optim.SGD's defaults: no momentum, no weight decay.
     */
    public Sgd(Map<String, Parameter> namedParameters, double lr) { this(namedParameters, lr, 0, false); }

    /** As {@link #Sgd(Map, double)} with momentum μ (Nesterov's form when {@code nesterov}). */
    public Sgd(Map<String, Parameter> namedParameters, double lr, double momentum, boolean nesterov) {
        this(List.of(new ParamGroup("default", namedParameters, 1.0, 0.0)), lr, momentum, nesterov);
    }

    /** Plain SGD over {@code groups} (no momentum); weight decay is each group's. */
    public Sgd(List<ParamGroup> groups, double lr) { this(groups, lr, 0, false); }

    public Sgd(List<ParamGroup> groups, double lr, double momentum, boolean nesterov) {
        super(groups, lr);
        if (!(momentum >= 0)) throw new IllegalArgumentException("SGD: momentum must be >= 0, got " + momentum);
        if (nesterov && momentum == 0) throw new IllegalArgumentException("SGD: Nesterov needs momentum > 0");
        this.momentum = momentum;
        this.nesterov = nesterov;
    }

    @Override protected void update(Parameter p, Tensor param, Tensor grad, ParamGroup group, double lr, long t) {
        float[] w = param.floatArray(), g = grad.floatArray();
        int wo = param.offset(), go = grad.offset(), n = param.numel();
        float wd = (float) group.weightDecay(), mu = (float) momentum, rate = (float) lr;
        float[] buf = momentum == 0 ? null : state(p, "momentum_buffer").floatArray();
        for (int i = 0; i < n; i++) {
            float d = g[go + i] + wd * w[wo + i];
            if (buf != null) {
                buf[i] = t == 1 ? d : mu * buf[i] + d;
                d = nesterov ? d + mu * buf[i] : buf[i];
            }
            w[wo + i] -= rate * d;
        }
    }
}
