package jlisa.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

import jlisa.tensor.kernels.Gemm;

/**
 * GFLOP/s of {@link Gemm#sgemm} on the products a GPT-2 training step actually runs (the shapes of
 * {@code ./jlisa bench train}), one line per product: median of 5 timed rounds after warm-up.
 * Command line: {@code GemmShapes gpt2|d6|tiny|square [filter]}; the thread count is {@code -Djlisa.threads}. With one
 * thread the product runs on the calling thread and its CPU time is used instead of wall time, which keeps the
 * figure meaningful on a machine shared with other work (cache contention still shows).
 * A product is (m, n, k, layout): NN = A·B, NT = A·Bᵀ (B stored n × k), TN = Aᵀ·B (A stored k × m).
 */
public final class GemmShapes {
    private GemmShapes() {}

    record Shape(String name, int m, int n, int k, String layout) {}

    /** Forward and both backward products of each Linear and of the tied head, for tokens = B·T rows. */
    static Shape[] step(int tokens, int c, int vocab) {
        // The fused head (LinearCrossEntropy) runs its three products on chunks of rows, not on all tokens at once.
        int chunk = (int) Math.min(tokens, (1L << 24) / vocab);
        return new Shape[] {
            new Shape("qkv forward", tokens, 3 * c, c, "NN"),
            new Shape("qkv dx", tokens, c, 3 * c, "NT"),
            new Shape("qkv dW", c, 3 * c, tokens, "TN"),
            new Shape("attn proj forward", tokens, c, c, "NN"),
            new Shape("fc forward", tokens, 4 * c, c, "NN"),
            new Shape("fc dx", tokens, c, 4 * c, "NT"),
            new Shape("fc dW", c, 4 * c, tokens, "TN"),
            new Shape("mlp proj forward", tokens, c, 4 * c, "NN"),
            new Shape("mlp proj dx", tokens, 4 * c, c, "NT"),
            new Shape("mlp proj dW", 4 * c, c, tokens, "TN"),
            new Shape("head forward", tokens, vocab, c, "NT"),
            new Shape("head dx", tokens, c, vocab, "NN"),
            new Shape("head dW", vocab, c, tokens, "TN"),
            new Shape("head chunk forward", chunk, vocab, c, "NT"),
            new Shape("head chunk dx", chunk, c, vocab, "NN"),
            new Shape("head chunk dW", vocab, c, chunk, "TN"),
        };
    }

    /** Square products n × n × n, NN and NT, for the kernel's general speed beside the step's shapes. */
    static Shape[] square(int... sizes) {
        Shape[] shapes = new Shape[2 * sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            shapes[2 * i] = new Shape("square", sizes[i], sizes[i], sizes[i], "NN");
            shapes[2 * i + 1] = new Shape("square", sizes[i], sizes[i], sizes[i], "NT");
        }
        return shapes;
    }

    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "gpt2";
        String filter = args.length > 1 ? args[1] : "";
        Shape[] shapes = switch (model) {
            case "gpt2" -> step(256, 768, 50257);
            case "d6" -> step(1024, 384, 50257);
            case "tiny" -> step(2048, 128, 256);
            case "square" -> square(512, 1024, 1536, 2048);
            default -> throw new IllegalArgumentException("GemmShapes: expected gpt2, d6, tiny or square, got " + model);
        };
        for (Shape s : shapes) {
            if (!s.name.contains(filter)) continue;
            System.out.printf(Locale.ROOT, "%-18s %6d x %6d x %6d %s %7.1f GFLOP/s%n", s.name, s.m, s.n, s.k, s.layout,
                    gflops(s));
        }
    }

    static double gflops(Shape s) {
        SplittableRandom r = new SplittableRandom(1);
        float[] a = new float[s.m * s.k], b = new float[s.k * s.n], c = new float[s.m * s.n];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextDouble(-1, 1);
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextDouble(-1, 1);
        boolean ta = s.layout.charAt(0) == 'T', tb = s.layout.charAt(1) == 'T';
        int ars = ta ? 1 : s.k, acs = ta ? s.m : 1, brs = tb ? 1 : s.n, bcs = tb ? s.k : 1;
        Runnable run = () -> Gemm.sgemm(s.m, s.n, s.k, 1f, a, 0, ars, acs, b, 0, brs, bcs, 0f, c, 0, s.n);
        boolean cpuClock = jlisa.tensor.Parallel.threads() == 1;
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        java.util.function.LongSupplier clock = cpuClock ? mx::getCurrentThreadCpuTime : System::nanoTime;
        long warmEnd = System.nanoTime() + 1_000_000_000L;
        int calls = 0;
        while (System.nanoTime() < warmEnd || calls < 3) { run.run(); calls++; }
        long t0 = System.nanoTime();
        run.run();
        double once = (System.nanoTime() - t0) / 1e9;
        int inner = (int) Math.max(1, 0.25 / Math.max(once, 1e-6));
        double[] g = new double[5];
        for (int i = 0; i < g.length; i++) {
            long st = clock.getAsLong();
            for (int j = 0; j < inner; j++) run.run();
            g[i] = 2.0 * s.m * s.n * s.k / ((clock.getAsLong() - st) / 1e9 / inner) / 1e9;
        }
        Arrays.sort(g);
        return g[g.length / 2];
    }
}
