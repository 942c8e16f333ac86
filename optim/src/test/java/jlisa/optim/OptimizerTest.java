package jlisa.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jlisa.autograd.Parameter;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

class OptimizerTest {

    private static Parameter param(String name, float... values) {
        return Parameter.of(name, Tensor.of(values.clone(), values.length));
    }

    private static void setGrad(Parameter p, float... g) {
        p.zeroGrad();
        // backward of sum(p * g) gives exactly g
        new jlisa.autograd.Variable(Tensor.of(g.clone(), g.length)).mul(p).sum().backward();
    }

    @Test
    void adamwMatchesAHandComputedReferenceOverSeveralSteps() {
        Parameter w = param("w", 1.0f, -2.0f, 0.5f);
        Map<String, Parameter> named = Map.of("w", w);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", named, 1.0, 0.1)), 0.01);
        double[] p = {1.0, -2.0, 0.5}, m = new double[3], v = new double[3];
        float[][] grads = {{0.1f, -0.3f, 2.0f}, {0.2f, 0.1f, -1.0f}, {-0.5f, 0.4f, 0.0f}};
        for (int t = 1; t <= 3; t++) {
            setGrad(w, grads[t - 1]);
            opt.step();
            for (int i = 0; i < 3; i++) {                       // torch.optim.AdamW, written out
                double g = grads[t - 1][i];
                p[i] *= 1 - 0.01 * 0.1;
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                double mHat = m[i] / (1 - Math.pow(0.9, t)), denom = Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(0.999, t)) + 1e-8;
                p[i] -= 0.01 * mHat / denom * 1;
            }
            for (int i = 0; i < 3; i++) assertThat(w.data().get(i)).isCloseTo(p[i], within(1e-6));
        }
        assertThat(opt.stateDict()).containsKeys("w.exp_avg", "w.exp_avg_sq", "w.step");
        assertThat(opt.stateDict().get("w.step").item()).isEqualTo(3.0);
    }

    @Test
    void sgdWithMomentumAndNesterovMatchesTorch() {
        for (boolean nesterov : new boolean[] {false, true}) {
            Parameter w = param("w", 1.0f, 2.0f);
            Sgd opt = new Sgd(List.of(new ParamGroup("all", Map.of("w", w), 1.0, 0.01)), 0.1, 0.9, nesterov);
            double[] p = {1, 2}, buf = new double[2];
            float[][] grads = {{0.5f, -1f}, {0.25f, 0.5f}, {1f, 1f}};
            for (int t = 0; t < 3; t++) {
                setGrad(w, grads[t]);
                opt.step();
                for (int i = 0; i < 2; i++) {
                    double d = grads[t][i] + 0.01 * p[i];
                    buf[i] = t == 0 ? d : 0.9 * buf[i] + d;
                    p[i] -= 0.1 * (nesterov ? d + 0.9 * buf[i] : buf[i]);
                }
            }
            assertThat(w.data().get(0)).isCloseTo(p[0], within(1e-6));
            assertThat(w.data().get(1)).isCloseTo(p[1], within(1e-6));
        }
    }

    @Test
    void stateIsLazyCountedAndDroppable() {
        MemoryLedger.collectGarbage();
        long state0 = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE);
        Parameter a = param("a", new float[100]), frozen = param("frozen", new float[1000]);
        frozen.requiresGrad(false);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", new LinkedHashMap<>(Map.of("a", a, "frozen", frozen)), 1, 0)), 1e-3);
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE)).isEqualTo(state0);   // nothing before the first step
        setGrad(a, new float[100]);
        opt.step();
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE) - state0).isEqualTo(2 * 4 * 100);
        assertThat(opt.hasState(frozen)).isFalse();
        opt.dropState(a);
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE)).isEqualTo(state0);
    }

    @Test
    void stateDictRoundTripsIntoAFreshOptimizer() {
        Parameter w = param("w", 1, 2, 3);
        AdamW a = new AdamW(List.of(new ParamGroup("g", Map.of("w", w), 1, 0)), 0.1);
        setGrad(w, 1, 1, 1);
        a.step();
        Parameter w2 = param("w", w.data().toFloatArray());
        AdamW b = new AdamW(List.of(new ParamGroup("g", Map.of("w", w2), 1, 0)), 0.1);
        b.loadStateDict(a.stateDict());
        setGrad(w, 0.5f, -1, 2);
        setGrad(w2, 0.5f, -1, 2);
        a.step();
        b.step();
        assertThat(w2.data().toFloatArray()).containsExactly(w.data().toFloatArray());
        assertThatThrownBy(() -> b.loadStateDict(Map.of("nope.exp_avg", Tensor.zeros(3))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nope.exp_avg");
    }

    @Test
    void defaultGroupsDecayOnlyMatrices() {
        Map<String, Parameter> named = new LinkedHashMap<>();
        named.put("h.0.attn.weight", Parameter.of("w", Tensor.zeros(4, 4)));
        named.put("h.0.attn.bias", Parameter.of("b", Tensor.zeros(4)));
        named.put("h.0.ln.weight", Parameter.of("ln", Tensor.zeros(4)));
        named.put("model.embed_tokens.weight", Parameter.of("e", Tensor.zeros(8, 4)));
        List<ParamGroup> groups = ParamGroup.withDecay(named, 0.1);
        assertThat(groups.get(0).params()).containsOnlyKeys("h.0.attn.weight");
        assertThat(groups.get(0).weightDecay()).isEqualTo(0.1);
        assertThat(groups.get(1).params()).containsOnlyKeys("h.0.attn.bias", "h.0.ln.weight", "model.embed_tokens.weight");
        assertThat(groups.get(1).weightDecay()).isZero();
    }

    @Test
    void schedulesAndClipping() {
        var cos = Schedules.warmupCosine(1.0, 10, 110, 0.1);
        assertThat(cos.lr(0)).isCloseTo(0.1, within(1e-12));
        assertThat(cos.lr(9)).isCloseTo(1.0, within(1e-12));
        assertThat(cos.lr(60)).isCloseTo(0.55, within(1e-12));
        assertThat(cos.lr(110)).isEqualTo(0.1);
        var lin = Schedules.warmupLinear(1.0, 0, 100, 0.0);
        assertThat(lin.lr(50)).isCloseTo(0.5, within(1e-12));
        assertThat(Schedules.constant(0.3).lr(12345)).isEqualTo(0.3);
        assertThatThrownBy(() -> Schedules.warmupCosine(1, 20, 10, 0)).isInstanceOf(IllegalArgumentException.class);

        Parameter a = param("a", 0, 0), b = param("b", 0);
        setGrad(a, 3, 0);
        setGrad(b, 4);
        double norm = GradClip.clipGradNorm(List.of(a, b), 1.0);
        assertThat(norm).isCloseTo(5.0, within(1e-9));
        assertThat(GradClip.norm(List.of(a, b))).isCloseTo(1.0, within(1e-5));
        assertThat(a.grad().get(0)).isCloseTo(0.6, within(1e-5));
    }

    @Test
    void optimizerRefusesReadOnlyOrOddParameters() {
        Parameter bf = Parameter.of("bf", Tensor.zeros(DType.BF16, 3));
        setGrad(bf, 1, 1, 1);
        AdamW opt = new AdamW(List.of(new ParamGroup("g", Map.of("bf", bf), 1, 0)), 0.1);
        assertThatThrownBy(opt::step).isInstanceOf(IllegalStateException.class).hasMessageContaining("bf")
                .hasMessageContaining("dense writable F32");
        assertThatThrownBy(() -> new AdamW(List.of(new ParamGroup("g", Map.of("bf", bf), 1, 0)), 0.1, 1.0, 0.9, 1e-8))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("betas");
    }

    @Test
    void aPerParameterLrScaleMultipliesTheGroupRate() {
        Parameter a = param("a", 1.0f, 2.0f), b = param("b", 1.0f, 2.0f);
        Map<String, Parameter> named = new LinkedHashMap<>();
        named.put("a", a);
        named.put("b", b);
        Sgd opt = new Sgd(List.of(new ParamGroup("all", named, 0.5, 0)), 0.1);
        opt.setLrScale(a, 0.25);
        assertThat(opt.lrScale(a)).isEqualTo(0.25);
        assertThat(opt.lrScale(b)).isEqualTo(1.0);
        setGrad(a, 1.0f, -2.0f);
        setGrad(b, 1.0f, -2.0f);
        opt.step();
        float rateA = (float) (0.1 * 0.5 * 0.25), rateB = (float) (0.1 * 0.5);
        assertThat(a.data().toFloatArray()).containsExactly(1.0f - rateA * 1.0f, 2.0f - rateA * -2.0f);
        assertThat(b.data().toFloatArray()).containsExactly(1.0f - rateB * 1.0f, 2.0f - rateB * -2.0f);
        opt.setLrScale(a, 1);                                   // back to the plain rate
        assertThat(opt.lrScale(a)).isEqualTo(1.0);
        assertThatThrownBy(() -> opt.setLrScale(a, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> opt.setLrScale(param("stranger", 1f), 0.5)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aParameterThatCannotBeUpdatedInPlaceSaysHowToFixIt() {
        Parameter w = new Parameter("w", Tensor.zeros(DType.BF16, MemoryKind.PARAMETER, 2, 2));
        w.sum().backward();
        AdamW opt = new AdamW(List.of(new ParamGroup("g", Map.of("w", w), 1, 0)), 0.1);
        assertThatThrownBy(opt::step).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("parameter w must be a dense writable F32").hasMessageContaining("Parameter.materialize()");
        w.materialize();
        w.sum().backward();
        opt.step();
        assertThat(w.data().toFloatArray()[0]).isNegative();
    }

    @Test
    void closeReleasesAllStateAndRefusesFurtherUse() {
        long before = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE);
        Parameter a = param("a", 1f, 2f, 3f), b = param("b", 4f, 5f);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", Map.of("a", a, "b", b), 1.0, 0.0)), 0.01);
        setGrad(a, 1f, 1f, 1f);
        setGrad(b, 1f, 1f);
        opt.step();
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE) - before).isEqualTo(2L * (3 + 2) * Float.BYTES);
        opt.close();
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE)).isEqualTo(before);
        assertThat(opt.isClosed()).isTrue();
        opt.close();                                            // idempotent
        assertThatThrownBy(opt::step).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("was closed").hasMessageContaining("make a new optimizer");
        assertThat(a.data().get(0)).isNotEqualTo(1.0);          // the parameters stay the model's
    }
}
