package jlisa.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.optim.AdamW;
import jlisa.optim.Lisa;
import jlisa.optim.ParamGroup;
import jlisa.tensor.Backend;
import jlisa.tensor.Backends;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.MatMul;
import jlisa.transformer.model.GPT2;
import org.junit.jupiter.api.Test;

/**
 * What the CUDA backend must do, checked against the CPU: every offloaded operation on random inputs, odd
 * sizes, every transpose, batches, outputs poisoned with NaN beforehand so an element left unwritten fails.
 * Tolerances are relative (1e-5 for fp32, 1e-3 for TF32, 1e-2 for bf16): for products, to the magnitude of
 * the terms summed ({@code |α|·|A|·|B| + |β·C|}, the scale of rounding errors; the result itself may cancel
 * to near zero), elsewhere to the largest expected value.
 * Subclasses give the device: the real one ({@link CudaDeviceTest}) or the fake library ({@link FakeCudaTest}).
 */
abstract class GpuChecks {

    /** The device under test; subclasses skip (assumption) when it is not there. */
    abstract CudaDevice device();

    /** A backend that takes every product, however small. */
    CudaBackend backend(Precision precision) { return new CudaBackend(device(), precision, 0); }

    static double tolerance(Precision p) {
        return switch (p) {
            case FP32 -> 1e-5;
            case TF32 -> 1e-3;
            case BF16 -> 1e-2;
        };
    }

    /** max |got − want| / max |want|; infinite when {@code got} holds a NaN. */
    static double relativeError(float[] got, float[] want) {
        assertThat(got).hasSameSizeAs(want);
        double diff = 0, scale = 1e-30;
        for (int i = 0; i < got.length; i++) {
            if (Float.isNaN(got[i])) return Double.POSITIVE_INFINITY;
            diff = Math.max(diff, Math.abs((double) got[i] - want[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        return diff / scale;
    }

    /**
     * {@code c = alpha·a@b + beta·c} through {@code backend} and on the CPU; returns the error of the first
     * relative to the magnitude of the terms, {@code max |gpu − cpu| / max (|α|·|a|·|b| + |β·c|)} (infinite
     * when the result holds a NaN).
     */
    static double productError(Backend backend, double alpha, Tensor a, Tensor b, double beta, Tensor c) {
        Tensor cpu = c.copy(), gpu = c.copy(), terms = beta == 0 ? Tensor.zeros(c.shape()) : c.abs();
        try (var none = Backends.use(null)) {
            MatMul.gemm(alpha, a, b, beta, cpu);
            MatMul.gemm(Math.abs(alpha), a.abs(), b.abs(), Math.abs(beta), terms);
        }
        try (var gpuScope = Backends.use(backend)) {
            MatMul.gemm(alpha, a, b, beta, gpu);
        }
        float[] got = gpu.toFloatArray(), want = cpu.toFloatArray(), scale = terms.toFloatArray();
        double diff = 0, magnitude = 1e-30;
        for (int i = 0; i < got.length; i++) {
            if (Float.isNaN(got[i])) return Double.POSITIVE_INFINITY;
            diff = Math.max(diff, Math.abs((double) got[i] - want[i]));
            magnitude = Math.max(magnitude, scale[i]);
        }
        return diff / magnitude;
    }

    /** An m × n operand, stored transposed (a view of an n × m tensor) when {@code transposed}. */
    static Tensor operand(Rng rng, int rows, int cols, boolean transposed) {
        return transposed ? Tensor.randn(rng, cols, rows).t() : Tensor.randn(rng, rows, cols);
    }

    static Tensor poisoned(int... shape) { return Tensor.full(Float.NaN, DType.F32, shape); }

    @Test void productsMatchTheCpuForEveryTransposeAndOddSizes() {
        Rng rng = new Rng(11);
        int[][] sizes = {{1, 1, 1}, {3, 5, 7}, {17, 31, 13}, {64, 1, 33}, {1, 64, 9}, {129, 67, 95}, {96, 128, 256}};
        for (Precision precision : Precision.values()) {
            CudaBackend backend = backend(precision);
            for (int[] s : sizes) {
                for (int layout = 0; layout < 4; layout++) {
                    boolean ta = (layout & 2) != 0, tb = (layout & 1) != 0;
                    Tensor a = operand(rng, s[0], s[2], ta), b = operand(rng, s[2], s[1], tb);
                    assertThat(productError(backend, 1, a, b, 0, poisoned(s[0], s[1]))).as("%s m,n,k=%d,%d,%d %s%s", precision,
                            s[0], s[1], s[2], ta ? "T" : "N", tb ? "T" : "N").isLessThanOrEqualTo(tolerance(precision));
                    Tensor c = Tensor.randn(rng, s[0], s[1]);   // accumulate: beta = 1
                    assertThat(productError(backend, 0.5, a, b, 1, c)).as("%s accumulate m,n,k=%d,%d,%d", precision, s[0], s[1],
                            s[2]).isLessThanOrEqualTo(tolerance(precision));
                }
            }
        }
    }

    @Test void batchedAndBroadcastProductsMatchTheCpu() {
        Rng rng = new Rng(12);
        for (Precision precision : Precision.values()) {
            CudaBackend backend = backend(precision);
            double tol = tolerance(precision);
            // evenly spaced batches: one strided-batched call
            Tensor a = Tensor.randn(rng, 2, 3, 9, 17), b = Tensor.randn(rng, 2, 3, 17, 5);
            assertThat(productError(backend, 1, a, b, 0, poisoned(2, 3, 9, 5))).as("%s (2, 3) batch", precision)
                    .isLessThanOrEqualTo(tol);
            // one weight broadcast over the batch (stride 0), plain and transposed
            Tensor w = Tensor.randn(rng, 17, 6), wt = Tensor.randn(rng, 6, 17).t();
            assertThat(productError(backend, 1, a, w, 0, poisoned(2, 3, 9, 6))).as("%s broadcast weight", precision)
                    .isLessThanOrEqualTo(tol);
            assertThat(productError(backend, 1, a, wt, 0, poisoned(2, 3, 9, 6))).as("%s broadcast transposed weight", precision)
                    .isLessThanOrEqualTo(tol);
            // attention's q·kᵀ on (B, T, H, D) split into heads: matrices not evenly spaced
            Tensor qkv = Tensor.randn(rng, 2, 7, 3, 8);
            Tensor q = qkv.transpose(1, 2), k = qkv.transpose(1, 2).transpose(-1, -2);
            assertThat(productError(backend, 0.25, q, k, 0, poisoned(2, 3, 7, 7))).as("%s attention scores", precision)
                    .isLessThanOrEqualTo(tol);
            // batch dims broadcast against each other: (2, 1) with (1, 3)
            Tensor x = Tensor.randn(rng, 2, 1, 4, 5), y = Tensor.randn(rng, 1, 3, 5, 6);
            assertThat(productError(backend, 1, x, y, 0, poisoned(2, 3, 4, 6))).as("%s broadcast batch dims", precision)
                    .isLessThanOrEqualTo(tol);
        }
    }

    @Test void viewsCublasCannotReadAndMappedOperandsGiveTheCpuResult() {
        Rng rng = new Rng(13);
        CudaBackend backend = backend(Precision.FP32);
        Tensor every2nd = Tensor.randn(rng, 20, 30).slice(0, 0, 20, 2).slice(1, 0, 30, 2);   // neither rows nor columns contiguous
        Tensor b = Tensor.randn(rng, 15, 8);
        assertThat(productError(backend, 1, every2nd, b, 0, poisoned(10, 8))).isLessThanOrEqualTo(1e-5);
        Tensor corner = Tensor.randn(rng, 300, 300).narrow(0, 5, 4).narrow(1, 7, 15);   // a small corner of a big tensor
        assertThat(productError(backend, 1, corner, b, 0, poisoned(4, 8))).isLessThanOrEqualTo(1e-5);
        try (Arena arena = Arena.ofConfined()) {
            SegmentStorage mapped = SegmentStorage.allocate(DType.F32, 15 * 8, arena, MemoryKind.PARAMETER);
            Tensor weight = new Tensor(mapped, new int[] {15, 8}, Shapes.contiguousStrides(new int[] {15, 8}), 0).copyFrom(b);
            assertThat(productError(backend, 1, Tensor.randn(rng, 6, 15), weight, 0, poisoned(6, 8))).isLessThanOrEqualTo(1e-5);
            mapped.release();
        }
        Tensor bf16 = Tensor.randn(rng, 15, 8).to(DType.BF16);
        assertThat(productError(backend, 1, Tensor.randn(rng, 6, 15), bf16, 0, poisoned(6, 8))).isLessThanOrEqualTo(1e-5);
    }

    @Test void productsInDeviceMemoryStayThereAndSmallOrF64OnesStayOnTheCpu() {
        Rng rng = new Rng(14);
        CudaBackend backend = backend(Precision.FP32);
        Tensor a = Tensor.randn(rng, 33, 20), b = Tensor.randn(rng, 20, 17);
        Tensor expected = a.matmul(b);
        Tensor da = backend.toDevice(a, MemoryKind.OTHER), db = backend.toDevice(b.t().contiguous(), MemoryKind.OTHER).t();
        Tensor dc = backend.toDevice(poisoned(33, 17), MemoryKind.OTHER);
        try (var gpu = Backends.use(backend)) {
            MatMul.gemm(1, da, db, 0, dc);
        }
        assertThat(relativeError(dc.toFloatArray(), expected.toFloatArray())).isLessThanOrEqualTo(1e-5);

        CudaBackend thrifty = new CudaBackend(device(), Precision.FP32, CudaBackend.DEFAULT_MIN_FLOPS);
        assertThat(thrifty.gemm(1, a, b, 0, Tensor.zeros(33, 17))).as("a small product").isFalse();
        Tensor a64 = Tensor.randn(rng, 0, 1, DType.F64, 64, 64);
        assertThat(backend.gemm(1, a64, a64, 0, Tensor.zeros(DType.F64, 64, 64))).as("an F64 product").isFalse();
    }

    @Test void theCachingAllocatorServesRepeatedWorkWithoutNewDeviceAllocations() {
        Rng rng = new Rng(15);
        CudaBackend backend = backend(Precision.FP32);
        Tensor a = Tensor.randn(rng, 70, 40), b = Tensor.randn(rng, 40, 30), c = Tensor.zeros(70, 30);
        MemoryLedger.collectGarbage();   // other tests' unreachable device tensors are un-counted first
        try (var gpu = Backends.use(backend)) {
            MatMul.gemm(1, a, b, 0, c);
            long allocations = device().driverAllocations();
            long deviceOther = MemoryLedger.live(MemoryKind.OTHER, true);
            for (int i = 0; i < 5; i++) MatMul.gemm(1, a, b, 0, c);
            assertThat(device().driverAllocations()).isEqualTo(allocations);
            assertThat(MemoryLedger.live(MemoryKind.OTHER, true)).as("scratch is given back").isEqualTo(deviceOther);
        }
        long hostState = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, false);
        long deviceState = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, true);
        Tensor state = backend.zeros(MemoryKind.OPTIMIZER_STATE, 1000);
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, true)).isEqualTo(deviceState + 4000);
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, false)).isEqualTo(hostState);
        assertThat(state.toFloatArray()).containsOnly(0f);
        state.storage().release();
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, true)).isEqualTo(deviceState);
    }

    @Test void transfersLargerThanTheStagingBuffersRoundTripExactly() {
        CudaBackend backend = backend(Precision.FP32);
        int n = 2 * (8 << 20) + 12345;   // two and a bit 32 MiB chunks: both staging buffers, twice, and a short tail
        float[] values = new float[n];
        java.util.SplittableRandom rng = new java.util.SplittableRandom(19);
        for (int i = 0; i < n; i++) values[i] = (float) rng.nextGaussian();
        Tensor dev = backend.toDevice(Tensor.of(values, n), MemoryKind.OTHER);
        float[] back = dev.toFloatArray();
        assertThat(java.util.Arrays.mismatch(back, values)).as("first element that differs").isEqualTo(-1);
        dev.storage().release();
    }

    @Test void fusedAdamwMatchesTheCpuOptimizerOverSeveralSteps() {
        Map<String, float[]> cpu = adamwRun(null), gpu = adamwRun(backend(Precision.FP32));
        for (String name : cpu.keySet()) {
            assertThat(relativeError(gpu.get(name), cpu.get(name))).as(name).isLessThanOrEqualTo(1e-5);
        }
    }

    /** Five AdamW steps (weight decay on the matrices) on parameters of awkward sizes; their values after. */
    private static Map<String, float[]> adamwRun(Backend backend) {
        Rng rng = new Rng(16);
        Map<String, Parameter> params = new LinkedHashMap<>();
        params.put("w", Parameter.of("w", Tensor.randn(rng, 0, 0.5, DType.F32, 37, 29)));   // 1073: not a multiple of 4
        params.put("u", Parameter.of("u", Tensor.randn(rng, 0, 0.5, DType.F32, 64, 16)));
        params.put("bias", Parameter.of("bias", Tensor.randn(rng, 0, 0.5, DType.F32, 3)));
        AdamW opt = new AdamW(ParamGroup.withDecay(params, 0.1), 3e-3);
        Tensor x = Tensor.randn(rng, 5, 37);
        try (var scope = Backends.use(backend)) {
            for (int step = 0; step < 5; step++) {
                opt.zeroGrad();
                Variable h = new Variable(x).matmul(params.get("w")).tanh().sum();
                h.add(params.get("u").mul(params.get("u")).sum()).add(params.get("bias").mul(params.get("bias")).sum()).backward();
                opt.step();
            }
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        params.forEach((n, p) -> out.put(n, p.data().toFloatArray()));
        if (backend != null) {
            assertThat(opt.stateDict().get("w.exp_avg").storage().isCpu()).as("moments live on the device").isFalse();
        }
        return out;
    }

    @Test void adamwOnUnalignedDeviceTensorsUsesTheScalarKernelAndAgrees() {
        Rng rng = new Rng(17);
        CudaBackend backend = backend(Precision.FP32);
        int n = 1001;
        float[] p = Tensor.randn(rng, n).toFloatArray(), g = Tensor.randn(rng, n).toFloatArray();
        float[] m = new float[n], v = new float[n], p0 = p.clone();
        Backend.AdamWStep step = new Backend.AdamWStep(1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, 1e-2f / 0.1f, (float) Math.sqrt(0.001));
        AdamW.update(p, 0, g, 0, m, v, n, step.lr(), step.beta1(), step.beta2(), step.eps(), step.weightDecay(), step.stepSize(),
                step.bc2Sqrt());
        // the parameter one element into its storage: its address is not 16-byte aligned
        Tensor dp = backend.toDevice(Tensor.of(concat(new float[] {7}, p0), n + 1), MemoryKind.PARAMETER).narrow(0, 1, n);
        Tensor dg = backend.toDevice(Tensor.of(g, n), MemoryKind.GRADIENT);
        Tensor dm = backend.zeros(MemoryKind.OPTIMIZER_STATE, n), dv = backend.zeros(MemoryKind.OPTIMIZER_STATE, n);
        backend.adamw(dp, dg, dm, dv, step);
        assertThat(relativeError(dp.toFloatArray(), p)).isLessThanOrEqualTo(1e-5);
        assertThat(relativeError(dm.toFloatArray(), m)).isLessThanOrEqualTo(1e-5);
        assertThat(relativeError(dv.toFloatArray(), v)).isLessThanOrEqualTo(1e-5);
    }

    private static float[] concat(float[] a, float[] b) {
        float[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test void gradientNormAndScalingMatchTheCpu() {
        Rng rng = new Rng(18);
        CudaBackend backend = backend(Precision.FP32);
        for (int n : new int[] {1, 255, 10007, 300_001}) {
            Tensor host = Tensor.randn(rng, n);
            Tensor dev = backend.toDevice(host, MemoryKind.GRADIENT);
            double expected = 0;
            for (float x : host.toFloatArray()) expected += (double) x * x;
            assertThat(backend.sumOfSquares(dev)).as("n=%d", n).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-9 * expected));
            backend.scale(dev, 0.37);
            assertThat(dev.toFloatArray()).as("n=%d", n).containsExactly(host.mul(0.37).toFloatArray());
        }
    }

    @Test void lisaParksDeviceMomentsOnTheHostAndTrainsAsOnTheCpu() {
        List<Double> cpuLosses = new ArrayList<>(), gpuLosses = new ArrayList<>();
        List<Long> deviceState = new ArrayList<>();
        lisaFineTune(null, cpuLosses, deviceState);
        deviceState.clear();
        MemoryLedger.collectGarbage();   // earlier tests' unreachable device state must not be un-counted mid-run
        lisaFineTune(backend(Precision.FP32), gpuLosses, deviceState);
        assertThat(gpuLosses).hasSameSizeAs(cpuLosses);
        for (int i = 0; i < cpuLosses.size(); i++) {
            assertThat(gpuLosses.get(i)).as("loss %d", i + 1)
                    .isCloseTo(cpuLosses.get(i), org.assertj.core.data.Offset.offset(1e-5 * Math.abs(cpuLosses.get(i))));
        }
        // with γ = 1 of 4 layers active, device state never holds more than one layer's moments besides the always-on groups
        assertThat(deviceState.stream().distinct().count()).as("device state after each step %s", deviceState).isEqualTo(1);
    }

    /**
     * A short LISA fine-tune (γ=1, K=2, state parked) of a tiny GPT-2 on random tokens; records each step's loss
     * (and the loss after the last update) and the live device bytes of optimizer state after each step.
     */
    private static void lisaFineTune(Backend backend, List<Double> losses, List<Long> deviceState) {
        GPT2.Config cfg = GPT2.Config.preset("tiny");
        GPT2 model = new GPT2(cfg, new Rng(3));
        model.train(true);
        Map<String, Parameter> all = model.namedParameters();
        AdamW opt = new AdamW(ParamGroup.withDecay(all, 0.01), 1e-3);
        Map<String, Map<String, Parameter>> middle = new LinkedHashMap<>();
        model.layerGroups().forEach((name, params) -> {
            if (name.startsWith("layer.")) middle.put(name, params);
        });
        Lisa lisa = new Lisa(middle, opt, new Lisa.Config(1, 2, Lisa.StatePolicy.PARK, new Lisa.Sampling.Uniform(), 5));
        Rng data = new Rng(8);
        int batch = 2, seq = 16;
        try (var scope = Backends.use(backend)) {
            for (int step = 0; step <= 6; step++) {
                lisa.beforeStep(step);
                int[] ids = new int[batch * seq], targets = new int[batch * seq];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = data.nextInt(cfg.vocabSize());
                    targets[i] = data.nextInt(cfg.vocabSize());
                }
                opt.zeroGrad();
                Variable loss = model.forward(Tensor.of(ids, batch, seq)).reshape(batch * seq, cfg.vocabSize())
                        .crossEntropy(Tensor.of(targets, batch * seq), -100);
                losses.add(loss.data().item());
                if (step == 6) break;   // the loss after six updates
                loss.backward();
                opt.step();
                deviceState.add(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, true));
            }
        }
        lisa.close();
        for (Parameter p : all.values()) opt.dropState(p);
    }
}
