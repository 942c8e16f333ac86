package jlisa.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.MatMul;
import org.junit.jupiter.api.Test;

class BackwardTest {

    private static Variable leaf(double... values) {
        return new Variable(Tensor.of(values.clone(), values.length), true);
    }

    @Test
    void chainRuleAndAccumulationForAValueUsedTwice() {
        Variable x = leaf(2.0, -1.0, 0.5);
        Variable y = x.mul(x).add(x).sum();            // Σ x² + x  →  dy/dx = 2x + 1
        y.backward();
        assertThat(y.data().item()).isEqualTo(4 + 1 + 0.25 + 2 - 1 + 0.5);
        assertThat(x.grad().toDoubleArray()).containsExactly(5.0, -1.0, 2.0);
        Variable z = x.mul(3.0).sum();                 // a second backward accumulates into .grad
        z.backward();
        assertThat(x.grad().toDoubleArray()).containsExactly(8.0, 2.0, 5.0);
        x.zeroGrad();
        assertThat(x.grad()).isNull();
    }

    @Test
    void nonScalarBackwardTakesTheVectorOfTheJacobianProduct() {
        Variable x = leaf(1, 2, 3);
        Variable y = x.mul(x);
        y.backward(Tensor.of(new double[] {1, 0, -1}, 3));
        assertThat(x.grad().toDoubleArray()).containsExactly(2, 0, -6);
    }

    @Test
    void broadcastGradientsAreSummedBackToTheInputShape() {
        Variable a = new Variable(Tensor.ones(2, 3).to(DType.F64), true);
        Variable b = new Variable(Tensor.of(new double[] {1, 2, 3}, 3), true);
        a.mul(b).sum().backward();
        assertThat(b.grad().shape()).containsExactly(3);
        assertThat(b.grad().toDoubleArray()).containsExactly(2, 2, 2);
        assertThat(a.grad().toDoubleArray()).containsExactly(1, 2, 3, 1, 2, 3);
    }

    @Test
    void clearErrorsForBadBackwardCalls() {
        Variable x = leaf(1, 2);
        assertThatThrownBy(() -> x.mul(x).backward()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("non-scalar").hasMessageContaining("[2]");
        assertThatThrownBy(() -> new Variable(Tensor.ones(1)).exp().backward()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("does not require grad");
        assertThatThrownBy(() -> x.mul(x).backward(Tensor.ones(3))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[3]").hasMessageContaining("[2]");
        Variable y = x.exp().sum();
        y.backward();
        assertThatThrownBy(y::backward).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already freed").hasMessageContaining("retainGraph");
        assertThatThrownBy(() -> x.exp().requiresGrad(false)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("leaf");
    }

    @Test
    void retainGraphAllowsASecondBackward() {
        Variable x = leaf(1, 2);
        Variable y = x.exp().sum();
        y.backward(Tensor.full(1.0, DType.F64), true);
        y.backward(Tensor.full(1.0, DType.F64), true);
        assertThat(x.grad().get(1)).isCloseTo(2 * Math.exp(2), within(1e-12));
    }

    @Test
    void inPlaceChangeOfASavedTensorIsCaughtAndNamesTheOp() {
        Variable x = leaf(1, 2, 3);
        Variable e = x.exp();                          // Exp saves its output
        Variable y = e.mul(2.0).sum();
        e.data().addInPlace(Tensor.ones(3).to(DType.F64));
        assertThatThrownBy(y::backward).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Exp").hasMessageContaining("modified in place");
    }

    @Test
    void aThousandsOfOpsChainBackpropagatesWithoutRecursion() {
        Variable x = leaf(0.5);
        Variable y = x;
        for (int i = 0; i < 20_000; i++) y = y.mul(1.0001).add(0.0);
        y.sum().backward();
        assertThat(x.grad().item()).isCloseTo(Math.pow(1.0001, 20_000), within(1e-6));
    }

    @Test
    void frozenWeightGetsNoGradientAndNoMatmul() {
        Rng rng = new Rng(3);
        Variable x = new Variable(Tensor.randn(rng, 8, 16), true);
        Parameter w = Parameter.of("w", Tensor.randn(rng, 4, 16));
        Parameter b = Parameter.of("b", Tensor.randn(rng, 4));

        long before = MatMul.gemmCalls();
        x.linear(w, b).sum().backward();
        long trainable = MatMul.gemmCalls() - before;   // forward + dx + dW
        assertThat(w.grad()).isNotNull();

        w.requiresGrad(false);
        assertThat(w.grad()).isNull();
        before = MatMul.gemmCalls();
        x.linear(w, b).sum().backward();
        long frozen = MatMul.gemmCalls() - before;      // forward + dx only
        assertThat(trainable).isEqualTo(3);
        assertThat(frozen).isEqualTo(2);
        assertThat(w.grad()).isNull();
        assertThat(b.grad()).isNotNull();

        // Everything frozen below the input: no gradient work at all past the loss.
        x.requiresGrad(false);
        b.requiresGrad(false);
        before = MatMul.gemmCalls();
        Variable out = x.linear(w, b).sum();
        assertThat(out.requiresGrad()).isFalse();
        assertThat(MatMul.gemmCalls() - before).isEqualTo(1);
    }

    @Test
    void noGradScopeRecordsNothing() {
        Variable x = leaf(1, 2);
        Variable y;
        try (var noGrad = GradMode.disabled()) {
            y = x.exp().sum();
            assertThat(GradMode.isEnabled()).isFalse();
        }
        assertThat(GradMode.isEnabled()).isTrue();
        assertThat(y.requiresGrad()).isFalse();
        assertThat(y.isLeaf()).isTrue();
    }

    @Test
    void activationBytesFallBackAfterBackwardExactly() {
        Rng rng = new Rng(4);
        Parameter w1 = Parameter.of("w1", Tensor.randn(rng, 0, 0.1, DType.F32, 64, 32));
        Parameter w2 = Parameter.of("w2", Tensor.randn(rng, 0, 0.1, DType.F32, 10, 64));
        Tensor input = Tensor.randn(rng, 16, 32);
        Tensor targets = Tensor.of(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6}, 16);
        long base = MemoryLedger.live(MemoryKind.ACTIVATION);
        long afterForward;
        Variable loss;
        try (var scope = MemoryLedger.scope(MemoryKind.ACTIVATION)) {
            Variable x = new Variable(input);
            loss = x.linear(w1, null).geluTanh().linear(w2, null).layerNorm(null, null, 1e-5).crossEntropy(targets, -100);
            afterForward = MemoryLedger.live(MemoryKind.ACTIVATION) - base;
            loss.backward();
        }
        // Saved activations: h1 (16×64), gelu (16×64), logits (16×10), ln out (16×10), mean+rstd, dlogits (16×10).
        assertThat(afterForward).isEqualTo(4L * (16 * 64 * 2 + 16 * 10 * 3 + 16 * 2) + 4);
        // After backward only the loss itself (one float) is still alive; gradients live as GRADIENT.
        assertThat(MemoryLedger.live(MemoryKind.ACTIVATION) - base).isEqualTo(4);
        assertThat(w1.grad().storage().kind()).isEqualTo(MemoryKind.GRADIENT);
        assertThat(loss.data().item()).isFinite();
    }

    @Test
    void intermediatesAreFreedUnlessRetained() {
        Variable x = leaf(1, 2);
        Variable e = x.exp();
        Variable kept = x.mul(2.0).retain();
        e.add(kept).sum().backward();
        assertThatThrownBy(e::data).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Exp").hasMessageContaining("retain()");
        assertThat(kept.data().toDoubleArray()).containsExactly(2, 4);
        assertThat(x.data().toDoubleArray()).containsExactly(1, 2);   // leaves are never freed
    }

    @Test
    void activationScopeFreesWhatNoBackwardReadsAndLeavesGradientsAlone() {
        Rng rng = new Rng(8);
        Tensor w1 = Tensor.randn(rng, 16, 16), w2 = Tensor.randn(rng, 16, 16), input = Tensor.randn(rng, 4, 16);
        double[][] grads = new double[2][];
        for (int run = 0; run < 2; run++) {
            Parameter a = Parameter.of("a", w1), b = Parameter.of("b", w2);
            Variable x = new Variable(input);
            Variable unsaved, saved, out;
            if (run == 0) {
                unsaved = x.linear(a, null);                    // only feeds an Add, which saves nothing
                saved = unsaved.add(x).tanh();                  // Tanh saves its output
                out = saved.linear(b, null);                    // Linear saves its input: saved stays pinned
            } else {
                try (var scope = ActivationScope.open()) {
                    unsaved = x.linear(a, null);
                    saved = unsaved.add(x).tanh();
                    out = scope.keep(saved.linear(b, null));
                }
                assertThat(unsaved.rawData().storage().isReleased()).isTrue();
                assertThatThrownBy(unsaved::data).isInstanceOf(IllegalStateException.class).hasMessageContaining("Linear");
                assertThat(saved.rawData().storage().isReleased()).isFalse();
                assertThat(out.data().storage().isReleased()).isFalse();
            }
            out.sum().backward();
            grads[run] = a.grad().toDoubleArray();
        }
        assertThat(grads[1]).containsExactly(grads[0]);
    }

    @Test
    void linearWithAnInOutWeightPassesGradcheckAndGivesADenseGradient() {
        Rng rng = new Rng(12);
        Tensor x = Tensor.randn(rng, 0, 1, DType.F64, 2, 3, 5), w = Tensor.randn(rng, 0, 1, DType.F64, 5, 4);
        Tensor b = Tensor.randn(rng, 0, 1, DType.F64, 4);
        Gradcheck.check("linearInOut", v -> v[0].linearInOut(v[1], v[2]), x, w, b);
        Parameter p = Parameter.of("w", w);
        new Variable(x).linearInOut(p, null).sum().backward();
        assertThat(p.grad().isDense()).isTrue();
        assertThat(p.grad().shape()).containsExactly(5, 4);
        assertThatThrownBy(() -> new Variable(x).linearInOut(new Variable(Tensor.zeros(DType.F64, 4, 5)), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(5, out)");
    }

    @Test
    void loraLinearPassesGradcheckWithAndWithoutDroppedInputAndInOutWeight() {
        Rng rng = new Rng(13);
        Tensor x = Tensor.randn(rng, 0, 1, DType.F64, 2, 3, 5), xd = Tensor.randn(rng, 0, 1, DType.F64, 2, 3, 5);
        Tensor w = Tensor.randn(rng, 0, 1, DType.F64, 4, 5), wInOut = Tensor.randn(rng, 0, 1, DType.F64, 5, 4);
        Tensor b = Tensor.randn(rng, 0, 1, DType.F64, 4);
        Tensor a = Tensor.randn(rng, 0, 1, DType.F64, 3, 5), bm = Tensor.randn(rng, 0, 1, DType.F64, 4, 3);
        Gradcheck.check("linearLora", v -> v[0].linearLora(v[1], v[2], false, v[3], v[4], 0.7, null), x, w, b, a, bm);
        Gradcheck.check("linearLora dropped", v -> v[0].linearLora(v[1], v[2], false, v[3], v[4], 0.7, v[5]), x, w, b, a, bm, xd);
        Gradcheck.check("linearLora in-out", v -> v[0].linearLora(v[1], null, true, v[2], v[3], 2.0, null), x, wInOut, a, bm);
    }

    @Test
    void loraLinearMatchesTheUnfusedOpsAndSkipsTheFrozenWeightsGradient() {
        Rng rng = new Rng(14);
        Tensor x = Tensor.randn(rng, 0, 1, DType.F64, 7, 6), w = Tensor.randn(rng, 0, 1, DType.F64, 9, 6);
        Tensor a = Tensor.randn(rng, 0, 1, DType.F64, 2, 6), bm = Tensor.randn(rng, 0, 1, DType.F64, 9, 2);
        Tensor up = Tensor.randn(rng, 0, 1, DType.F64, 7, 9);   // a weighted sum, so every output element matters
        double[][][] grads = new double[2][][];
        for (int fused = 0; fused < 2; fused++) {
            Parameter pw = Parameter.of("w", w), pa = Parameter.of("a", a), pb = Parameter.of("b", bm);
            pw.requiresGrad(false);
            Variable vx = new Variable(x, true);
            Variable y = fused == 1 ? vx.linearLora(pw, null, false, pa, pb, 1.5, null)
                    : vx.linear(pw, null).add(vx.linear(pa, null).linear(pb, null).mul(1.5));
            y.mul(new Variable(up)).sum().backward();
            assertThat(pw.grad()).isNull();
            grads[fused] = new double[][] {vx.grad().toDoubleArray(), pa.grad().toDoubleArray(), pb.grad().toDoubleArray()};
        }
        for (int i = 0; i < 3; i++) assertThat(grads[1][i]).containsExactly(grads[0][i], org.assertj.core.data.Offset.offset(1e-12));
        assertThatThrownBy(() -> new Variable(x).linearLora(new Variable(w), null, false, new Variable(a), new Variable(a), 1, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected A (r, 6) and B (9, r)");
    }

    @Test
    void graphDrawsAsDot() {
        Parameter w = Parameter.of("layer.weight", Tensor.ones(3, 2));
        Variable x = new Variable(Tensor.ones(4, 2));
        String dot = Graph.toDot(x.linear(w, null).relu().sum());
        assertThat(dot).startsWith("digraph autograd {").contains("Linear").contains("Relu").contains("Sum")
                .contains("layer.weight").contains("style=dashed").contains("->");
    }

    @Test
    void mlpLearnsXorWithPlainSgd() {
        Rng rng = new Rng(0);
        Tensor inputs = Tensor.of(new float[] {0, 0, 0, 1, 1, 0, 1, 1}, 4, 2);
        Tensor targets = Tensor.of(new int[] {0, 1, 1, 0}, 4);
        Parameter w1 = Parameter.of("w1", Tensor.randn(rng, 0, 1, DType.F32, 8, 2));
        Parameter b1 = Parameter.of("b1", Tensor.zeros(8));
        Parameter w2 = Parameter.of("w2", Tensor.randn(rng, 0, 1, DType.F32, 2, 8));
        Parameter b2 = Parameter.of("b2", Tensor.zeros(2));
        Parameter[] params = {w1, b1, w2, b2};
        double loss = Double.NaN;
        for (int step = 0; step < 2000; step++) {
            Variable l = new Variable(inputs).linear(w1, b1).tanh().linear(w2, b2).crossEntropy(targets, -100);
            loss = l.data().item();
            l.backward();
            for (Parameter p : params) {
                p.data().addInPlace(p.grad().mul(-0.5));
                p.zeroGrad();
            }
        }
        assertThat(loss).isLessThan(0.01);
    }

    @Test
    void overloadsWithoutBiasOrAffineEqualTheNullForms() {
        Rng rng = new Rng(5);
        Variable x = new Variable(Tensor.randn(rng, 3, 7)), w = new Variable(Tensor.randn(rng, 4, 7));
        assertThat(x.linear(w).data().toFloatArray()).containsExactly(x.linear(w, null).data().toFloatArray());
        assertThat(x.layerNorm(1e-5).data().toFloatArray()).containsExactly(x.layerNorm(null, null, 1e-5).data().toFloatArray());
        assertThat(x.rmsNorm(1e-6).data().toFloatArray()).containsExactly(x.rmsNorm(null, 1e-6).data().toFloatArray());
        assertThat(x.linear(w).data().shape()).containsExactly(3, 4);
    }
}
