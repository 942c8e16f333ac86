package jlisa.optim;

import java.util.List;

import jlisa.autograd.Parameter;
import jlisa.tensor.Tensor;

/**
 * SGD as torch.optim.SGD: {@code d = g + λp}; with momentum μ, {@code b ← μb + d} (b = d on the first
 * step) and {@code d = b}, or {@code d = d + μb} with Nesterov; then {@code p ← p − lr·d}.
 */
public class Sgd extends Optimizer {
    private final double momentum;
    private final boolean nesterov;

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
