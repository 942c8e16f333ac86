package jlisa.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import jlisa.tensor.Parallel;
import jlisa.tensor.kernels.Gemm;

/**
 * jlisa's fp32 GEMM and an OpenBLAS library in one process, alternating every 0.3 s: on a shared machine whose speed
 * swings twofold from one second to the next (a neighbour on the same physical core), two processes run one after
 * the other see different machines, and these slices see nearly the same one. The library is called through the
 * FFM API ({@code cblas_sgemm}, row-major, on native copies of the same inputs); nothing of it is a dependency.
 *
 * <p>Command line: {@code GemmBesideBlas LIBRARY SIZE LAYOUTS THREADS ROUNDS}, SIZE n (square) or m×n×k as
 * {@code MxNxK}, e.g. with numpy's
 * {@code libscipy_openblas64_*.so} (its ILP64 names {@code scipy_cblas_sgemm64_} and
 * {@code scipy_openblas_set_num_threads64_} are found, or plain {@code cblas_sgemm} and
 * {@code openblas_set_num_threads} with 32-bit integers). Prints every slice, then per layout the median GFLOP/s of
 * each side, the median of the per-round ratios, and the rounds.
 */
public final class GemmBesideBlas {
    private GemmBesideBlas() {}

    private static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
    private static final long SLICE_NS = 300_000_000L;

    /** cblas_sgemm and set_num_threads of one library, ILP64 or LP64. */
    private record Blas(MethodHandle sgemm, MethodHandle threads, boolean ilp64) {
        static Blas load(Path lib, Arena arena) {
            SymbolLookup l = SymbolLookup.libraryLookup(lib, arena);
            Linker linker = Linker.nativeLinker();
            boolean ilp64 = l.find("scipy_cblas_sgemm64_").isPresent();
            ValueLayout I = ilp64 ? ValueLayout.JAVA_LONG : ValueLayout.JAVA_INT;
            ValueLayout E = ValueLayout.JAVA_INT, F = ValueLayout.JAVA_FLOAT, P = ValueLayout.ADDRESS;
            MemorySegment gemm = l.find(ilp64 ? "scipy_cblas_sgemm64_" : "cblas_sgemm").orElseThrow(() ->
                    new IllegalArgumentException(lib + " has neither scipy_cblas_sgemm64_ nor cblas_sgemm"));
            MemorySegment thr = l.find(ilp64 ? "scipy_openblas_set_num_threads64_" : "openblas_set_num_threads")
                    .orElseThrow(() -> new IllegalArgumentException(lib + " has no openblas set_num_threads"));
            var gemmType = FunctionDescriptor.ofVoid(E, E, E, I, I, I, F, P, I, P, I, F, P, I);
            return new Blas(linker.downcallHandle(gemm, gemmType),
                    linker.downcallHandle(thr, FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT)), ilp64);
        }

        void setThreads(int t) throws Throwable {
            threads.invokeExact(t);
        }

        /** C (m × n) = op(A)·op(B), row-major, A stored m × k (k × m when ta), B k × n (n × k when tb). */
        void gemm(boolean ta, boolean tb, int m, int n, int k, MemorySegment a, MemorySegment b, MemorySegment c)
                throws Throwable {
            int oa = ta ? TRANS : NO_TRANS, ob = tb ? TRANS : NO_TRANS, lda = ta ? m : k, ldb = tb ? k : n;
            if (ilp64)
                sgemm.invokeExact(ROW_MAJOR, oa, ob, (long) m, (long) n, (long) k, 1f, a, (long) lda, b, (long) ldb, 0f,
                        c, (long) n);
            else sgemm.invokeExact(ROW_MAJOR, oa, ob, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);
        }
    }

    public static void main(String[] args) throws Throwable {
        if (args.length != 5) {
            System.err.println("usage: GemmBesideBlas LIBRARY N|MxNxK LAYOUTS(NN,NT,TN,TT) THREADS ROUNDS");
            System.exit(2);
        }
        String[] dims = args[1].toLowerCase(Locale.ROOT).split("x");
        if (dims.length != 1 && dims.length != 3)
            throw new IllegalArgumentException("expected a size n or MxNxK, got " + args[1]);
        int m = Integer.parseInt(dims[0]), n = dims.length == 3 ? Integer.parseInt(dims[1]) : m;
        int k = dims.length == 3 ? Integer.parseInt(dims[2]) : m;
        String size = dims.length == 3 ? m + "x" + n + "x" + k : Integer.toString(n);
        int threads = Integer.parseInt(args[3]), rounds = Integer.parseInt(args[4]);
        String[] layouts = args[2].toUpperCase(Locale.ROOT).split(",");
        for (String l : layouts)
            if (!l.matches("[NT][NT]"))
                throw new IllegalArgumentException("expected layouts NN, NT, TN or TT, got " + l);
        try (Arena arena = Arena.ofConfined()) {
            Blas blas = Blas.load(Path.of(args[0]), arena);
            blas.setThreads(threads);
            float[] a = random(m * k, 1), b = random(k * n, 2), c = new float[m * n];
            MemorySegment na = arena.allocate(4L * a.length, 64), nb = arena.allocate(4L * b.length, 64);
            MemorySegment nc = arena.allocate(4L * c.length, 64);
            MemorySegment.copy(a, 0, na, ValueLayout.JAVA_FLOAT, 0, a.length);
            MemorySegment.copy(b, 0, nb, ValueLayout.JAVA_FLOAT, 0, b.length);
            Map<String, List<double[]>> results = new LinkedHashMap<>();
            for (int round = -1; round < rounds; round++) {          // round -1 warms both up, uncounted
                for (String layout : layouts) {
                    boolean ta = layout.charAt(0) == 'T', tb = layout.charAt(1) == 'T';
                    double[] jl = new double[1];
                    // the warm-up round gives C2 1.5 s (and its recompiles) before anything is counted
                    long nanos = round < 0 ? 5 * SLICE_NS : SLICE_NS;
                    Parallel.withThreads(threads, () -> jl[0] = slice(() -> Gemm.sgemm(m, n, k, 1f,
                            a, 0, ta ? 1 : k, ta ? m : 1, b, 0, tb ? 1 : n, tb ? k : 1, 0f, c, 0, n), m, n, k, nanos));
                    Thread.sleep(100);                              // let the other side's threads go idle
                    double ob = slice(() -> {
                        try {
                            blas.gemm(ta, tb, m, n, k, na, nb, nc);
                        } catch (Throwable e) {
                            throw new IllegalStateException(e);
                        }
                    }, m, n, k, nanos);
                    Thread.sleep(100);
                    if (round < 0) continue;
                    results.computeIfAbsent(layout, key -> new ArrayList<>()).add(new double[] {jl[0], ob});
                    System.out.printf(Locale.ROOT,
                            "slice n=%s layout=%s threads=%d round=%d jlisa=%.1f openblas=%.1f%n",
                            size, layout, threads, round + 1, jl[0], ob);
                }
            }
            for (var e : results.entrySet()) {
                List<double[]> r = e.getValue();
                double[] jl = r.stream().mapToDouble(x -> x[0]).sorted().toArray();
                double[] ob = r.stream().mapToDouble(x -> x[1]).sorted().toArray();
                double[] ratio = r.stream().mapToDouble(x -> x[0] / x[1]).sorted().toArray();
                System.out.printf(Locale.ROOT, "summary n=%s layout=%s threads=%d rounds=%d jlisa=%.1f openblas=%.1f "
                                + "ratio=%.2f ratio_min=%.2f ratio_max=%.2f%n", size, e.getKey(), threads, r.size(),
                        median(jl), median(ob), median(ratio), ratio[0], ratio[ratio.length - 1]);
            }
        }
    }

    /** GFLOP/s of an m × n × k {@code product} repeated for about {@code nanos}. */
    private static double slice(Runnable product, int m, int n, int k, long nanos) {
        long t0 = System.nanoTime(), t;
        int reps = 0;
        do {
            product.run();
            reps++;
        } while ((t = System.nanoTime()) - t0 < nanos);
        return 2.0 * m * n * k * reps / (t - t0);
    }

    private static double median(double[] sorted) {
        int h = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
    }

    private static float[] random(int size, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[size];
        for (int i = 0; i < size; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }
}
