package jlisa.bench;

import java.util.concurrent.TimeUnit;

import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Attention;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Causal attention F32 kernels on GPT-2-small-like shapes (B=4, H=12, D=64), raw buffers, all threads.
 *
 * <p>GFLOP/s = flops / time, with forward ≈ 2·B·H·T²·D (QKᵀ and P·V over the causal half) and backward ≈ 2.5× that
 * (five tile matmuls, the recomputed QKᵀ included). {@link #main} prints the figures after a JMH-free timing loop;
 * JMH reports ms/op, and the flops are printed once per trial by {@link #report()}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class AttentionBench {
    @Param({"256", "1024"})
    public int T;

    public int B = 4, H = 12, Hkv = 12, D = 64;

    float[] q, k, v, out, lse, dout, dq, dk, dv;
    float scale;

    @Setup
    public void setup() {
        Rng rng = new Rng(42);
        q = Tensor.randn(rng, 0, 1, DType.F32, B, H, T, D).toFloatArray();
        k = Tensor.randn(rng, 0, 1, DType.F32, B, Hkv, T, D).toFloatArray();
        v = Tensor.randn(rng, 0, 1, DType.F32, B, Hkv, T, D).toFloatArray();
        dout = Tensor.randn(rng, 0, 1, DType.F32, B, H, T, D).toFloatArray();
        out = new float[q.length];
        lse = new float[B * H * T];
        dq = new float[q.length];
        dk = new float[k.length];
        dv = new float[v.length];
        scale = (float) Attention.defaultScale(D);
        Attention.forward(out, lse, q, k, v, B, H, Hkv, T, D, scale);
    }

    /** Forward flops: QKᵀ and P·V over the causal half, 2·(2·T²/2·D) per (b, h). */
    public static double forwardFlops(int B, int H, int T, int D) { return 2.0 * B * H * T * (double) T * D; }

    @TearDown
    public void report() {
        System.out.printf("%n[attention] T=%d: forward %.2f GFLOP, backward %.2f GFLOP per op (GFLOP/s = GFLOP / (ms/op) × 1000)%n",
                T, forwardFlops(B, H, T, D) / 1e9, 2.5 * forwardFlops(B, H, T, D) / 1e9);
    }

    @Benchmark
    public float[] forward() {
        Attention.forward(out, lse, q, k, v, B, H, Hkv, T, D, scale);
        return out;
    }

    @Benchmark
    public float[] backward() {
        Attention.backward(dq, dk, dv, dout, q, k, v, out, lse, B, H, Hkv, T, D, scale);
        return dq;
    }

    /**
     * Quick timing without JMH: {@code java --add-modules jdk.incubator.vector -cp benchmarks.jar
     * jlisa.bench.AttentionBench [T ...]}; {@code -Dattn.B=16 -Dattn.H=4 -Dattn.D=32} set the other sizes (the tiny
     * GPT-2 preset's), -Dattn.reps the number of timed runs.
     */
    public static void main(String[] args) {
        int[] lengths = args.length == 0 ? new int[] {256, 1024} : java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        for (int t : lengths) {
            AttentionBench b = new AttentionBench();
            b.T = t;
            b.B = Integer.getInteger("attn.B", b.B);
            b.H = b.Hkv = Integer.getInteger("attn.H", b.H);
            b.D = Integer.getInteger("attn.D", b.D);
            b.setup();
            double fwd = time(b::forward), bwd = time(b::backward);
            double f = forwardFlops(b.B, b.H, t, b.D);
            System.out.printf("B=%d H=%d D=%d T=%5d  forward %8.2f ms  %6.1f GFLOP/s   backward %8.2f ms  %6.1f GFLOP/s%n",
                    b.B, b.H, b.D, t, fwd * 1e3, f / fwd / 1e9, bwd * 1e3, 2.5 * f / bwd / 1e9);
        }
    }

    private static double time(Runnable r) {
        int reps = Integer.getInteger("attn.reps", 5);
        // warm up by the clock: C2 compiles the tile routines one by one, slowly on a busy machine
        long warmEnd = System.nanoTime() + Long.getLong("attn.warmupMs", 3000) * 1_000_000;
        for (int i = 0; i < reps || System.nanoTime() < warmEnd; i++) r.run();
        double best = Double.MAX_VALUE;
        // -Dattn.cpu=true: this thread's CPU time, steadier on a shared machine (with -Djlisa.threads=1 only)
        boolean cpu = Boolean.getBoolean("attn.cpu");
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        for (int rep = 0; rep < reps; rep++) {
            long t0 = cpu ? mx.getCurrentThreadCpuTime() : System.nanoTime();
            r.run();
            best = Math.min(best, ((cpu ? mx.getCurrentThreadCpuTime() : System.nanoTime()) - t0) * 1e-9);
        }
        return best;
    }
}
