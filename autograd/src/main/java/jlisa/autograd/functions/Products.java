package jlisa.autograd.functions;

import java.util.Arrays;

import jlisa.autograd.Context;
import jlisa.autograd.Function;
import jlisa.tensor.DType;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.MatMul;

/**
 * Matrix products. Transposed operands are passed to GEMM as strided views, never copied.
 *
 * <p>The function classes are per call (not shared between threads); the class itself holds no state.
 */
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
            Tensor wt = checkedOutIn("linear", x, w, b, weightInOut);
            ctx.save(x, w);
            int rows = x.numel() / Math.max(1, x.size(-1));
            int[] outShape = x.shape();
            outShape[outShape.length - 1] = wt.size(0);
            return product(x.reshape(rows, x.size(-1)), wt, b).view(outShape);
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
            if (ctx.needsGrad(1)) dw = weightGradient(g2, x.reshape(rows, in), weightInOut);
            if (ctx.needsGrad(2)) db = g2.sum(0);
            return new Tensor[] {dx, dw, db};
        }
    }

    /** W as an (out, in) view, after checking x (..., in), W and the bias (out) or null; {@code op} names the caller. */
    static Tensor checkedOutIn(String op, Tensor x, Tensor w, Tensor b, boolean weightInOut) {
        Tensor wt = weightInOut ? w.t() : w;
        if (w.dim() != 2 || x.dim() < 1 || x.size(-1) != wt.size(1)) {
            throw new IllegalArgumentException(op + ": x " + Arrays.toString(x.shape()) + (weightInOut ? " · W" : " · Wᵀ")
                    + " with W " + Arrays.toString(w.shape()) + " — expected W of shape "
                    + (weightInOut ? "(" + (x.dim() < 1 ? "?" : x.size(-1)) + ", out)" : "(out, " + (x.dim() < 1 ? "?" : x.size(-1)) + ")"));
        }
        if (b != null && (b.dim() != 1 || b.size(0) != wt.size(0))) {
            throw new IllegalArgumentException(op + ": bias has shape " + Arrays.toString(b.shape()) + ", expected ("
                    + wt.size(0) + ",)");
        }
        return wt;
    }

    /** y = x2 · wtᵀ + b for x2 (rows, in), wt (out, in), b (out) or null. */
    static Tensor product(Tensor x2, Tensor wt, Tensor b) {
        int rows = x2.size(0), out = wt.size(0);
        Tensor y = Tensor.emptyOn(x2, DType.promote(x2.dtype(), wt.dtype()), rows, out); // the bias copy or beta = 0 overwrites it
        if (b != null) y.copyFrom(b.expand(rows, out));
        MatMul.gemm(1, x2, wt.t(), b == null ? 0 : 1, y);
        return y;
    }

    /** dW for g2 (rows, out) and x2 (rows, in): gᵀ · x (out, in), or xᵀ · g (in, out) for a weight stored (in, out). */
    static Tensor weightGradient(Tensor g2, Tensor x2, boolean weightInOut) {
        int in = x2.size(1), out = g2.size(1);
        Tensor dw;
        if (weightInOut) {
            dw = Tensor.emptyOn(g2, g2.dtype(), in, out);
            MatMul.gemm(1, x2.t(), g2, 0, dw);
        } else {
            dw = Tensor.emptyOn(g2, g2.dtype(), out, in);
            MatMul.gemm(1, g2.t(), x2, 0, dw);
        }
        return dw;
    }

    /**
     * A LoRA-adapted linear layer as one op (PEFT's lora.Linear): y = x · Wᵀ + b + s · (x_d · Aᵀ) · Bᵀ for x (..., in),
     * W (out, in) — or (in, out) with {@code weightInOut}, as GPT-2's Conv1D —, b (out) or absent, A (r, in), B (out, r),
     * and x_d the dropped-out x (input 5; absent when there is no dropout, then x_d is x). Inputs: x, W, b, A, B, x_d.
     *
     * <p>Why one op: as separate ops the adapter costs four more graph nodes per layer, two (rows, out) temporaries (the
     * product and its scaled copy), their element-wise passes, and a (rows, in) sum where x's two gradients meet — fixed
     * costs that at small widths made a LoRA step slower than a full fine-tuning step. Here the adapter's product goes
     * into y through GEMM's beta = 1, and its input gradient into dx the same way; only h = x_d · Aᵀ (rows, r) is kept.
     * Backward, with g = dL/dy: gh = s · g · B, dB = s · gᵀ · h, dA = ghᵀ · x_d, dx = g · W (+ gh · A), dW = gᵀ · x.
     */
    public static final class LoraLinear extends Function {
        private final double scaling;
        private final boolean weightInOut;

        public LoraLinear(double scaling, boolean weightInOut) {
            this.scaling = scaling;
            this.weightInOut = weightInOut;
        }

        @Override protected Tensor forward(Context ctx, Tensor... in) {
            if (in.length != 6) throw new IllegalArgumentException("lora linear: expected 6 inputs (x, W, b, A, B, x_d), got " + in.length);
            Tensor x = in[0], w = in[1], b = in[2], a = in[3], bm = in[4];
            Tensor xd = in[5] != null ? in[5] : x;
            Tensor wt = checkedOutIn("lora linear", x, w, b, weightInOut);
            int inF = wt.size(1), outF = wt.size(0);
            if (a.dim() != 2 || bm.dim() != 2 || a.size(1) != inF || bm.size(0) != outF || bm.size(1) != a.size(0)) {
                throw new IllegalArgumentException("lora linear: expected A (r, " + inF + ") and B (" + outF + ", r), got A "
                        + Arrays.toString(a.shape()) + " and B " + Arrays.toString(bm.shape()));
            }
            if (!Arrays.equals(xd.shape(), x.shape())) {
                throw new IllegalArgumentException("lora linear: dropped-out x " + Arrays.toString(xd.shape()) + " is not shaped like x "
                        + Arrays.toString(x.shape()));
            }
            int rows = x.numel() / Math.max(1, inF), r = a.size(0);
            int[] outShape = x.shape();
            outShape[outShape.length - 1] = outF;
            Tensor xd2 = xd.reshape(rows, inF);
            Tensor y = product(x.reshape(rows, inF), wt, b);
            Tensor h = Tensor.emptyOn(x, DType.promote(xd.dtype(), a.dtype()), rows, r);
            MatMul.gemm(1, xd2, a.t(), 0, h);
            MatMul.gemm(scaling, h, bm.t(), 1, y);
            ctx.save(x, w, a, bm, xd == x ? null : xd);
            ctx.saveOwned(h);
            return y.view(outShape);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor x = ctx.saved(0), w = ctx.saved(1), a = ctx.saved(2), bm = ctx.saved(3), xdSaved = ctx.saved(4), h = ctx.saved(5);
            boolean separate = xdSaved != null;
            Tensor xd = separate ? xdSaved : x;
            Tensor wt = weightInOut ? w.t() : w;
            int inF = wt.size(1), outF = wt.size(0), rows = x.numel() / Math.max(1, inF), r = a.size(0);
            Tensor g2 = g.reshape(rows, outF);
            boolean needX = ctx.needsGrad(0), needXd = separate && ctx.needsGrad(5);
            Tensor gh = null;                                  // dL/dh = s · g · B, (rows, r)
            if (ctx.needsGrad(3) || needXd || (needX && !separate)) {
                gh = Tensor.emptyOn(g, g.dtype(), rows, r);
                MatMul.gemm(scaling, g2, bm, 0, gh);
            }
            Tensor dx = null, dw = null, db = null, da = null, dbm = null, dxd = null;
            if (needX) {
                dx = Tensor.emptyOn(g, g.dtype(), rows, inF);
                MatMul.gemm(1, g2, wt, 0, dx);
                if (!separate) MatMul.gemm(1, gh, a, 1, dx);
                dx = dx.view(x.shape());
            }
            if (needXd) {
                dxd = Tensor.emptyOn(g, g.dtype(), rows, inF);
                MatMul.gemm(1, gh, a, 0, dxd);
                dxd = dxd.view(x.shape());
            }
            if (ctx.needsGrad(1)) dw = weightGradient(g2, x.reshape(rows, inF), weightInOut);
            if (ctx.needsGrad(2)) db = g2.sum(0);
            if (ctx.needsGrad(3)) {
                da = Tensor.emptyOn(g, g.dtype(), r, inF);
                MatMul.gemm(1, gh.t(), xd.reshape(rows, inF), 0, da);
            }
            if (ctx.needsGrad(4)) {
                dbm = Tensor.emptyOn(g, g.dtype(), outF, r);
                MatMul.gemm(scaling, g2.t(), h, 0, dbm);
            }
            return new Tensor[] {dx, dw, db, da, dbm, dxd};
        }
    }
}
