package jlisa.gpu;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

import jlisa.tensor.Backend;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;

/**
 * The GPU figures {@code jlisa bench} reports, measured as {@code gpu/torch_ref.py} measures PyTorch on the
 * same machine: operands resident in device memory, warm-up first, the median of five timed rounds of about
 * a quarter second each, the device synchronised before and after every round.
 *
 * <p>Stateless, but not for use from several threads at once: a benchmark wants the device to itself.
 */
public final class GpuBenchmarks {
    private GpuBenchmarks() {}

    /**
     * Median seconds per call of {@code op}: {@code sync} (waiting for the device; a no-op on the CPU) brackets
     * each round, so asynchronous work is counted in full.
     */
    public static double medianSeconds(Runnable op, Runnable sync) {
        for (int i = 0; i < 3; i++) op.run();
        sync.run();
        long t0 = System.nanoTime();
        op.run();
        sync.run();
        double once = Math.max((System.nanoTime() - t0) / 1e9, 1e-7);
        int reps = (int) Math.max(1, Math.min(100_000, 0.25 / once));
        double[] rounds = new double[5];
        for (int r = 0; r < rounds.length; r++) {
            sync.run();
            long s = System.nanoTime();
            for (int i = 0; i < reps; i++) op.run();
            sync.run();
            rounds[r] = (System.nanoTime() - s) / 1e9 / reps;
        }
        Arrays.sort(rounds);
        return rounds[rounds.length / 2];
    }

    /** TFLOP/s of {@code C = op(A)·op(B)}, n × n, operands in device memory; layout NN, NT, TN or TT. */
    public static double gemmTflops(CudaBackend backend, int n, String layout) {
        String l = layout.toUpperCase(Locale.ROOT);
        if (!l.matches("[NT][NT]")) throw new IllegalArgumentException("gemm: layout must be NN, NT, TN or TT, got '" + layout + "'");
        if (n < 1) throw new IllegalArgumentException("gemm: n must be >= 1, got " + n);
        Tensor a = random(backend, 1, n, n), b = random(backend, 2, n, n), c = backend.zeros(MemoryKind.OTHER, n, n);
        Tensor opA = l.charAt(0) == 'T' ? a.t() : a, opB = l.charAt(1) == 'T' ? b.t() : b;
        try {
            double seconds = medianSeconds(() -> backend.gemm(1, opA, opB, 0, c), backend.device()::synchronize);
            return 2.0 * n * n * n / seconds / 1e12;
        } finally {
            for (Tensor t : new Tensor[] {a, b, c}) t.storage().release();
        }
    }

    /**
     * TB/s of the fused AdamW update over {@code n} parameters in device memory, counting the seven float
     * streams it must move (read p, g, m, v; write p, m, v) as DEVICE.md does.
     */
    public static double adamwTerabytesPerSecond(CudaBackend backend, long n) {
        int size = Math.toIntExact(n);
        Tensor p = random(backend, 3, size), g = random(backend, 4, size);
        Tensor m = backend.zeros(MemoryKind.OPTIMIZER_STATE, size), v = backend.zeros(MemoryKind.OPTIMIZER_STATE, size);
        Backend.AdamWStep step = new Backend.AdamWStep(1e-4f, 0.9f, 0.999f, 1e-8f, 0.01f, 1e-3f, 0.03f);
        try {
            double seconds = medianSeconds(() -> backend.adamw(p, g, m, v, step), backend.device()::synchronize);
            return adamwBytes(n) / seconds / 1e12;
        } finally {
            for (Tensor t : new Tensor[] {p, g, m, v}) t.storage().release();
        }
    }

    /** Bytes one AdamW update over {@code n} float parameters moves: seven streams of four bytes. */
    public static double adamwBytes(long n) { return 7.0 * 4 * n; }

    /** A device tensor of uniform values in [-1, 1): a random block repeated, uploaded in pieces. */
    private static Tensor random(CudaBackend backend, long seed, int... shape) {
        Tensor t = backend.zeros(MemoryKind.OTHER, shape);
        int n = t.numel();
        float[] block = new float[Math.min(n, 1 << 20)];
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = 0; i < block.length; i++) block[i] = (float) (rng.nextDouble() * 2 - 1);
        CudaStorage s = (CudaStorage) t.storage();
        for (int at = 0; at < n; at += block.length) s.writeFloats(at, block, 0, Math.min(block.length, n - at));
        return t;
    }
}
