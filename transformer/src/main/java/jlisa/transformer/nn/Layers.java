package jlisa.transformer.nn;

import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;

/** The basic layers, each a small module with its parameters under Hugging Face's names. */
public final class Layers {
    private Layers() {}

    /** N(0, std) init into PARAMETER storage; zeros when {@code rng} is null (weights will be loaded). */
    static Tensor normal(Rng rng, double std, int... shape) {
        Tensor t = Module.zeros(shape);
        if (rng != null) t.copyFrom(Tensor.randn(rng, 0, std, DType.F32, shape));
        return t;
    }

    /** y = x · Wᵀ + b with W stored (out, in), as torch.nn.Linear. */
    public static final class Linear extends Module {
        public final Parameter weight;
        public final Parameter bias;

        public Linear(int in, int out, boolean bias, Rng rng, double std) {
            this.weight = param("weight", normal(rng, std, out, in));
            this.bias = bias ? param("bias", zeros(out)) : null;
        }

        public Variable forward(Variable x) { return x.linear(weight, bias); }

        public int in() { return weight.data().size(1); }

        public int out() { return weight.data().size(0); }
    }

    /** y = x · W + b with W stored (in, out), as GPT-2's Conv1D; read through a transposed view, never copied. */
    public static final class Conv1D extends Module {
        public final Parameter weight;
        public final Parameter bias;

        public Conv1D(int in, int out, Rng rng, double std) {
            this.weight = param("weight", normal(rng, std, in, out));
            this.bias = param("bias", zeros(out));
        }

        public Variable forward(Variable x) { return x.linear(weight.transpose(0, 1), bias); }
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
    public static final class LayerNorm extends Module {
        public final Parameter weight;
        public final Parameter bias;
        private final double eps;

        public LayerNorm(int dim, double eps) {
            this.weight = param("weight", Tensor.full(1.0, DType.F32, dim));
            this.bias = param("bias", zeros(dim));
            this.eps = eps;
        }

        public Variable forward(Variable x) { return x.layerNorm(weight, bias, eps); }
    }

    /** RMSNorm over the last dim with a weight. */
    public static final class RmsNorm extends Module {
        public final Parameter weight;
        private final double eps;

        public RmsNorm(int dim, double eps) {
            this.weight = param("weight", Tensor.full(1.0, DType.F32, dim));
            this.eps = eps;
        }

        public Variable forward(Variable x) { return x.rmsNorm(weight, eps); }
    }

    /** Inverted dropout in training mode; identity in eval mode or when p = 0. */
    public static final class Dropout extends Module {
        private final double p;
        private final Rng rng;

        public Dropout(double p, Rng rng) {
            if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout: p must be in [0, 1), got " + p);
            this.p = p;
            this.rng = rng;
        }

        public Variable forward(Variable x) { return isTraining() && p > 0 ? x.dropout(p, rng) : x; }
    }
}
