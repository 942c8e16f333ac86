package jlisa.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

import jlisa.tensor.Parallel;
import jlisa.tensor.kernels.Gemm;

/**
 * One fp32 GEMM throughput figure, measured the way {@code /work/shared/baselines/gemm_once.py} measures OpenBLAS,
 * so the two can be run alternately and compared: square n × n · n × n, inner repetitions calibrated to about
 * 0.3 s, 2 warm-up rounds, median GFLOP/s of 5 rounds (after a JIT warm-up the Python side does not need).
 *
 * <p>Layouts: NN = A·B, NT = A·Bᵀ (B stored n × k), TN = Aᵀ·B (A stored k × m), TT = Aᵀ·Bᵀ — all through
 * strides. Command line: {@code GemmTiming N [NN|NT|TN|TT][,…] [threads]} prints, per layout,
 * {@code gemm n=N layout=L threads=T gflops=X}.
 */
public final class GemmTiming {
    private GemmTiming() {}

    /** Median GFLOP/s of {@code C = op(A)·op(B)} at size n with the given layout and thread count. */
    public static double gflops(int n, String layout, int threads) {
        if (n < 1) throw new IllegalArgumentException("gemm timing: expected n ≥ 1, got " + n);
        Problem pr = new Problem(n, layout);
        double[] result = new double[1];
        Parallel.withThreads(threads, () -> result[0] = measure(pr));
        return result[0];
    }

    private static double measure(Problem pr) {
        // Let C2 compile (and, after its first uncommon trap, recompile) the kernel before calibrating.
        long warmEnd = System.nanoTime() + 1_500_000_000L;
        int calls = 0;
        while (System.nanoTime() < warmEnd || calls < 3) {
            pr.run();
            calls++;
        }
        long t0 = System.nanoTime();
        pr.run();
        double once = (System.nanoTime() - t0) / 1e9;
        int inner = (int) Math.max(1, 0.3 / Math.max(once, 1e-6));
        for (int w = 0; w < 2; w++) for (int i = 0; i < inner; i++) pr.run();
        double[] g = new double[5];
        for (int r = 0; r < g.length; r++) {
            long s = System.nanoTime();
            for (int i = 0; i < inner; i++) pr.run();
            double secs = (System.nanoTime() - s) / 1e9 / inner;
            g[r] = 2.0 * pr.n * pr.n * pr.n / secs / 1e9;
        }
        Arrays.sort(g);
        return g[g.length / 2];
    }

    /** Square problem of size n in one layout; random normal-ish inputs, like the numpy reference. */
    static final class Problem {
        final int n;
        final float[] a, b, c;
        final int ars, acs, brs, bcs;

        Problem(int n, String layout) {
            this.n = n;
            String l = layout.toUpperCase(Locale.ROOT);
            if (!l.matches("[NT][NT]"))
                throw new IllegalArgumentException("gemm timing: expected layout NN, NT, TN or TT, got '" + layout + "'");
            boolean ta = l.charAt(0) == 'T', tb = l.charAt(1) == 'T';
            a = random(n * n, 1);
            b = random(n * n, 2);
            c = new float[n * n];
            ars = ta ? 1 : n;
            acs = ta ? n : 1;
            brs = tb ? 1 : n;
            bcs = tb ? n : 1;
        }

        void run() {
            Gemm.sgemm(n, n, n, 1f, a, 0, ars, acs, b, 0, brs, bcs, 0f, c, 0, n);
        }

        private static float[] random(int size, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            float[] x = new float[size];
            for (int i = 0; i < size; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
            return x;
        }
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: GemmTiming N [NN|NT|TN|TT][,...] [threads]   or   GemmTiming --plan");
            System.exit(2);
        }
        if (args[0].equals("--plan")) {                      // the micro-kernel and blocking chosen for this CPU
            System.out.println(jlisa.tensor.GemmPlan.CHOSEN.describe());
            return;
        }
        int n = Integer.parseInt(args[0]);
        String layouts = args.length > 1 ? args[1].toUpperCase(Locale.ROOT) : "NN";
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : Parallel.defaultThreads();
        for (String layout : layouts.split(",")) {
            double g = gflops(n, layout, threads);
            System.out.printf(Locale.ROOT, "gemm n=%d layout=%s threads=%d gflops=%.1f%n", n, layout, threads, g);
        }
    }
}
