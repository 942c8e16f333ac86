package jlisa.autograd.functions;

import jlisa.autograd.Context;
import jlisa.autograd.Function;
import jlisa.tensor.Tensor;

/**
 * Shape ops. Forwards return views (no copy) where the layout allows; backwards move the gradient
 * back into the input's shape, as a view where possible too.
 *
 * <p>The function classes are per call (not shared between threads); the class itself holds no state.
 */
public final class Views {
    private Views() {}

    /** Same elements, new shape (a view when the layout allows, else a copy). Backward: g reshaped back. */
    public static final class Reshape extends Function {
        private final int[] shape;

        public Reshape(int... shape) { this.shape = shape.clone(); }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.put(in[0].shape());
            return in[0].reshape(shape);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.reshape(ctx.<int[]>value(0))}; }
    }

    /** Swaps two dims. Backward: swaps them back. */
    public static final class Transpose extends Function {
        private final int dim0, dim1;

        public Transpose(int dim0, int dim1) {
            this.dim0 = dim0;
            this.dim1 = dim1;
        }

        @Override protected Tensor forward(Context ctx, Tensor... in) { return in[0].transpose(dim0, dim1); }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.transpose(dim0, dim1)}; }
    }

    /** Reorders dims. Backward: the inverse permutation. */
    public static final class Permute extends Function {
        private final int[] order;

        public Permute(int... order) { this.order = order.clone(); }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor out = in[0].permute(order);
            int rank = order.length;
            int[] inverse = new int[rank];
            for (int i = 0; i < rank; i++) inverse[order[i] < 0 ? order[i] + rank : order[i]] = i;
            ctx.put(inverse);
            return out;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.permute(ctx.<int[]>value(0))}; }
    }

    /**
     * Elements start, start+step, … below end along a dim (narrow is step 1). Backward: a zero
     * gradient of the input's shape with g written into the same slice.
     */
    public static final class Slice extends Function {
        private final int dim, start, end, step;

        public Slice(int dim, int start, int end, int step) {
            this.dim = dim;
            this.start = start;
            this.end = end;
            this.step = step;
        }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.put(in[0].shape());
            return in[0].slice(dim, start, end, step);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor dx = Tensor.zeros(g.dtype(), ctx.<int[]>value(0));
            dx.slice(dim, start, end, step).copyFrom(g);
            return new Tensor[] {dx};
        }
    }

    /** Broadcasts to a bigger shape without copying. Backward: sums over the broadcast dims. */
    public static final class Expand extends Function {
        private final int[] shape;

        public Expand(int... shape) { this.shape = shape.clone(); }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.put(in[0].shape());
            return in[0].expand(shape);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            return new Tensor[] {Broadcast.sumToShape(g, ctx.value(0))};
        }
    }

    /** A contiguous copy (or the input when already contiguous). Backward: g. */
    public static final class Contiguous extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) { return in[0].contiguous(); }

        @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g}; }
    }

    /** Joins inputs along a dim. Backward: each input gets its slice of g (a view). */
    public static final class Cat extends Function {
        private final int dim;

        public Cat(int dim) { this.dim = dim; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            int[] sizes = new int[in.length];
            for (int i = 0; i < in.length; i++) sizes[i] = in[i].dim() == 0 ? 0 : in[i].size(dim);
            ctx.put(sizes);
            return Tensor.cat(dim, in);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor[] parts = g.split(dim, ctx.<int[]>value(0));
            for (int i = 0; i < parts.length; i++) if (!ctx.needsGrad(i)) parts[i] = null;
            return parts;
        }
    }
}
