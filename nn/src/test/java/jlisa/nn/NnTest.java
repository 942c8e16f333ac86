package jlisa.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

import jlisa.autograd.Gradcheck;
import jlisa.autograd.Variable;
import jlisa.optim.AdamW;
import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;

class NnTest {
    @Test
    void mseLossMatchesFloat64ReferenceAndPassesGradcheck() {
        Rng rng = new Rng(3);
        Tensor p = Tensor.randn(rng, 0, 1, DType.F64, 3, 4), t = Tensor.randn(rng, 0, 1, DType.F64, 3, 4);
        double sum = 0;
        for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) sum += Math.pow(p.get(i, j) - t.get(i, j), 2);
        assertThat(new Losses.MSELoss().forward(new Variable(p), t).data().item()).isCloseTo(sum / 12, within(1e-12));
        assertThat(new Losses.MSELoss(Losses.Reduction.SUM).forward(new Variable(p), t).data().item()).isCloseTo(sum, within(1e-12));
        Gradcheck.Report r = Gradcheck.run("MSELoss", v -> new Losses.MSELoss().forward(v[0], v[1]), p, t);
        assertThat(r.passed()).as(r.message()).isTrue();
        assertThatThrownBy(() -> new Losses.MSELoss().forward(new Variable(p), Tensor.zeros(DType.F64, 4, 3)))
                .hasMessageContaining("(3, 4)");
    }

    @Test
    void crossEntropyLossMatchesFloat64ReferenceAndPassesGradcheck() {
        Tensor logits = Tensor.randn(new Rng(5), 0, 1, DType.F64, 4, 5);
        Tensor ids = Tensor.of(new int[] {0, 4, 2, -100}, 4);
        double total = 0;
        for (int i = 0; i < 3; i++) {
            double z = 0;
            for (int c = 0; c < 5; c++) z += Math.exp(logits.get(i, c));
            total += Math.log(z) - logits.get(i, (int) ids.get(i));
        }
        Losses.CrossEntropyLoss loss = new Losses.CrossEntropyLoss();
        assertThat(loss.forward(new Variable(logits), ids).data().item()).isCloseTo(total / 3, within(1e-9));
        Gradcheck.Report r = Gradcheck.run("CrossEntropyLoss", v -> loss.forward(v[0], ids), logits);
        assertThat(r.passed()).as(r.message()).isTrue();
    }

    @Test
    void linearHasPyTorchDefaultInitBounds() {
        Layers.Linear l = new Layers.Linear(16, 8, 7L);
        assertThat(l.weight.data().shape()).containsExactly(8, 16);
        for (float w : l.weight.data().toFloatArray()) assertThat(Math.abs(w)).isLessThanOrEqualTo(0.25f);
        for (float b : l.bias.data().toFloatArray()) assertThat(Math.abs(b)).isLessThanOrEqualTo(0.25f);
        assertThat(l.bias.data().toFloatArray()).isNotEqualTo(new float[8]);
    }

    @Test
    void sequentialMlpLearnsAToyRegressionWithAdamW() {
        Rng rng = new Rng(42);
        Sequential mlp = new Sequential(new Layers.Linear(1, 32, rng), new Activations.Tanh(), new Layers.Linear(32, 1, rng));
        assertThat(mlp.namedParameters().keySet()).containsExactly("0.weight", "0.bias", "2.weight", "2.bias");
        float[] xs = new float[64], ys = new float[64];
        for (int i = 0; i < 64; i++) { xs[i] = -2 + 4f * i / 63; ys[i] = (float) Math.sin(xs[i]); }
        Tensor x = Tensor.of(xs, 64, 1), y = Tensor.of(ys, 64, 1);
        AdamW opt = new AdamW(mlp.namedParameters(), 0.01, 0.0);
        Losses.MSELoss mse = new Losses.MSELoss();
        double first = 0, last = 0;
        for (int step = 0; step < 300; step++) {
            opt.zeroGrad();
            Variable loss = mse.forward(mlp.forward(new Variable(x)), y);
            loss.backward();
            opt.step();
            if (step == 0) first = loss.data().item();
            last = loss.data().item();
        }
        assertThat(first).isGreaterThan(0.05);
        assertThat(last).isLessThan(0.01);
    }
}
