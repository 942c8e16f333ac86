package jlisa.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

class LisaTest {
    /** A stack of N "layers" (one weight each) behind an always-on embedding and head: x → e → w_0 … w_N-1 → h. */
    static final class Stack {
        final Map<String, Map<String, Parameter>> middle = new LinkedHashMap<>();
        final Map<String, Parameter> all = new LinkedHashMap<>();
        final Parameter emb, head;

        Stack(int n, int width) {
            Rng rng = new Rng(9);
            emb = Parameter.of("emb", Tensor.randn(rng, 0, 0.5, jlisa.tensor.DType.F32, width));
            all.put("embedding.w", emb);
            for (int i = 0; i < n; i++) {
                Parameter w = Parameter.of("w", Tensor.randn(rng, 0, 0.5, jlisa.tensor.DType.F32, width, width));
                middle.put("layer." + i, Map.of("layer." + i + ".w", w));
                all.put("layer." + i + ".w", w);
            }
            head = Parameter.of("head", Tensor.randn(rng, 0, 0.5, jlisa.tensor.DType.F32, width));
            all.put("head.w", head);
        }

        void forwardBackward() {
            Variable x = emb.reshape(1, -1);
            for (Map<String, Parameter> l : middle.values()) x = x.matmul(l.values().iterator().next()).tanh();
            x.mul(head).sum().backward();
        }
    }

    @Test
    void drawsGammaDistinctLayersEveryPeriodAndFreezesTheRest() {
        Stack s = new Stack(8, 4);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-3);
        Lisa lisa = new Lisa(s.middle, opt, new Lisa.Config(3, 5, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 1));
        List<String> previous = null;
        for (int step = 0; step < 40; step++) {
            lisa.beforeStep(step);
            List<String> act = lisa.activeLayers();
            assertThat(act).hasSize(3).doesNotHaveDuplicates();
            if (step % 5 != 0) assertThat(act).isEqualTo(previous);
            for (var e : s.middle.entrySet()) {
                boolean on = act.contains(e.getKey());
                e.getValue().values().forEach(p -> assertThat(p.requiresGrad()).isEqualTo(on));
            }
            assertThat(s.emb.requiresGrad()).isTrue();
            assertThat(s.head.requiresGrad()).isTrue();
            previous = act;
        }
    }

    @Test
    void countsTheAlwaysOnGroupsPlusTheGammaLargestLayers() {
        Stack s = new Stack(5, 4);                 // embedding 4, head 4, five 4×4 layers
        Lisa lisa = new Lisa(s.middle, new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-3),
                new Lisa.Config(2, 1, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 1));
        assertThat(lisa.parametersTrainingAtOnce()).isEqualTo(4 + 4 + 2 * 16);
    }

    @Test
    void uniformDrawFrequenciesPassAChiSquareTest() {
        int n = 10, gamma = 2, periods = 5000;
        Stack s = new Stack(n, 2);
        Lisa lisa = new Lisa(s.middle, new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-3),
                new Lisa.Config(gamma, 1, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 42));
        int[] counts = new int[n];
        for (int p = 0; p < periods; p++) {
            lisa.beforeStep(p);
            for (String name : lisa.activeLayers()) counts[Integer.parseInt(name.substring(6))]++;
        }
        double expected = (double) periods * gamma / n, chi2 = 0;
        for (int c : counts) chi2 += (c - expected) * (c - expected) / expected;
        assertThat(chi2).as("chi-square with 9 degrees of freedom (p=0.001 critical value 27.88)").isLessThan(27.88);
    }

    @Test
    void explicitProbabilitiesAreFollowed() {
        Stack s = new Stack(4, 2);
        double[] probs = {0.7, 0.1, 0.1, 0.1};
        Lisa lisa = new Lisa(s.middle, new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-3),
                new Lisa.Config(1, 1, Lisa.StatePolicy.DROP, new Lisa.Sampling.Weights(probs), 3));
        int[] counts = new int[4];
        int periods = 4000;
        for (int p = 0; p < periods; p++) {
            lisa.beforeStep(p);
            counts[Integer.parseInt(lisa.activeLayers().get(0).substring(6))]++;
        }
        double chi2 = 0;
        for (int i = 0; i < 4; i++) chi2 += Math.pow(counts[i] - periods * probs[i], 2) / (periods * probs[i]);
        assertThat(chi2).as("chi-square, 3 degrees of freedom (p=0.001: 16.27)").isLessThan(16.27);
        assertThatThrownBy(() -> new Lisa(s.middle, new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-3),
                new Lisa.Config(1, 1, Lisa.StatePolicy.DROP, new Lisa.Sampling.Weights(new double[3]), 3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 layer probabilities for 4");
    }

    @Test
    void frozenLayersStayBitIdenticalThroughAPeriodAndActiveOnesTrain() {
        Stack s = new Stack(6, 4);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-2);
        Lisa lisa = new Lisa(s.middle, opt, new Lisa.Config(2, 4, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 5));
        lisa.beforeStep(0);
        Map<String, float[]> before = new LinkedHashMap<>();
        s.all.forEach((k, p) -> before.put(k, p.data().toFloatArray()));
        for (int step = 0; step < 4; step++) {
            lisa.beforeStep(step);
            s.forwardBackward();
            opt.step();
            opt.zeroGrad();
        }
        for (var e : s.middle.entrySet()) {
            String name = e.getKey() + ".w";
            float[] now = s.all.get(name).data().toFloatArray();
            if (lisa.activeLayers().contains(e.getKey())) assertThat(now).isNotEqualTo(before.get(name));
            else assertThat(now).as(name).containsExactly(before.get(name));
        }
        assertThat(s.emb.data().toFloatArray()).isNotEqualTo(before.get("embedding.w"));
    }

    @Test
    void dropFreesParkMovesAndKeepHoldsOptimizerState() {
        for (Lisa.StatePolicy policy : Lisa.StatePolicy.values()) {
            Stack s = new Stack(4, 64);
            AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-2);
            Lisa lisa = new Lisa(s.middle, opt, new Lisa.Config(1, 1, policy, new Lisa.Sampling.Uniform(), 11));
            MemoryLedger.collectGarbage();   // earlier tests' unreachable state must not be un-counted mid-measurement
            long state0 = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE), parked0 = MemoryLedger.live(MemoryKind.PARKED_STATE);
            long layerState = 2L * 4 * 64 * 64, alwaysOn = 2L * 2 * 4 * 64;
            List<String> seen = new ArrayList<>();
            for (int step = 0; step < 6; step++) {
                lisa.beforeStep(step);
                seen.add(lisa.activeLayers().get(0));
                s.forwardBackward();
                opt.step();
                opt.zeroGrad();
                long live = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE) - state0;
                long distinct = seen.stream().distinct().count();
                switch (policy) {
                    case DROP -> assertThat(live).isEqualTo(alwaysOn + layerState);
                    case PARK -> {
                        assertThat(live).isEqualTo(alwaysOn + layerState);
                        assertThat(MemoryLedger.live(MemoryKind.PARKED_STATE) - parked0).as("parked after %s", seen)
                                .isEqualTo((distinct - 1) * layerState);
                    }
                    case KEEP -> assertThat(live).isEqualTo(alwaysOn + distinct * layerState);
                }
            }
            lisa.close();
            assertThat(MemoryLedger.live(MemoryKind.PARKED_STATE)).isEqualTo(parked0);
        }
    }

    @Test
    void parkRestoresTheSameMomentsThatWereParked() {
        Stack s = new Stack(2, 8);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-2);
        Lisa lisa = new Lisa(s.middle, opt, new Lisa.Config(1, 1, Lisa.StatePolicy.PARK,
                new Lisa.Sampling.Weights(new double[] {1, 1}), 2));
        Map<String, float[]> moments = new LinkedHashMap<>();
        for (int step = 0; step < 20; step++) {
            lisa.beforeStep(step);
            String layer = lisa.activeLayers().get(0);
            Parameter w = s.middle.get(layer).values().iterator().next();
            if (moments.containsKey(layer)) {
                assertThat(opt.stateDict().get(layer + ".w.exp_avg").toFloatArray()).containsExactly(moments.get(layer));
            }
            s.forwardBackward();
            opt.step();
            opt.zeroGrad();
            moments.put(layer, opt.stateDict().get(layer + ".w.exp_avg").toFloatArray());
            assertThat(w.requiresGrad()).isTrue();
        }
        lisa.close();
    }

    @Test
    void samplerStateRestoresTheSameFutureDraws() {
        Stack s = new Stack(8, 2);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-3);
        Lisa a = new Lisa(s.middle, opt, new Lisa.Config(2, 3, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 77));
        for (int step = 0; step < 7; step++) a.beforeStep(step);
        long[] saved = a.state();
        List<List<String>> future = new ArrayList<>();
        for (int step = 7; step < 30; step++) {
            a.beforeStep(step);
            future.add(a.activeLayers());
        }
        Lisa b = new Lisa(s.middle, opt, new Lisa.Config(2, 3, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 1));
        b.restore(saved);
        for (int step = 7; step < 30; step++) {
            b.beforeStep(step);
            assertThat(b.activeLayers()).isEqualTo(future.get(step - 7));
        }
    }

    @Test
    void aLayerDrawnAgainKeepsItsMomentsAndStepCountUnderDrop() {
        // Three layers, two drawn: any two consecutive draws share at least one layer.
        Stack s = new Stack(3, 4);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-2);
        Lisa lisa = new Lisa(s.middle, opt, new Lisa.Config(2, 2, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 4));
        int kept = 0;
        for (int step = 0; step < 40; step++) {
            List<String> before = lisa.activeLayers();
            Map<String, float[]> moments = new LinkedHashMap<>();
            Map<String, Double> counts = new LinkedHashMap<>();
            for (String layer : before) {
                moments.put(layer, opt.stateDict().get(layer + ".w.exp_avg_sq").toFloatArray());
                counts.put(layer, opt.stateDict().get(layer + ".w.step").item());
            }
            lisa.beforeStep(step);
            for (String layer : s.middle.keySet()) {
                Parameter w = s.middle.get(layer).values().iterator().next();
                boolean stays = before.contains(layer) && lisa.activeLayers().contains(layer);
                if (stays) {
                    kept++;
                    assertThat(opt.stateDict().get(layer + ".w.exp_avg_sq").toFloatArray()).as("step %d %s", step, layer)
                            .containsExactly(moments.get(layer));
                    assertThat(opt.stateDict().get(layer + ".w.step").item()).isEqualTo(counts.get(layer));
                } else if (!lisa.activeLayers().contains(layer)) {
                    assertThat(opt.hasState(w)).as("step %d %s left", step, layer).isFalse();
                }
            }
            s.forwardBackward();
            opt.step();
            opt.zeroGrad();
        }
        assertThat(kept).as("re-drawn layer checks").isGreaterThan(40);
    }

    @Test
    void configKeepsItsFiveArgumentFormAndAddsWarmup() {
        Lisa.Config c = new Lisa.Config(2, 5, Lisa.StatePolicy.PARK, new Lisa.Sampling.Uniform(), 3);
        assertThat(c.warmupSteps()).isZero();
        assertThat(Lisa.Config.defaults(1).warmupSteps()).isZero();
        Lisa.Config w = c.withWarmup(4);
        assertThat(w).isEqualTo(new Lisa.Config(2, 5, Lisa.StatePolicy.PARK, new Lisa.Sampling.Uniform(), 3, 4));
        assertThatThrownBy(() -> c.withWarmup(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void joiningLayersRampUpTheirLearningRateAndReDrawnOnesDoNotRestart() {
        int warmup = 4;
        Stack s = new Stack(3, 4);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-2);
        Lisa lisa = new Lisa(s.middle, opt, new Lisa.Config(2, 3, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 8)
                .withWarmup(warmup));
        Map<String, Long> joinedAt = new LinkedHashMap<>();
        boolean sawRedrawnPastOnePeriod = false;
        for (int step = 0; step < 60; step++) {
            List<String> before = lisa.activeLayers();
            lisa.beforeStep(step);
            for (String layer : s.middle.keySet()) {
                Parameter w = s.middle.get(layer).values().iterator().next();
                if (!lisa.activeLayers().contains(layer)) {
                    joinedAt.remove(layer);
                    assertThat(opt.lrScale(w)).isEqualTo(1.0);
                    continue;
                }
                if (!before.contains(layer)) joinedAt.put(layer, (long) step);
                long since = step - joinedAt.get(layer);
                if (since >= 3) sawRedrawnPastOnePeriod = true;
                double expected = Math.min(1.0, (since + 1) / (warmup + 1.0));
                assertThat(opt.lrScale(w)).as("step %d %s joined at %d", step, layer, joinedAt.get(layer)).isEqualTo(expected);
                if (since == 0) assertThat(opt.lrScale(w)).isEqualTo(1.0 / (warmup + 1));
                if (since >= warmup) assertThat(opt.lrScale(w)).isEqualTo(1.0);
            }
            assertThat(opt.lrScale(s.emb)).isEqualTo(1.0);
            assertThat(opt.lrScale(s.head)).isEqualTo(1.0);
        }
        assertThat(sawRedrawnPastOnePeriod).isTrue();
    }

    @Test
    void warmupPositionIsPartOfTheStateAndTheOldFormatCountsAsWarm() {
        Stack s = new Stack(6, 2);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-3);
        Lisa.Config config = new Lisa.Config(2, 5, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 21).withWarmup(6);
        Lisa a = new Lisa(s.middle, opt, config);
        for (int step = 0; step < 7; step++) a.beforeStep(step);   // drawn at 5: two steps into the ramp
        long[] saved = a.state();
        List<double[]> scales = new ArrayList<>();
        for (int step = 7; step < 30; step++) {
            a.beforeStep(step);
            scales.add(scalesOf(s, opt));
        }
        assertThat(Arrays.stream(scales.get(0)).anyMatch(x -> x < 1)).as("a layer mid-ramp at the save").isTrue();

        AdamW opt2 = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-3);
        Lisa b = new Lisa(s.middle, opt2, config);
        b.restore(saved);
        for (int step = 7; step < 30; step++) {
            b.beforeStep(step);
            assertThat(scalesOf(s, opt2)).as("step %d", step).containsExactly(scales.get(step - 7));
        }

        // A checkpoint from before warm-up existed: RNG, last draw, count, layers — no join steps.
        long[] old = Arrays.copyOf(saved, saved.length - 2);
        AdamW opt3 = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-3);
        Lisa c = new Lisa(s.middle, opt3, config);
        c.restore(old);
        c.beforeStep(7);
        assertThat(c.activeLayers()).isEqualTo(activeAt(s, saved));
        for (Map<String, Parameter> layer : s.middle.values()) {
            for (Parameter p : layer.values()) assertThat(opt3.lrScale(p)).isEqualTo(1.0);
        }
        assertThatThrownBy(() -> c.restore(Arrays.copyOf(saved, saved.length - 1))).isInstanceOf(IllegalArgumentException.class);
    }

    private static double[] scalesOf(Stack s, Optimizer opt) {
        return s.middle.values().stream().flatMap(l -> l.values().stream()).mapToDouble(opt::lrScale).toArray();
    }

    private static List<String> activeAt(Stack s, long[] state) {
        int rl = new Rng(0).state().length;
        List<String> names = new ArrayList<>(s.middle.keySet());
        List<String> out = new ArrayList<>();
        for (int i = 0; i < state[rl + 1]; i++) out.add(names.get((int) state[rl + 2 + i]));
        return out;
    }

    @Test
    void parkingAThousandTimesHoldsFlatMemoryAndFreesWhatItUnparks() {
        Stack s = new Stack(4, 16);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-2);
        Lisa lisa = new Lisa(s.middle, opt, new Lisa.Config(1, 1, Lisa.StatePolicy.PARK, new Lisa.Sampling.Uniform(), 13));
        MemoryLedger.collectGarbage();
        long parked0 = MemoryLedger.live(MemoryKind.PARKED_STATE);
        long layerState = 2L * 4 * 16 * 16;
        Tensor watched = null;
        String watchedLayer = null;
        boolean watchedFreed = false;
        for (int step = 0; step < 1000; step++) {
            lisa.beforeStep(step);
            if (watched != null && lisa.activeLayers().contains(watchedLayer)) {
                // its parked copy went back to the optimizer: that memory must be gone, not just un-counted
                assertThat(((SegmentStorage) watched.storage()).segment().scope().isAlive()).isFalse();
                watchedFreed = true;
                watched = null;
            }
            s.forwardBackward();
            opt.step();
            opt.zeroGrad();
            assertThat(lisa.parkedBytesHeld()).as("step %d", step).isLessThanOrEqualTo(3 * layerState)
                    .isEqualTo(MemoryLedger.live(MemoryKind.PARKED_STATE) - parked0);
            if (watched == null && !lisa.stateDict().isEmpty()) {
                String key = lisa.stateDict().keySet().iterator().next();      // e.g. layer.2.w.exp_avg
                watched = lisa.stateDict().get(key);
                watchedLayer = key.substring(0, key.indexOf(".w."));
            }
        }
        assertThat(watchedFreed).isTrue();
        assertThat(lisa.parkedBytesHeld()).isEqualTo(3 * layerState);    // after 1000 draws every other layer is parked
        Tensor last = lisa.stateDict().values().iterator().next();
        lisa.close();
        assertThat(lisa.parkedBytesHeld()).isZero();
        assertThat(MemoryLedger.live(MemoryKind.PARKED_STATE)).isEqualTo(parked0);
        assertThat(((SegmentStorage) last.storage()).segment().scope().isAlive()).isFalse();
        lisa.close();                                                     // idempotent
        assertThat(lisa.parkedBytesHeld()).isZero();
    }

    @Test
    void parkedStateRoundTripsThroughItsStateDictIntoOffHeapMemory() {
        Stack s = new Stack(4, 8);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-2);
        Lisa.Config config = new Lisa.Config(1, 2, Lisa.StatePolicy.PARK, new Lisa.Sampling.Uniform(), 3);
        Lisa lisa = new Lisa(s.middle, opt, config);
        for (int step = 0; step < 12; step++) {
            lisa.beforeStep(step);
            s.forwardBackward();
            opt.step();
            opt.zeroGrad();
        }
        Map<String, Tensor> dict = lisa.stateDict();
        assertThat(dict).isNotEmpty();
        for (String layer : lisa.activeLayers()) assertThat(dict.keySet()).noneMatch(k -> k.startsWith(layer + "."));
        Map<String, Tensor> saved = new LinkedHashMap<>();                // what a checkpoint file gives back: heap copies
        dict.forEach((k, t) -> saved.put(k, t.copy()));
        for (String k : saved.keySet()) {
            if (k.endsWith(".step")) assertThat(saved.get(k).item()).isGreaterThan(0);
        }

        AdamW opt2 = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-2);
        opt2.loadStateDict(opt.stateDict());
        Lisa lisa2 = new Lisa(s.middle, opt2, config);
        long ledger0 = MemoryLedger.live(MemoryKind.PARKED_STATE);
        lisa2.loadStateDict(saved);
        assertThat(lisa2.parkedBytesHeld()).isEqualTo(lisa.parkedBytesHeld());
        assertThat(MemoryLedger.live(MemoryKind.PARKED_STATE) - ledger0).isEqualTo(lisa2.parkedBytesHeld());
        Map<String, Tensor> back = lisa2.stateDict();
        assertThat(back.keySet()).containsExactlyElementsOf(dict.keySet());
        back.forEach((k, t) -> {
            assertThat(t.toDoubleArray()).as(k).containsExactly(dict.get(k).toDoubleArray());
            if (!k.endsWith(".step")) {
                assertThat(t.storage()).isInstanceOf(SegmentStorage.class);
                assertThat(t.storage().kind()).isEqualTo(MemoryKind.PARKED_STATE);
            }
        });
        lisa2.loadStateDict(lisa2.stateDict());                            // its own views: copied before the old is freed
        assertThat(lisa2.parkedBytesHeld()).isEqualTo(lisa.parkedBytesHeld());

        String someKey = saved.keySet().stream().filter(k -> !k.endsWith(".step")).findFirst().orElseThrow();
        String param = someKey.substring(0, someKey.lastIndexOf('.'));
        Map<String, Tensor> noStep = new LinkedHashMap<>(saved);
        noStep.remove(param + ".step");
        assertThatThrownBy(() -> lisa2.loadStateDict(noStep)).hasMessageContaining("step count");
        assertThatThrownBy(() -> lisa2.loadStateDict(Map.of("head.w.exp_avg", Tensor.zeros(8))))
                .hasMessageContaining("names no sampled layer");
        String live = lisa.activeLayers().get(0) + ".w";
        assertThatThrownBy(() -> lisa2.loadStateDict(Map.of(live + ".exp_avg", Tensor.zeros(8, 8), live + ".step", Tensor.zeros(1))))
                .hasMessageContaining("live");
        assertThatThrownBy(() -> lisa2.loadStateDict(Map.of(param + ".exp_avg", Tensor.zeros(4, 8), param + ".step", Tensor.zeros(1))))
                .hasMessageContaining("shape");
        assertThat(lisa2.parkedBytesHeld()).as("a rejected dict leaves the parked state alone").isEqualTo(lisa.parkedBytesHeld());
        lisa.close();
        lisa2.close();
    }
}
