package jlisa.autograd.functions;

import java.util.Arrays;

import jlisa.autograd.Context;
import jlisa.autograd.Function;
import jlisa.tensor.DType;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.MatMul;

/** Matrix products. Transposed operands are passed to GEMM as strided views, never copied. */
public final class Products {
    private Products() {}

    /**
     * a @ b for a (..., m, k), b (..., k, n) with broadcast batch dims (1-D operands are promoted by
     * {@link jlisa.autograd.Variable#matmul}). Backward: da = g · bᵀ, db = aᵀ · g, each summed over the
     * batch dims its operand was broadcast along.
     */
    public static final class MatMulFn extends Function {
        @Override public String name() { return "MatMul"; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor a = in[0], b = in[1];
            if (a.dim() < 2 || b.dim() < 2) {
                throw new IllegalArgumentException("matmul: the autograd op takes operands of rank ≥ 2, got "
                        + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
            }
            ctx.save(a, b);
            return a.matmul(b);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor a = ctx.saved(0), b = ctx.saved(1);
            Tensor da = ctx.needsGrad(0) ? Broadcast.sumToShape(g.matmul(b.transpose(-1, -2)), a.shape()) : null;
            Tensor db = ctx.needsGrad(1) ? Broadcast.sumToShape(a.transpose(-1, -2).matmul(g), b.shape()) : null;
            return new Tensor[] {da, db};
        }
    }

    /**
     * y = x · Wᵀ + b for x (..., in), W (out, in), b (out) or absent — the layer every transformer is
     * made of, as one op so its three gradients come from three plain GEMM/sum calls over rows:
     * dx = g · W, dW = gᵀ · x, db = Σ_rows g. A frozen W never costs its dW matmul.
     */
    public static final class Linear extends Function {
        private final boolean weightInOut;

        /** W stored (out, in), as torch.nn.Linear. */
        public Linear() { this(false); }

        /**
         * With {@code weightInOut}, W is stored (in, out), as GPT-2's Conv1D: y = x · W + b, and dW comes out
         * (in, out) directly (xᵀ · g), so the parameter's gradient is dense without a transposing copy.
         */
        public Linear(boolean weightInOut) { this.weightInOut = weightInOut; }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            Tensor x = in[0], w = in[1], b = in.length > 2 ? in[2] : null;
            Tensor wt = weightInOut ? w.t() : w;           // (out, in) view either way
            if (w.dim() != 2 || x.dim() < 1 || x.size(-1) != wt.size(1)) {
                throw new IllegalArgumentException("linear: x " + Arrays.toString(x.shape()) + (weightInOut ? " · W" : " · Wᵀ")
                        + " with W " + Arrays.toString(w.shape()) + " — expected W of shape "
                        + (weightInOut ? "(" + (x.dim() < 1 ? "?" : x.size(-1)) + ", out)" : "(out, " + (x.dim() < 1 ? "?" : x.size(-1)) + ")"));
            }
            if (b != null && (b.dim() != 1 || b.size(0) != wt.size(0))) {
                throw new IllegalArgumentException("linear: bias has shape " + Arrays.toString(b.shape()) + ", expected ("
                        + wt.size(0) + ",)");
            }
            ctx.save(x, w);
            int rows = x.numel() / Math.max(1, x.size(-1));
            int[] outShape = x.shape();
            outShape[outShape.length - 1] = wt.size(0);
            Tensor x2 = x.reshape(rows, x.size(-1));
            DType dtype = DType.promote(x.dtype(), w.dtype());
            Tensor y = Tensor.emptyOn(x, dtype, rows, wt.size(0)); // the bias copy or beta = 0 overwrites it
            if (b != null) y.copyFrom(b.expand(rows, wt.size(0)));
            MatMul.gemm(1, x2, wt.t(), b == null ? 0 : 1, y);
            return y.view(outShape);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor x = ctx.saved(0), w = ctx.saved(1);
            Tensor wt = weightInOut ? w.t() : w;
            int in = wt.size(1), out = wt.size(0), rows = x.numel() / Math.max(1, in);
            Tensor g2 = g.reshape(rows, out);
            Tensor dx = null, dw = null, db = null;
            if (ctx.needsGrad(0)) {
                dx = Tensor.emptyOn(g, g.dtype(), rows, in);
                MatMul.gemm(1, g2, wt, 0, dx);
                dx = dx.view(x.shape());
            }
            if (ctx.needsGrad(1)) {
                if (weightInOut) {
                    dw = Tensor.emptyOn(g, g.dtype(), in, out);
                    MatMul.gemm(1, x.reshape(rows, in).t(), g2, 0, dw);
                } else {
                    dw = Tensor.emptyOn(g, g.dtype(), out, in);
                    MatMul.gemm(1, g2.t(), x.reshape(rows, in), 0, dw);
                }
            }
            if (ctx.needsGrad(2)) db = g2.sum(0);
            return new Tensor[] {dx, dw, db};
        }
    }
}
