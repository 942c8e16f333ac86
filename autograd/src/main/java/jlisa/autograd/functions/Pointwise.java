package jlisa.autograd.functions;

import jlisa.autograd.Context;
import jlisa.autograd.Function;
import jlisa.tensor.Tensor;

/**
 * Elementwise arithmetic. Binary ops broadcast in forward, so their backward sums each gradient back
 * to its input's shape ({@link Broadcast#sumToShape}).
 *
 * <p>The function classes are per call (not shared between threads); the class itself holds no state.
 */
public final class Pointwise {
    private Pointwise() {}

    /** a + b. Backward: da = g, db = g (each summed over broadcast dims). */
    public static final class Add extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.put(in[0].shape()).put(in[1].shape());
            return in[0].add(in[1]);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            return new Tensor[] {
                ctx.needsGrad(0) ? Broadcast.sumToShape(g, ctx.value(0)) : null,
                ctx.needsGrad(1) ? Broadcast.sumToShape(g, ctx.value(1)) : null};
        }
    }

    /** a − b. Backward: da = g, db = −g. */
    public static final class Sub extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.put(in[0].shape()).put(in[1].shape());
            return in[0].sub(in[1]);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            return new Tensor[] {
                ctx.needsGrad(0) ? Broadcast.sumToShape(g, ctx.value(0)) : null,
                ctx.needsGrad(1) ? Broadcast.sumToShape(g.neg(), ctx.value(1)) : null};
        }
    }

    /** a · b. Backward: da = g · b, db = g · a. */
    public static final class Mul extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.save(in[0], in[1]);
            return in[0].mul(in[1]);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor a = ctx.saved(0), b = ctx.saved(1);
            return new Tensor[] {
                ctx.needsGrad(0) ? Broadcast.sumToShape(g.mul(b), a.shape()) : null,
                ctx.needsGrad(1) ? Broadcast.sumToShape(g.mul(a), b.shape()) : null};
        }
    }

    /** a / b. Backward: da = g / b, db = −g · a / b². */
    public static final class Div extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.save(in[0], in[1]);
            return in[0].div(in[1]);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor a = ctx.saved(0), b = ctx.saved(1);
            Tensor gOverB = g.div(b);
            return new Tensor[] {
                ctx.needsGrad(0) ? Broadcast.sumToShape(gOverB, a.shape()) : null,
                ctx.needsGrad(1) ? Broadcast.sumToShape(gOverB.mul(a).div(b).neg(), b.shape()) : null};
        }
    }

    /** x + s for a constant s. Backward: g. */
    public static final class AddScalar extends Function {
        private final double s;

        public AddScalar(double s) { this.s = s; }

        @Override protected Tensor forward(Context ctx, Tensor... in) { return in[0].add(s); }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g}; }
    }

    /** x · s for a constant s. Backward: g · s. */
    public static final class MulScalar extends Function {
        private final double s;

        public MulScalar(double s) { this.s = s; }

        @Override protected Tensor forward(Context ctx, Tensor... in) { return in[0].mul(s); }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.mul(s)}; }
    }

    /** x^p for a constant p. Backward: g · p · x^(p−1). */
    public static final class PowScalar extends Function {
        private final double p;

        public PowScalar(double p) { this.p = p; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.save(in[0]);
            return in[0].pow(p);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            return new Tensor[] {g.mul(ctx.saved(0).pow(p - 1).mul(p))};
        }
    }

    /** −x. Backward: −g. */
    public static final class Neg extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) { return in[0].neg(); }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.neg()}; }
    }

    /** eˣ. Backward: g · y (the saved output). */
    public static final class Exp extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor y = in[0].exp();
            ctx.save(y);
            return y;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.mul(ctx.saved(0))}; }
    }

    /** ln x. Backward: g / x. */
    public static final class Log extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.save(in[0]);
            return in[0].log();
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.div(ctx.saved(0))}; }
    }

    /** √x. Backward: g / (2y). */
    public static final class Sqrt extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor y = in[0].sqrt();
            ctx.save(y);
            return y;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.div(ctx.saved(0)).mul(0.5)}; }
    }

    /** tanh x. Backward: g · (1 − y²). */
    public static final class Tanh extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor y = in[0].tanh();
            ctx.save(y);
            return y;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor y = ctx.saved(0);
            return new Tensor[] {g.mul(y.square().neg().add(1.0))};
        }
    }

    /** σ(x). Backward: g · y · (1 − y). */
    public static final class Sigmoid extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor y = in[0].sigmoid();
            ctx.save(y);
            return y;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor y = ctx.saved(0);
            return new Tensor[] {g.mul(y).mul(y.neg().add(1.0))};
        }
    }

    /** max(x, 0). Backward: g where x > 0, else 0. */
    public static final class Relu extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor y = in[0].relu();
            ctx.save(y);
            return y;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.mul(ctx.saved(0).step())}; }
    }

    /** |x|. Backward: g · sign(x) (0 at 0, as PyTorch). */
    public static final class Abs extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.save(in[0]);
            return in[0].abs();
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.mul(ctx.saved(0).sign())}; }
    }
}
