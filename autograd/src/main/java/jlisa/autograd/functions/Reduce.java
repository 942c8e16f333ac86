package jlisa.autograd.functions;

import jlisa.autograd.Context;
import jlisa.autograd.Function;
import jlisa.tensor.Tensor;

/**
 * Reductions over dims. Backward broadcasts the gradient back over the reduced dims.
 *
 * <p>The function classes are per call (not shared between threads); the class itself holds no state.
 */
public final class Reduce {
    private Reduce() {}

    /** g of the reduced shape, with the reduced dims restored as size 1 so it broadcasts against the input. */
    static Tensor keepDims(Tensor g, int[] inputShape, int[] dims) {
        int rank = inputShape.length;
        boolean[] reduced = new boolean[rank];
        if (dims.length == 0) java.util.Arrays.fill(reduced, true);
        for (int d : dims) reduced[d < 0 ? d + rank : d] = true;
        int[] kept = new int[rank];
        for (int i = 0; i < rank; i++) kept[i] = reduced[i] ? 1 : inputShape[i];
        return g.reshape(kept);
    }

    /** Σ over dims. Backward: g broadcast to the input's shape. */
    public static final class Sum extends Function {
        private final boolean keepDim;
        private final int[] dims;

        public Sum(boolean keepDim, int... dims) {
            this.keepDim = keepDim;
            this.dims = dims.clone();
        }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.put(in[0].shape());
            return in[0].sum(keepDim, dims);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            int[] shape = ctx.value(0);
            return new Tensor[] {keepDims(g, shape, dims).expand(shape)};
        }
    }

    /** Mean over dims. Backward: g / n broadcast to the input's shape. */
    public static final class Mean extends Function {
        private final boolean keepDim;
        private final int[] dims;

        public Mean(boolean keepDim, int... dims) {
            this.keepDim = keepDim;
            this.dims = dims.clone();
        }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor out = in[0].mean(keepDim, dims);
            ctx.put(in[0].shape()).put((double) in[0].numel() / Math.max(1, out.numel()));
            return out;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            int[] shape = ctx.value(0);
            double n = ctx.value(1);
            return new Tensor[] {keepDims(g, shape, dims).mul(1.0 / n).expand(shape)};
        }
    }

    /**
     * Maximum over dims. Backward: the gradient goes to the elements equal to the maximum, split
     * evenly among ties (PyTorch's amax rule), so it is well defined where the max is not unique.
     */
    public static final class Max extends Function {
        private final boolean keepDim;
        private final int[] dims;

        public Max(boolean keepDim, int... dims) {
            this.keepDim = keepDim;
            this.dims = dims.clone();
        }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor out = in[0].max(keepDim, dims);
            ctx.save(in[0], out);
            return out;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor x = ctx.saved(0), out = ctx.saved(1);
            int[] shape = x.shape();
            Tensor belowMax = keepDims(out, shape, dims).sub(x).step();      // 1 where x < max, 0 at the maxima
            Tensor isMax = belowMax.neg().add(1.0);
            Tensor count = isMax.sum(true, dims);
            return new Tensor[] {isMax.mul(keepDims(g, shape, dims)).div(count)};
        }
    }

    /** Variance over dims with a correction (1 = unbiased). Backward: g · 2(x − mean) / (n − correction). */
    public static final class Var extends Function {
        private final boolean keepDim;
        private final int correction;
        private final int[] dims;

        public Var(boolean keepDim, int correction, int... dims) {
            this.keepDim = keepDim;
            this.correction = correction;
            this.dims = dims.clone();
        }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor out = in[0].var(keepDim, correction, dims);
            ctx.save(in[0]);
            ctx.put((double) in[0].numel() / Math.max(1, out.numel()));
            return out;
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor x = ctx.saved(0);
            double n = ctx.value(0);
            Tensor centred = x.sub(x.mean(true, dims));
            return new Tensor[] {centred.mul(keepDims(g, x.shape(), dims)).mul(2.0 / (n - correction))};
        }
    }
}
