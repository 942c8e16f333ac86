package jlisa.tensor;

import jlisa.tensor.kernels.MatMul;

/**
 * A test-only {@link Backend} whose "device memory" is Java arrays: it proves, without a GPU, that the
 * kernels and the optimizers route work through the SPI and that values survive the trips between host
 * and "device". It counts what it was asked to do. Its AdamW is a second, scalar implementation of the
 * formula (as a GPU kernel would be), so comparing it with the CPU optimizer is a real check.
 */
public final class HostMemoryBackend implements Backend {
    /** Products asked for, and products taken. */
    public int gemmCalls, gemmsTaken;
    public int adamwCalls, sumOfSquaresCalls, scaleCalls;
    /** Contiguous ranges moved between host and "device". */
    public int transfers;
    private final long minFlops;

    /** Takes products of at least {@code minFlops} floating-point operations (F32 only), as a GPU backend would. */
    public HostMemoryBackend(long minFlops) { this.minFlops = minFlops; }

    /** "Device memory": a float array owned by this backend. */
    public final class ArrayDeviceStorage extends DeviceStorage {
        private final float[] memory;

        ArrayDeviceStorage(long length, MemoryKind kind) {
            super(DType.F32, length, kind);
            memory = new float[Math.toIntExact(length)];
        }

        @Override public Backend backend() { return HostMemoryBackend.this; }

        @Override public void readFloats(long from, float[] dst, int dstOff, int count) {
            transfers++;
            System.arraycopy(memory, Math.toIntExact(from), dst, dstOff, count);
        }

        @Override public void writeFloats(long to, float[] src, int srcOff, int count) {
            transfers++;
            System.arraycopy(src, srcOff, memory, Math.toIntExact(to), count);
        }
    }

    @Override public String name() { return "host-memory"; }

    @Override public String description() { return "test backend: device memory is Java arrays"; }

    @Override public boolean gemm(double alpha, Tensor a, Tensor b, double beta, Tensor c) {
        gemmCalls++;
        long flops = 2L * a.size(-2) * a.size(-1) * b.size(-1) * (c.numel() / Math.max(1, c.size(-2) * c.size(-1)));
        if (c.dtype() != DType.F32 || flops < minFlops) return false;
        gemmsTaken++;
        Tensor out = c.toHost();
        try (var cpu = Backends.use(null)) {   // the "device" computes with the CPU kernel
            MatMul.gemm(alpha, a.toHost(), b.toHost(), beta, out);
        }
        if (out != c) c.copyFrom(out);
        return true;
    }

    @Override public Tensor zeros(MemoryKind kind, int... shape) {
        return new Tensor(new ArrayDeviceStorage(Shapes.numel(shape), kind), shape, Shapes.contiguousStrides(shape), 0);
    }

    @Override public Tensor toDevice(Tensor t, MemoryKind kind) { return zeros(kind, t.shape()).copyFrom(t); }

    @Override public Tensor empty(MemoryKind kind, int... shape) { return zeros(kind, shape); }

    /** Device to device: the "device" is an array, so the CPU's copy runs over it in place (no transfer). */
    @Override public void copy(Tensor src, Tensor dst) {
        Tensor from = new Tensor(HeapStorage.wrap(own(src).memory, MemoryKind.OTHER), src.shape(), src.strides(), src.offset());
        Tensor to = new Tensor(HeapStorage.wrap(own(dst).memory, MemoryKind.OTHER), dst.shape(), dst.strides(), dst.offset());
        to.copyFrom(from);
        from.storage().release();
        to.storage().release();
    }

    @Override public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep s) {
        adamwCalls++;
        float[] p = param.toHost().toFloatArray(), g = grad.toFloatArray();
        float[] mm = own(m).memory, vv = own(v).memory;
        float decay = s.decay(), b1c = s.oneMinusBeta1(), b2c = s.oneMinusBeta2();
        for (int i = 0; i < p.length; i++) {
            float mi = mm[i] * s.beta1() + g[i] * b1c;
            float vi = vv[i] * s.beta2() + g[i] * g[i] * b2c;
            mm[i] = mi;
            vv[i] = vi;
            float denom = (float) Math.sqrt(vi) / s.bc2Sqrt() + s.eps();
            p[i] = p[i] * decay - mi / denom * s.stepSize();
        }
        param.copyFrom(Tensor.of(p, param.shape()));
    }

    @Override public double sumOfSquares(Tensor t) {
        sumOfSquaresCalls++;
        own(t);
        double ss = 0;
        for (float x : t.toFloatArray()) ss += (double) x * x;
        return ss;
    }

    @Override public void scale(Tensor t, double factor) {
        scaleCalls++;
        own(t);
        t.copyFrom(Tensor.of(t.toFloatArray(), t.shape()).mul(factor));
    }

    private ArrayDeviceStorage own(Tensor t) {
        if (t.storage() instanceof ArrayDeviceStorage s && s.backend() == this) return s;
        throw new IllegalArgumentException("host-memory backend: expected a tensor in its memory, got " + t.describe());
    }
}
