package jlisa.autograd.functions;

import jlisa.autograd.Context;
import jlisa.autograd.Function;
import jlisa.autograd.Variable;
import jlisa.tensor.DType;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.CrossEntropy;
import jlisa.tensor.kernels.MatMul;

/**
 * The LM head and the mean cross-entropy fused: {@code loss = CE(x · Wᵀ, targets)} for hidden states x (N, C) and a
 * head weight W (V, C), without keeping the N × V logits.
 *
 * <p>Unfused, a GPT-2 step holds the logits, their gradient and the gradient's scaled copy at once (3 × N × V floats:
 * 600 MiB at N = 1024, V = 50257). Here rows go through in chunks of at most {@link #CHUNK_ELEMENTS} logits: each
 * chunk's logits are computed, overwritten in place by their gradient (the cross-entropy kernel may alias the two),
 * and consumed at once by the two backward products, dx = dlogits · W and dW += dlogitsᵀ · x. The gradients are
 * ready when forward returns; backward only scales them by the upstream gradient (1 for {@code loss.backward()}).
 * That is why backward can run once per forward: a second backward (retainGraph) is refused with a clear message.
 *
 * <p>The arithmetic is that of {@code x.linear(W).crossEntropy(targets)}: the same logits bit for bit (GEMM rows do
 * not depend on the chunking), the same loss (row losses summed in row order), the same dx; dW sums the chunks'
 * products in chunk order, so it can differ from the one-product dW in the last bits.
 *
 * <p>Not thread-safe: one instance per call, like every {@link jlisa.autograd.Function}.
 */
public final class LinearCrossEntropy extends Function {
    /** Logits per chunk (16 Mi floats, 64 MiB): GPT-2 at N = 256 rows is one chunk, at N = 1024 four. */
    public static final long CHUNK_ELEMENTS = 1L << 24;

    private final Tensor targets;
    private final int ignoreIndex;
    private final long chunkElements;
    private boolean backwardDone;

    private LinearCrossEntropy(Tensor targets, int ignoreIndex, long chunkElements) {
        if (chunkElements < 1) throw new IllegalArgumentException("linearCrossEntropy: chunk must be ≥ 1 logit, got " + chunkElements);
        this.targets = targets;
        this.ignoreIndex = ignoreIndex;
        this.chunkElements = chunkElements;
    }

    /** The mean cross-entropy of {@code x (N, C) · weightᵀ (C, V)} against I32 {@code targets} (N). */
    public static Variable apply(Variable x, Variable weight, Tensor targets, int ignoreIndex) {
        return apply(x, weight, targets, ignoreIndex, CHUNK_ELEMENTS);
    }

    /** As {@link #apply(Variable, Variable, Tensor, int)} with chunks of at most {@code chunkElements} logits (whole rows, at least one). */
    public static Variable apply(Variable x, Variable weight, Tensor targets, int ignoreIndex, long chunkElements) {
        return Function.apply(new LinearCrossEntropy(targets, ignoreIndex, chunkElements), x, weight);
    }

    @Override public String name() { return "LinearCrossEntropy"; }

    @Override protected Tensor forward(Context ctx, Tensor... in) {
        Tensor x = in[0], w = in[1];
        if (x.dim() != 2 || w.dim() != 2 || x.size(1) != w.size(1)) {
            throw new IllegalArgumentException("linearCrossEntropy: expected x (N, C) and weight (V, C), got x "
                    + Shapes.str(x.shape()) + " and weight " + Shapes.str(w.shape()));
        }
        int n = x.size(0), c = x.size(1), v = w.size(0);
        if (targets.dtype() != DType.I32 || targets.numel() != n) {
            throw new IllegalArgumentException("linearCrossEntropy: expected " + n + " I32 targets, got " + targets.dtype()
                    + " " + Shapes.str(targets.shape()));
        }
        DType dt = DType.promote(x.dtype(), w.dtype()).computeType();
        Tensor dense = targets.contiguous();
        int[] tg = dense.intArray();
        int tOff = dense.offset();
        int count = CrossEntropy.countTargets(tg, tOff, n, v, ignoreIndex);
        boolean needDx = ctx.needsGrad(0), needDw = ctx.needsGrad(1), needGrad = needDx || needDw;
        // every buffer where x is: on the heap, or in a device's memory beside a device-resident model
        Tensor dx = needDx ? Tensor.emptyOn(x, dt, n, c) : null;
        Tensor dw = needDw ? (n == 0 ? Tensor.zerosOn(x, dt, v, c) : Tensor.emptyOn(x, dt, v, c)) : null;
        // Equal chunks (d6's 1024 rows: 4 × 256, not 3 × 333 + 25): a thin last chunk would still read and write all
        // of dW (V × C) for a few rows of work.
        int maxRows = (int) Math.max(1, Math.min(n, chunkElements / Math.max(1, v)));
        int chunks = Math.max(1, (n + maxRows - 1) / maxRows);
        int chunk = Math.max(1, (n + chunks - 1) / chunks);
        Tensor logits = Tensor.emptyOn(x, dt, chunk, v);
        double total;
        try (CrossEntropy.Rows rows = CrossEntropy.rows(x, tg, tOff, n, v, ignoreIndex, count)) {
            for (int r0 = 0; r0 < n; r0 += chunk) {
                int rowCount = Math.min(chunk, n - r0);
                Tensor xc = x.narrow(0, r0, rowCount), lc = logits.narrow(0, 0, rowCount);
                MatMul.gemm(1, xc, w.t(), 0, lc);
                rows.chunk(lc, r0, needGrad);   // dlogits overwrite the logits
                if (needDx) MatMul.gemm(1, lc, w, 0, dx.narrow(0, r0, rowCount));
                if (needDw) MatMul.gemm(1, lc.t(), xc, r0 == 0 ? 0 : 1, dw);
            }
            total = rows.total();
        }
        logits.storage().release();
        if (needGrad) ctx.save(dx, dw);    // kept (not owned): backward hands them to autograd
        return Tensor.full(CrossEntropy.mean(total, count), dt);
    }

    @Override protected Tensor[] backward(Context ctx, Tensor g) {
        if (backwardDone) {
            throw new IllegalStateException("linearCrossEntropy computes its gradients during forward and hands them "
                    + "over in the first backward; run the forward again to backward a second time");
        }
        backwardDone = true;
        Tensor dx = ctx.saved(0), dw = ctx.saved(1);
        double scale = g.item();
        if (scale != 1) {
            if (dx != null) dx.mulInPlace(scale);
            if (dw != null) dw.mulInPlace(scale);
        }
        return new Tensor[] {dx, dw};
    }
}
