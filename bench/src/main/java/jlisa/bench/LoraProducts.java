package jlisa.bench;

import java.util.Locale;

import jlisa.tensor.kernels.Gemm;

/**
 * The GEMM calls of one projection in a LoRA step beside full fine-tuning's weight gradient, each timed alone in a
 * loop (µs per call): base forward x·Wᵀ, dx = g·W, dW = gᵀ·x, and the adapter's h = x·Aᵀ, y += s·h·Bᵀ, gh = s·g·B,
 * dx += gh·A, dA = ghᵀ·x, dB = s·gᵀ·h. Shows which products a rank-r adapter pays for (issue 13).
 *
 * <p>{@code java --add-modules jdk.incubator.vector -Djlisa.threads=1 -cp bench/target/benchmarks.jar
 * jlisa.bench.LoraProducts [rows=80] [in=128] [r=8] [out=128,344]}
 */
public final class LoraProducts {
    private LoraProducts() {}

    private static float[] random(int n, long seed) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() - 0.5);
        return a;
    }

    private static double micros(Runnable call) {
        for (int i = 0; i < 2000; i++) call.run();
        int calls = 20_000;
        long t0 = System.nanoTime();
        for (int i = 0; i < calls; i++) call.run();
        return (System.nanoTime() - t0) / 1e3 / calls;
    }

    public static void main(String[] args) {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 80, in = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int r = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        String[] outs = (args.length > 3 ? args[3] : "128,344").split(",");
        for (String o : outs) {
            int out = Integer.parseInt(o);
            float[] x = random(rows * in, 1), w = random(out * in, 2), a = random(r * in, 3), b = random(out * r, 4);
            float[] g = random(rows * out, 5), h = random(rows * r, 6), gh = random(rows * r, 7);
            float[] y = new float[rows * out], dx = new float[rows * in], dw = new float[out * in];
            float[] da = new float[r * in], db = new float[out * r], hOut = new float[rows * r];
            double fwd = micros(() -> Gemm.sgemm(rows, out, in, 1f, x, 0, in, 1, w, 0, 1, in, 0f, y, 0, out));
            double bdx = micros(() -> Gemm.sgemm(rows, in, out, 1f, g, 0, out, 1, w, 0, in, 1, 0f, dx, 0, in));
            double bdw = micros(() -> Gemm.sgemm(out, in, rows, 1f, g, 0, 1, out, x, 0, in, 1, 0f, dw, 0, in));
            double lh = micros(() -> Gemm.sgemm(rows, r, in, 1f, x, 0, in, 1, a, 0, 1, in, 0f, hOut, 0, r));
            double ly = micros(() -> Gemm.sgemm(rows, out, r, 2f, h, 0, r, 1, b, 0, 1, r, 1f, y, 0, out));
            double lgh = micros(() -> Gemm.sgemm(rows, r, out, 2f, g, 0, out, 1, b, 0, r, 1, 0f, hOut, 0, r));
            double ldx = micros(() -> Gemm.sgemm(rows, in, r, 1f, gh, 0, r, 1, a, 0, in, 1, 1f, dx, 0, in));
            double lda = micros(() -> Gemm.sgemm(r, in, rows, 1f, gh, 0, 1, r, x, 0, in, 1, 0f, da, 0, in));
            double ldb = micros(() -> Gemm.sgemm(out, r, rows, 2f, g, 0, 1, out, h, 0, r, 1, 0f, db, 0, r));
            System.out.printf(Locale.ROOT, "rows=%d in=%d out=%d r=%d  base: fwd %.2f dx %.2f dW %.2f us | adapter: h %.2f "
                    + "y+= %.2f gh %.2f dx+= %.2f dA %.2f dB %.2f, sum %.2f us (vs dW %.2f)%n", rows, in, out, r, fwd, bdx, bdw,
                    lh, ly, lgh, ldx, lda, ldb, lh + ly + lgh + ldx + lda + ldb, bdw);
        }
    }
}
