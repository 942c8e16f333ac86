package jlisa.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import jlisa.autograd.functions.LinearCrossEntropy;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.CrossEntropy;
import org.junit.jupiter.api.Test;

class LinearCrossEntropyTest {
    private static final int IGNORE = CrossEntropy.DEFAULT_IGNORE_INDEX;
    private final Rng rng = new Rng(7);

    private Tensor targets(int n, int v) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = i % 5 == 3 ? IGNORE : rng.nextInt(v);
        return Tensor.of(t, n);
    }

    @Test void float64GradcheckWithIgnoredRowsInOneAndInSeveralChunks() {
        Tensor targets = targets(7, 5);
        for (long chunk : new long[] {1 << 20, 5, 12, 1}) {   // one chunk; 1 row; 2 rows; 1 row (chunk < V)
            Gradcheck.check("linearCrossEntropy chunk " + chunk,
                    v -> LinearCrossEntropy.apply(v[0], v[1], targets, IGNORE, chunk),
                    Tensor.randn(rng, 0, 1, DType.F64, 7, 3), Tensor.randn(rng, 0, 1, DType.F64, 5, 3));
        }
        Gradcheck.check("linearCrossEntropy scaled downstream",
                v -> LinearCrossEntropy.apply(v[0], v[1], targets, IGNORE, 10).mul(3.0),
                Tensor.randn(rng, 0, 1, DType.F64, 7, 3), Tensor.randn(rng, 0, 1, DType.F64, 5, 3));
    }

    @Test void matchesTheUnfusedHeadAndLossInFloat32() {
        int n = 37, c = 19, v = 301;
        Tensor xs = Tensor.randn(rng, 0, 1, DType.F32, n, c), ws = Tensor.randn(rng, 0, 0.5, DType.F32, v, c);
        Tensor targets = targets(n, v);
        Variable x1 = new Variable(xs.copy(), true), w1 = new Variable(ws.copy(), true);
        Variable unfused = x1.linear(w1, null).crossEntropy(targets, IGNORE);
        unfused.backward();
        Variable x2 = new Variable(xs.copy(), true), w2 = new Variable(ws.copy(), true);
        Variable fused = LinearCrossEntropy.apply(x2, w2, targets, IGNORE, 4L * v);   // 10 chunks of 4 rows
        fused.backward();
        // Chunks of at most 4 rows take the matrix-vector path (decoding's), which sums each dot product in another
        // order than the packed GEMM of all 37 rows, so the two agree to float rounding, not bit for bit.
        assertThat(fused.data().item()).isCloseTo(unfused.data().item(), within(1e-6 * Math.abs(unfused.data().item())));
        float[] dx1 = x1.grad().toFloatArray(), dx2 = x2.grad().toFloatArray();
        for (int i = 0; i < dx1.length; i++) assertThat(dx2[i]).as("dx[%d]", i).isCloseTo(dx1[i], within(1e-6f + 1e-5f * Math.abs(dx1[i])));
        float[] dw1 = w1.grad().toFloatArray(), dw2 = w2.grad().toFloatArray();
        for (int i = 0; i < dw1.length; i++) assertThat(dw2[i]).as("dW[%d]", i).isCloseTo(dw1[i], within(1e-6f + 1e-5f * Math.abs(dw1[i])));
    }

    @Test void aFrozenWeightGetsNoGradientAndNoProduct() {
        Variable x = new Variable(Tensor.randn(rng, 0, 1, DType.F32, 6, 4), true);
        Variable w = new Variable(Tensor.randn(rng, 0, 1, DType.F32, 9, 4), false);
        long before = jlisa.tensor.kernels.MatMul.gemmCalls();
        LinearCrossEntropy.apply(x, w, targets(6, 9), IGNORE).backward();
        assertThat(jlisa.tensor.kernels.MatMul.gemmCalls() - before).isEqualTo(2);   // logits and dx, no dW
        assertThat(w.grad()).isNull();
        assertThat(x.grad()).isNotNull();
    }

    @Test void aSecondBackwardIsRefusedClearly() {
        Variable x = new Variable(Tensor.randn(rng, 0, 1, DType.F32, 3, 2), true);
        Variable w = new Variable(Tensor.randn(rng, 0, 1, DType.F32, 4, 2), true);
        Variable loss = LinearCrossEntropy.apply(x, w, targets(3, 4), IGNORE);
        loss.backward(null, true);
        assertThatThrownBy(() -> loss.backward(null, true)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("run the forward again");
    }

    @Test void badShapesAndTargetsAreNamed() {
        Variable x = new Variable(Tensor.zeros(3, 2), true), w = new Variable(Tensor.zeros(4, 5), true);
        assertThatThrownBy(() -> LinearCrossEntropy.apply(x, w, targets(3, 4), IGNORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("weight (V, C)");
        Variable w2 = new Variable(Tensor.zeros(4, 2), true);
        assertThatThrownBy(() -> LinearCrossEntropy.apply(x, w2, Tensor.of(new int[] {0, 9, 1}, 3), IGNORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target 9");
    }

    @Test void theLogitsAreNeverHeldWhole() {
        int n = 64, c = 8, v = 4096;   // logits 256K floats = 1 MiB; chunks of 16 rows = 256 KiB
        Tensor xs = Tensor.randn(rng, 0, 1, DType.F32, n, c), ws = Tensor.randn(rng, 0, 1, DType.F32, v, c);
        Tensor targets = targets(n, v);
        long unfused = activationPeak(() -> {
            Variable x = new Variable(xs, true), w = new Variable(ws, true);
            x.linear(w, null).crossEntropy(targets, IGNORE).backward();
        });
        long fused = activationPeak(() -> {
            Variable x = new Variable(xs, true), w = new Variable(ws, true);
            LinearCrossEntropy.apply(x, w, targets, IGNORE, 16L * v).backward();
        });
        long logitsBytes = 4L * n * v;
        assertThat(unfused).isGreaterThanOrEqualTo(2 * logitsBytes);       // logits and their gradient at once
        assertThat(fused).isLessThan(unfused - logitsBytes);
    }

    private static long activationPeak(Runnable step) {
        MemoryLedger.collectGarbage();
        MemoryLedger.resetPeaks();
        long base = MemoryLedger.live(MemoryKind.ACTIVATION, false);
        try (var scope = MemoryLedger.scope(MemoryKind.ACTIVATION)) {
            step.run();
        }
        return MemoryLedger.peak(MemoryKind.ACTIVATION, false) - base;
    }
}
