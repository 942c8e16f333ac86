package jlisa.optim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jlisa.autograd.Parameter;
import jlisa.tensor.Backends;
import jlisa.tensor.DeviceStorage;
import jlisa.tensor.HostMemoryBackend;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Optimizer state in an accelerator's memory, through a backend whose "device" is Java arrays: where state
 * goes, that the fused update gives the CPU's bits, and that LISA parks device moments on the host and back.
 */
class DeviceStateTest {

    /** Runs {@code steps} LISA-AdamW steps (γ=1, K=1, weight decay) on a fresh stack; returns every parameter's values. */
    private static Map<String, float[]> train(Lisa.StatePolicy policy, int steps, Runnable afterEachStep,
                                              List<AdamW> optimizerOut) {
        LisaTest.Stack s = new LisaTest.Stack(3, 16);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0.05)), 1e-2);
        optimizerOut.add(opt);
        Lisa lisa = new Lisa(s.middle, opt, new Lisa.Config(1, 1, policy, new Lisa.Sampling.Uniform(), 4));
        for (int step = 0; step < steps; step++) {
            lisa.beforeStep(step);
            s.forwardBackward();
            opt.step();
            opt.zeroGrad();
            afterEachStep.run();
        }
        Map<String, float[]> values = new LinkedHashMap<>();
        s.all.forEach((name, p) -> values.put(name, p.data().toFloatArray()));
        lisa.close();
        return values;
    }

    @Test void adamwKeepsNewStateInTheActiveBackendAndGivesTheCpuBits() {
        List<AdamW> opts = new ArrayList<>();
        Map<String, float[]> cpu = train(Lisa.StatePolicy.KEEP, 6, () -> { }, opts);
        HostMemoryBackend backend = new HostMemoryBackend(0);
        Map<String, float[]> device;
        try (var gpu = Backends.use(backend)) {
            device = train(Lisa.StatePolicy.KEEP, 6, () -> { }, opts);
        }
        for (String name : cpu.keySet()) assertThat(device.get(name)).as(name).containsExactly(cpu.get(name));
        assertThat(backend.adamwCalls).isEqualTo(6 * 3);   // embedding, head and the one active layer, each step
        for (Tensor t : opts.get(1).stateDict().values()) {
            if (t.numel() > 1) assertThat(t.storage()).isInstanceOf(DeviceStorage.class);
        }
        assertThat(opts.get(0).stateDict().values()).allSatisfy(t -> assertThat(t.storage().isCpu()).isTrue());
    }

    @Test void sgdStateStaysOnTheHostEvenWithABackend() {
        LisaTest.Stack s = new LisaTest.Stack(2, 4);
        Sgd sgd = new Sgd(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-2, 0.9, false);
        s.all.values().forEach(p -> p.requiresGrad(true));
        try (var gpu = Backends.use(new HostMemoryBackend(0))) {
            s.forwardBackward();
            sgd.step();
        }
        assertThat(sgd.stateDict().values()).allSatisfy(t -> assertThat(t.storage().isCpu()).isTrue());
    }

    @Test void lisaParksDeviceMomentsOnTheHostAndBringsThemBack() {
        List<AdamW> opts = new ArrayList<>();
        Map<String, float[]> cpu = train(Lisa.StatePolicy.PARK, 10, () -> { }, opts);
        HostMemoryBackend backend = new HostMemoryBackend(0);
        MemoryLedger.collectGarbage();
        long device0 = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, true);
        long layerState = 2L * 4 * 16 * 16, alwaysOn = 2L * 2 * 4 * 16;
        List<Long> deviceState = new ArrayList<>();
        Map<String, float[]> device;
        try (var gpu = Backends.use(backend)) {
            device = train(Lisa.StatePolicy.PARK, 10,
                    () -> deviceState.add(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, true) - device0), opts);
        }
        // only the active layer's moments (and the always-on groups') are in device memory after each step
        assertThat(deviceState).containsOnly(alwaysOn + layerState);
        for (String name : cpu.keySet()) assertThat(device.get(name)).as(name).containsExactly(cpu.get(name));
    }

    @Test void loadedStateGoesToTheActiveBackend() {
        LisaTest.Stack s = new LisaTest.Stack(1, 4);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", s.all, 1, 0)), 1e-2);
        s.all.values().forEach(p -> p.requiresGrad(true));
        s.forwardBackward();
        opt.step();
        Map<String, Tensor> saved = opt.stateDict();
        // stateDict() does not copy, and loading releases the old state: keep its values to compare with.
        Map<String, float[]> expected = new java.util.LinkedHashMap<>();
        saved.forEach((key, t) -> expected.put(key, t.toFloatArray()));
        try (var gpu = Backends.use(new HostMemoryBackend(0))) {
            opt.loadStateDict(saved);
        }
        Map<String, Tensor> loaded = opt.stateDict();
        for (String key : saved.keySet()) {
            assertThat(loaded.get(key).toFloatArray()).as(key).containsExactly(expected.get(key));
            if (!key.endsWith(".step")) assertThat(loaded.get(key).storage()).isInstanceOf(DeviceStorage.class);
        }
    }

    @Test void clippingReducesAndScalesDeviceGradientsWhereTheyLive() {
        HostMemoryBackend backend = new HostMemoryBackend(0);
        float[] values = {3, 4, 0, 12};
        Tensor hostGrad = Tensor.of(values.clone(), 2, 2);
        Tensor deviceGrad = backend.toDevice(Tensor.of(new float[] {0, 0, 0, 0}, 2, 2), MemoryKind.GRADIENT);
        deviceGrad.copyFrom(Tensor.of(values.clone(), 2, 2));
        double expected = GradClip.clip(List.of(hostGrad, Tensor.of(values.clone(), 2, 2)), 1.0);
        Tensor secondHost = Tensor.of(values.clone(), 2, 2);
        double got = GradClip.clip(List.of(secondHost, deviceGrad), 1.0);
        assertThat(got).isEqualTo(expected).isEqualTo(Math.sqrt(2 * 169.0));
        assertThat(backend.sumOfSquaresCalls).isEqualTo(1);
        assertThat(backend.scaleCalls).isEqualTo(1);
        assertThat(deviceGrad.toFloatArray()).containsExactly(hostGrad.toFloatArray());
    }

    @Test void parametersWithoutStateOnTheDeviceNeverAskTheBackend() {
        Parameter p = Parameter.of("p", Tensor.ones(3));
        AdamW opt = new AdamW(List.of(new ParamGroup("all", Map.of("p", p), 1, 0)), 1e-2);
        p.requiresGrad(true);
        p.mul(p).sum().backward();
        opt.step();   // state made on the host, before any backend
        HostMemoryBackend backend = new HostMemoryBackend(0);
        try (var gpu = Backends.use(backend)) {
            opt.zeroGrad();
            p.mul(p).sum().backward();
            opt.step();
        }
        assertThat(backend.adamwCalls).isZero();
        assertThat(opt.stateDict().get("p.exp_avg").storage().isCpu()).isTrue();
    }
}
