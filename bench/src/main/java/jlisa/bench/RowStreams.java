package jlisa.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Locale;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Why decoding's matrix-vector product reads two rows half the range apart (jlisa.tensor.kernels.MatVec):
 * read bandwidth from memory, one thread, of several ways through one 256 MiB F32 matrix of k-wide rows, in calls of
 * 1536 rows (a decoding product's size), alternating, median of the rounds after three warm-up ones:
 * <ul>
 *   <li>{@code sum}: a plain vector sum of the bytes, the floor's own loop;</li>
 *   <li>{@code adjacent}: dot products with x, four adjacent rows at a time (what MatVec did first);</li>
 *   <li>{@code quarter}: the same with rows j, j + q, j + 2q, j + 3q (what it did, and does for BF16);</li>
 *   <li>{@code one}: one row at a time, one accumulator (the same operations per row as {@code quarter});</li>
 *   <li>{@code one4}: one row at a time, four accumulators;</li>
 *   <li>{@code blocked}, {@code blocked1}: {@code quarter} and {@code one} with the reduction split into blocks of
 *       {@code -Djlisa.bench.kblock} (default 2048) elements, so x's block stays in L1 (slower on Zen 4: the streams
 *       restart every block);</li>
 *   <li>{@code half}: two rows half the range apart (what MatVec does for F32 now).</li>
 * </ul>
 * Command line: {@code RowStreams K [ROUNDS]} prints one line per way. The {@code adjacent}, {@code quarter} and
 * {@code half} loops are copies of the kernel's inner loops, kept here so the comparison can be rerun after the
 * kernel has changed.
 */
public final class RowStreams {
    private RowStreams() {}

    /** The CPU's widest vectors, or 256-bit ones with {@code -Djlisa.bench.rows256=true} (what MatVec streams with). */
    private static final VectorSpecies<Float> F = Boolean.getBoolean("jlisa.bench.rows256")
            ? FloatVector.SPECIES_256 : FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** The block of k of the {@code blocked} ways ({@code -Djlisa.bench.kblock}, a multiple of L). */
    private static final int KB = Integer.getInteger("jlisa.bench.kblock", 2048);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    public static void main(String[] args) {
        if (args.length < 1) throw new IllegalArgumentException("usage: RowStreams K [ROUNDS]");
        int k = Integer.parseInt(args[0]), rounds = args.length > 1 ? Integer.parseInt(args[1]) : 11;
        if (k < 4 * L || k % (4 * L) != 0) {   // one4 reads four vectors at a time
            throw new IllegalArgumentException("RowStreams: K must be a multiple of " + 4 * L + ", got " + k);
        }
        if (KB < L || KB % L != 0) {   // a block must end on a vector, or its last load reads into the next block
            throw new IllegalArgumentException("RowStreams: jlisa.bench.kblock must be a positive multiple of " + L
                    + ", got " + KB);
        }
        if (rounds < 4) throw new IllegalArgumentException("RowStreams: ROUNDS must be ≥ 4 (three are warm-up), got " + rounds);
        int rows = 1536, calls = (int) ((256L << 20) / (4L * k * rows));
        long callBytes = 4L * k * rows, bytes = callBytes * calls;
        float[] x = new float[k], y = new float[rows], acc = new float[rows * L];
        Arrays.fill(x, 0.5f);
        String[] ways = {"sum", "adjacent", "quarter", "one", "one4", "blocked", "blocked1", "half"};
        double[][] gbs = new double[ways.length][rounds];
        double sink = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = arena.allocate(bytes, 64);
            for (long at = 0; at < bytes; at += 4) w.set(ValueLayout.JAVA_FLOAT_UNALIGNED, at, 1f);
            for (int r = 0; r < rounds; r++) {
                for (int v = 0; v < ways.length; v++) {
                    long t0 = System.nanoTime();
                    for (int c = 0; c < calls; c++) {
                        MemorySegment m = w.asSlice(c * callBytes, callBytes);
                        switch (v) {
                            case 0 -> sink += sum(m);
                            case 1 -> adjacent(m, 4L * k, x, k, rows, y);
                            case 2 -> quarter(m, 4L * k, x, k, rows, y);
                            case 3 -> one(m, 4L * k, x, k, rows, y);
                            case 5 -> blocked(m, 4L * k, x, k, rows, y, acc);
                            case 6 -> blocked1(m, 4L * k, x, k, rows, y, acc);
                            case 7 -> half(m, 4L * k, x, k, rows, y);
                            default -> one4(m, 4L * k, x, k, rows, y);
                        }
                    }
                    gbs[v][r] = bytes / ((System.nanoTime() - t0) / 1e9) / 1e9;
                    sink += y[0];
                }
            }
        }
        for (int v = 0; v < ways.length; v++) {
            double[] timed = Arrays.copyOfRange(gbs[v], 3, rounds);
            Arrays.sort(timed);
            System.out.printf(Locale.ROOT, "rows k=%d way=%s gb_s=%.2f (min %.2f, max %.2f)%n", k, ways[v],
                    timed[timed.length / 2], timed[0], timed[timed.length - 1]);
        }
        if (!(sink > 0)) throw new IllegalStateException("RowStreams: the sums came out wrong: " + sink);
    }

    private static float sum(MemorySegment w) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (long at = 0, end = w.byteSize(); at < end; at += 16L * L) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, w, at, LE));
            a1 = a1.add(FloatVector.fromMemorySegment(F, w, at + 4L * L, LE));
            a2 = a2.add(FloatVector.fromMemorySegment(F, w, at + 8L * L, LE));
            a3 = a3.add(FloatVector.fromMemorySegment(F, w, at + 12L * L, LE));
        }
        return a0.add(a1).add(a2).add(a3).lane(0);
    }

    private static void adjacent(MemorySegment w, long ld, float[] x, int k, int n, float[] y) {
        for (int j = 0; j + 4 <= n; j += 4) four(w, j * ld, ld, x, k, y, j, 1);
    }

    private static void quarter(MemorySegment w, long ld, float[] x, int k, int n, float[] y) {
        int q = n / 4;
        for (int j = 0; j < q; j++) four(w, j * ld, q * ld, x, k, y, j, q);
    }

    /**
     * {@link #quarter} with the reduction split into blocks of {@link #KB}: each block runs over all rows, each row's
     * vector accumulator kept in {@code acc} between blocks (the same operations in the same order as quarter).
     */
    private static void blocked(MemorySegment w, long ld, float[] x, int k, int n, float[] y, float[] acc) {
        int q = n / 4;
        Arrays.fill(acc, 0f);
        for (int p0 = 0; p0 < k; p0 += KB) {
            int p1 = Math.min(k, p0 + KB);
            for (int j = 0; j < q; j++) {
                long r0 = j * ld, r1 = r0 + q * ld, r2 = r1 + q * ld, r3 = r2 + q * ld;
                int c0 = j * L, c1 = (j + q) * L, c2 = (j + 2 * q) * L, c3 = (j + 3 * q) * L;
                FloatVector a0 = FloatVector.fromArray(F, acc, c0), a1 = FloatVector.fromArray(F, acc, c1);
                FloatVector a2 = FloatVector.fromArray(F, acc, c2), a3 = FloatVector.fromArray(F, acc, c3);
                for (int p = p0; p < p1; p += L) {
                    FloatVector xv = FloatVector.fromArray(F, x, p);
                    long o = 4L * p;
                    a0 = FloatVector.fromMemorySegment(F, w, r0 + o, LE).fma(xv, a0);
                    a1 = FloatVector.fromMemorySegment(F, w, r1 + o, LE).fma(xv, a1);
                    a2 = FloatVector.fromMemorySegment(F, w, r2 + o, LE).fma(xv, a2);
                    a3 = FloatVector.fromMemorySegment(F, w, r3 + o, LE).fma(xv, a3);
                }
                a0.intoArray(acc, c0);
                a1.intoArray(acc, c1);
                a2.intoArray(acc, c2);
                a3.intoArray(acc, c3);
            }
        }
        for (int j = 0; j < n; j++) y[j] = acc[j * L];
    }

    /** {@link #one} with the reduction split into blocks of {@link #KB}, each over all rows. */
    private static void blocked1(MemorySegment w, long ld, float[] x, int k, int n, float[] y, float[] acc) {
        Arrays.fill(acc, 0f);
        for (int p0 = 0; p0 < k; p0 += KB) {
            int p1 = Math.min(k, p0 + KB);
            for (int j = 0; j < n; j++) {
                long r0 = j * ld;
                FloatVector a0 = FloatVector.fromArray(F, acc, j * L);
                for (int p = p0; p < p1; p += L) {
                    a0 = FloatVector.fromMemorySegment(F, w, r0 + 4L * p, LE).fma(FloatVector.fromArray(F, x, p), a0);
                }
                a0.intoArray(acc, j * L);
            }
        }
        for (int j = 0; j < n; j++) y[j] = acc[j * L];
    }

    /** Two rows at a time, half the range apart: two streams, two accumulator chains. */
    private static void half(MemorySegment w, long ld, float[] x, int k, int n, float[] y) {
        int h = n / 2;
        for (int j = 0; j < h; j++) {
            long r0 = j * ld, r1 = r0 + h * ld;
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            for (int p = 0; p < k; p += L) {
                FloatVector xv = FloatVector.fromArray(F, x, p);
                a0 = FloatVector.fromMemorySegment(F, w, r0 + 4L * p, LE).fma(xv, a0);
                a1 = FloatVector.fromMemorySegment(F, w, r1 + 4L * p, LE).fma(xv, a1);
            }
            y[j] = a0.lane(0);
            y[j + h] = a1.lane(0);
        }
    }

    /** One row at a time, one accumulator: a single sequential stream, the same operations per row as {@link #four}. */
    private static void one(MemorySegment w, long ld, float[] x, int k, int n, float[] y) {
        for (int j = 0; j < n; j++) {
            long r0 = j * ld;
            FloatVector a0 = FloatVector.zero(F);
            for (int p = 0; p < k; p += L) {
                a0 = FloatVector.fromMemorySegment(F, w, r0 + 4L * p, LE).fma(FloatVector.fromArray(F, x, p), a0);
            }
            y[j] = a0.lane(0);
        }
    }

    /** One row at a time, four accumulators over consecutive vectors, summed at the row's end. */
    private static void one4(MemorySegment w, long ld, float[] x, int k, int n, float[] y) {
        for (int j = 0; j < n; j++) {
            long r0 = j * ld;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int p = 0; p < k; p += 4 * L) {
                long at = r0 + 4L * p;
                a0 = FloatVector.fromMemorySegment(F, w, at, LE).fma(FloatVector.fromArray(F, x, p), a0);
                a1 = FloatVector.fromMemorySegment(F, w, at + 4 * L, LE).fma(FloatVector.fromArray(F, x, p + L), a1);
                a2 = FloatVector.fromMemorySegment(F, w, at + 8 * L, LE).fma(FloatVector.fromArray(F, x, p + 2 * L), a2);
                a3 = FloatVector.fromMemorySegment(F, w, at + 12 * L, LE).fma(FloatVector.fromArray(F, x, p + 3 * L), a3);
            }
            y[j] = a0.add(a1).add(a2).add(a3).lane(0);
        }
    }

    /** Rows at r0, r0 + apart, r0 + 2·apart, r0 + 3·apart against x, into y[j], y[j + step], …: MatVec's loop. */
    private static void four(MemorySegment w, long r0, long apart, float[] x, int k, float[] y, int j, int step) {
        long r1 = r0 + apart, r2 = r1 + apart, r3 = r2 + apart;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int p = 0; p < k; p += L) {
            FloatVector xv = FloatVector.fromArray(F, x, p);
            long q = 4L * p;
            a0 = FloatVector.fromMemorySegment(F, w, r0 + q, LE).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(F, w, r1 + q, LE).fma(xv, a1);
            a2 = FloatVector.fromMemorySegment(F, w, r2 + q, LE).fma(xv, a2);
            a3 = FloatVector.fromMemorySegment(F, w, r3 + q, LE).fma(xv, a3);
        }
        y[j] = a0.lane(0);
        y[j + step] = a1.lane(0);
        y[j + 2 * step] = a2.lane(0);
        y[j + 3 * step] = a3.lane(0);
    }
}
