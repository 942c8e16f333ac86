package jlisa.tensor.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

import jlisa.tensor.GemmPlan;
import jlisa.tensor.Parallel;
import org.junit.jupiter.api.Test;

class GemmTest {

    private static final int[] ODD_SIZES = {1, 2, 3, 15, 17, 31, 33, 63, 65, 129, 257, 300};

    /** op(X) of r × c stored with a layout: transposed or not, at an offset, with a leading dim wider than needed. */
    private record Operand(float[] data, int off, int rs, int cs, int rows, int cols) {
        static Operand random(SplittableRandom rnd, int rows, int cols, boolean transposed, int pad, int off) {
            int ld = (transposed ? rows : cols) + pad;
            int stored = transposed ? cols : rows;
            float[] d = new float[off + Math.max(0, stored * ld) + 3];
            for (int i = 0; i < d.length; i++) d[i] = (float) (rnd.nextDouble() * 2 - 1);
            return transposed ? new Operand(d, off, 1, ld, rows, cols) : new Operand(d, off, ld, 1, rows, cols);
        }

        double at(int i, int j) {
            return data[off + i * rs + j * cs];
        }
    }

    private static final class Case {
        final int m, n, k, cOff, ldc;
        final Operand a, b;
        final float[] c0;
        final float alpha, beta;

        Case(long seed, int m, int n, int k, boolean ta, boolean tb, float alpha, float beta, int pad) {
            SplittableRandom rnd = new SplittableRandom(seed);
            this.m = m;
            this.n = n;
            this.k = k;
            this.alpha = alpha;
            this.beta = beta;
            a = Operand.random(rnd, m, k, ta, pad, pad * 3 % 7);
            b = Operand.random(rnd, k, n, tb, pad, pad * 5 % 11);
            cOff = pad % 5;
            ldc = n + pad;
            c0 = new float[cOff + m * ldc + 2];
            for (int i = 0; i < c0.length; i++) c0[i] = (float) (rnd.nextDouble() * 2 - 1);
        }

        float[] runFloat() {
            float[] c = c0.clone();
            Gemm.sgemm(m, n, k, alpha, a.data, a.off, a.rs, a.cs, b.data, b.off, b.rs, b.cs, beta, c, cOff, ldc);
            return c;
        }

        /** Checks c against a float64 reference; elements outside the m × n window must be untouched. */
        void check(float[] c, String label) {
            for (int idx = 0; idx < c.length; idx++) {
                int rel = idx - cOff;
                boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
                if (!inside && Float.floatToRawIntBits(c[idx]) != Float.floatToRawIntBits(c0[idx]))
                    fail("%s: element %d outside C's window changed", label, idx);
            }
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0, abs = 0;
                    for (int p = 0; p < k; p++) {
                        double prod = a.at(i, p) * b.at(p, j);
                        sum += prod;
                        abs += Math.abs(prod);
                    }
                    double old = c0[cOff + i * ldc + j];
                    double ref = alpha * sum + (beta == 0 ? 0 : beta * old);
                    double scale = Math.abs(alpha) * abs + Math.abs(beta * old);
                    double tol = 4e-7 * (Math.sqrt(k) + 4) * scale + 1e-30;
                    double got = c[cOff + i * ldc + j];
                    if (!(Math.abs(got - ref) <= tol))
                        fail("%s: C[%d,%d] = %s, expected %s (tolerance %s)", label, i, j, got, ref, tol);
                }
            }
        }
    }

    private static String label(int m, int n, int k, boolean ta, boolean tb) {
        return "(" + m + " × " + k + ")" + (ta ? "ᵀ" : "") + " · (" + k + " × " + n + ")" + (tb ? "ᵀ" : "");
    }

    @Test
    void matchesFloat64ReferenceOnOddShapesInAllFourLayouts() {
        SplittableRandom pick = new SplittableRandom(42);
        for (int t = 0; t < 60; t++) {
            int m = ODD_SIZES[pick.nextInt(ODD_SIZES.length)];
            int n = ODD_SIZES[pick.nextInt(ODD_SIZES.length)];
            int k = ODD_SIZES[pick.nextInt(ODD_SIZES.length)];
            boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
            Case cs = new Case(t, m, n, k, ta, tb, 1f, 0f, t % 4);
            cs.check(cs.runFloat(), label(m, n, k, ta, tb));
        }
    }

    @Test
    void everySizeFrom1To40InEachDimension() {
        for (int s = 1; s <= 40; s++) {
            for (int layout = 0; layout < 4; layout++) {
                boolean ta = (layout & 1) != 0, tb = (layout & 2) != 0;
                Case cs = new Case(s * 4L + layout, s, 41 - s, (s * 7) % 40 + 1, ta, tb, 1f, 0f, layout);
                cs.check(cs.runFloat(), label(s, 41 - s, (s * 7) % 40 + 1, ta, tb));
            }
        }
    }

    @Test
    void blocksLargerThanOneCacheBlockInEveryDimension() {
        // k over KC (beta accumulation across depth blocks), m over MC, n over NC (several column panels).
        int[][] shapes = {{Gemm.MC + 5, 70, Gemm.KC * 2 + 3}, {3, Gemm.NC + 37, 20}, {Gemm.MC * 2 + 1, 2 * Gemm.NR + 1, 33}};
        for (int[] s : shapes) {
            for (int layout = 0; layout < 4; layout += 3) {
                boolean ta = (layout & 1) != 0, tb = (layout & 2) != 0;
                Case cs = new Case(s[0] + layout, s[0], s[1], s[2], ta, tb, 0.5f, 1f, 1);
                cs.check(cs.runFloat(), label(s[0], s[1], s[2], ta, tb));
            }
        }
    }

    @Test
    void alphaAndBetaAccumulate() {
        float[][] ab = {{1f, 1f}, {-2f, 0.5f}, {0.25f, -1f}, {3f, 0f}};
        for (float[] x : ab) {
            for (int layout = 0; layout < 4; layout++) {
                boolean ta = (layout & 1) != 0, tb = (layout & 2) != 0;
                Case cs = new Case(layout, 65, 33, 129, ta, tb, x[0], x[1], 2);
                cs.check(cs.runFloat(), "alpha=" + x[0] + " beta=" + x[1] + " " + label(65, 33, 129, ta, tb));
            }
        }
    }

    @Test
    void narrowOutputsMatchTheReferenceInEveryLayoutAndAnyThreadCount() {
        // LoRA's shapes — x · Aᵀ (rows × r), g · B, gᵀ · h: few columns, many rows — and every width up to one vector,
        // row counts that are not multiples of the narrow tile's, a depth over KC; with alpha and beta, in all layouts.
        int l = GemmKernel.L;
        int[][] shapes = {{80, 8, 128}, {1024, 8, 344}, {344, 8, 80}, {97, 3, 41}, {200, l, 5}, {70, 2, Gemm.KC + 9},
                {1, 1, 7}, {7, l - 1, 33}, {9, 5, 1}, {4096, l, 1024}};   // the last is big enough to split over threads
        float[][] ab = {{1f, 0f}, {1.5f, 1f}, {-0.5f, 0.25f}};
        for (int[] s : shapes) {
            for (int layout = 0; layout < 4; layout++) {
                boolean ta = (layout & 1) != 0, tb = (layout & 2) != 0;
                float[] x = ab[layout % ab.length];
                Case cs = new Case(s[0] + layout, s[0], s[1], s[2], ta, tb, x[0], x[1], layout);
                float[] c = cs.runFloat();
                cs.check(c, "alpha=" + x[0] + " beta=" + x[1] + " " + label(s[0], s[1], s[2], ta, tb));
                for (int threads : new int[] {1, 3}) {
                    float[][] again = new float[1][];
                    Parallel.withThreads(threads, () -> again[0] = cs.runFloat());
                    for (int i = 0; i < c.length; i++) {
                        if (Float.floatToRawIntBits(again[0][i]) != Float.floatToRawIntBits(c[i])) {
                            fail("%s on %d threads: element %d differs", label(s[0], s[1], s[2], ta, tb), threads, i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void betaZeroIgnoresNaNGarbageInC() {
        Case cs = new Case(7, 33, 47, 17, false, true, 1f, 0f, 1);
        float[] c = cs.c0.clone();
        for (int i = 0; i < cs.m; i++) Arrays.fill(c, cs.cOff + i * cs.ldc, cs.cOff + i * cs.ldc + cs.n, Float.NaN);
        Gemm.sgemm(cs.m, cs.n, cs.k, 1f, cs.a.data, cs.a.off, cs.a.rs, cs.a.cs, cs.b.data, cs.b.off, cs.b.rs, cs.b.cs,
                0f, c, cs.cOff, cs.ldc);
        cs.check(c, "beta=0 over NaN");
    }

    @Test
    void betaOneAddsToTheExistingC() {
        // The backward pass accumulates: C += Aᵀ·B.
        Case cs = new Case(8, 100, 70, 300, true, false, 1f, 1f, 0);
        cs.check(cs.runFloat(), "C += Aᵀ·B");
    }

    @Test
    void zeroSizesAreLegal() {
        float[] c = {1, 2, 3, 4, 5, 6};
        float[] a = {1, 2, 3}, b = {4, 5};
        Gemm.sgemm(0, 3, 2, 1f, a, 0, 2, 1, b, 0, 3, 1, 0f, c, 0, 3);
        Gemm.sgemm(2, 0, 2, 1f, a, 0, 2, 1, b, 0, 0, 1, 0f, c, 0, 3);
        assertThat(c).containsExactly(1, 2, 3, 4, 5, 6);
        Gemm.sgemm(2, 3, 0, 1f, (float[]) null, 0, 0, 1, null, 0, 3, 1, 2f, c, 0, 3);   // k = 0: C = beta·C
        assertThat(c).containsExactly(2, 4, 6, 8, 10, 12);
        c[0] = Float.NaN;
        Gemm.sgemm(2, 3, 0, 1f, (float[]) null, 0, 0, 1, null, 0, 3, 1, 0f, c, 0, 3);   // beta = 0: zeros, NaN ignored
        assertThat(c).containsExactly(0, 0, 0, 0, 0, 0);
    }

    @Test
    void onesInEachDimension() {
        int[][] shapes = {{1, 1, 1}, {1, 300, 65}, {300, 1, 65}, {65, 300, 1}, {1, 1, 700}};
        for (int[] s : shapes) {
            for (int layout = 0; layout < 4; layout++) {
                boolean ta = (layout & 1) != 0, tb = (layout & 2) != 0;
                Case cs = new Case(layout, s[0], s[1], s[2], ta, tb, 1.5f, 0.5f, 1);
                cs.check(cs.runFloat(), label(s[0], s[1], s[2], ta, tb));
            }
        }
    }

    @Test
    void memorySegmentSourcesGiveTheSameBitsAsArrays() {
        // n below one tile's width, and two full tiles and a partial one (the packing's whole-panel paths)
        for (int[] s : new int[][] {{67, 45, 290}, {29, 2 * Gemm.NR + 5, 70}}) for (int layout = 0; layout < 4; layout++) {
            boolean ta = (layout & 1) != 0, tb = (layout & 2) != 0;
            Case cs = new Case(layout, s[0], s[1], s[2], ta, tb, 1f, 0.5f, 3);
            float[] expected = cs.runFloat();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment a = arena.allocateFrom(ValueLayout.JAVA_FLOAT, cs.a.data);
                MemorySegment b = arena.allocateFrom(ValueLayout.JAVA_FLOAT, cs.b.data);
                float[] c = cs.c0.clone();
                Gemm.sgemm(cs.m, cs.n, cs.k, cs.alpha, a, cs.a.off, cs.a.rs, cs.a.cs, b, cs.b.off, cs.b.rs, cs.b.cs,
                        cs.beta, c, cs.cOff, cs.ldc);
                assertThat(c).as("native segments, layout %d", layout).isEqualTo(expected);
                // A heap segment over an array slice, and a native one with an odd byte offset (unaligned floats).
                MemorySegment aHeap = MemorySegment.ofArray(cs.a.data).asSlice(4L * cs.a.off);
                MemorySegment bOdd = arena.allocate(4L * cs.b.data.length + 1).asSlice(1);
                MemorySegment.copy(cs.b.data, 0, bOdd, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, cs.b.data.length);
                c = cs.c0.clone();
                Gemm.sgemm(cs.m, cs.n, cs.k, cs.alpha, aHeap, 0, cs.a.rs, cs.a.cs, bOdd, cs.b.off, cs.b.rs, cs.b.cs,
                        cs.beta, c, cs.cOff, cs.ldc);
                assertThat(c).as("heap slice + unaligned segment, layout %d", layout).isEqualTo(expected);
            }
        }
    }

    @Test
    void transposedAIsReadInPlaceOrPackedWithTheSameBits() {
        // A stored k × m is read in place while a depth block spans at most IN_PLACE_SPAN floats, and packed when its
        // rows lie further apart; both must give the float64 reference and the same bits as each other.
        int m = 2 * Gemm.MR * 3 + 5, n = 70, k = 300;
        int wide = (int) (Gemm.IN_PLACE_SPAN / k) + 11;
        SplittableRandom rnd = new SplittableRandom(7);
        float[] aWide = new float[k * wide], aNarrow = new float[k * m], b = new float[k * n];
        for (int p = 0; p < k; p++) {
            for (int i = 0; i < m; i++) aWide[p * wide + i] = aNarrow[p * m + i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        for (int i = 0; i < b.length; i++) b[i] = (float) (rnd.nextDouble() * 2 - 1);
        float[] inPlace = new float[m * n], packed = new float[m * n];
        Gemm.sgemm(m, n, k, 1f, aNarrow, 0, 1, m, b, 0, n, 1, 0f, inPlace, 0, n);
        Gemm.sgemm(m, n, k, 1f, aWide, 0, 1, wide, b, 0, n, 1, 0f, packed, 0, n);
        assertThat(packed).isEqualTo(inPlace);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double ref = 0;
                for (int p = 0; p < k; p++) ref += (double) aNarrow[p * m + i] * b[p * n + j];
                assertThat((double) inPlace[i * n + j]).as("C[%d,%d]", i, j).isCloseTo(ref, within(1e-4));
            }
        }
    }

    @Test
    void resultsAreBitwiseIdenticalForAnyThreadCount() {
        // the last splits C's columns and the depth into two blocks each (threads share each packed B panel)
        int[][] shapes = {{300, 257, 290}, {65, 700, 33}, {700, 17, 129}, {2, 2, 2}, {Gemm.MC + 50, Gemm.NC + 70, Gemm.KC + 33}};
        for (int[] s : shapes) {
            for (int layout = 0; layout < 4; layout++) {
                boolean ta = (layout & 1) != 0, tb = (layout & 2) != 0;
                Case cs = new Case(layout, s[0], s[1], s[2], ta, tb, 1f, 0.5f, 1);   // beta ≠ 1: the first depth block scales C
                float[][] out = new float[4][];
                for (int t = 1; t <= 3; t++) {
                    int threads = t;
                    Parallel.withThreads(threads, () -> out[threads] = cs.runFloat());
                }
                assertThat(out[2]).as("2 threads vs 1, %s", label(s[0], s[1], s[2], ta, tb)).isEqualTo(out[1]);
                assertThat(out[3]).as("3 threads vs 1, %s", label(s[0], s[1], s[2], ta, tb)).isEqualTo(out[1]);
            }
        }
    }

    @Test
    void badArgumentsSayWhatWasExpectedAndWhatCame() {
        float[] a = new float[4000], b = new float[4096], c = new float[4096];
        assertThatThrownBy(() -> Gemm.sgemm(64, 64, 64, 1f, a, 0, 64, 1, b, 0, 64, 1, 0f, c, 0, 64))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("A needs 4096 elements from offset 0 for (64 × 64, strides 64,1) but has 4000");
        assertThatThrownBy(() -> Gemm.sgemm(64, 64, 64, 1f, b, 0, 64, 1, b, 1, 64, 1, 0f, c, 0, 64))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("B needs 4096")
                .hasMessageContaining("but has 4095");
        assertThatThrownBy(() -> Gemm.sgemm(64, 64, 64, 1f, b, 0, 64, 1, b, 0, 64, 1, 0f, c, 0, 65))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("C needs");
        assertThatThrownBy(() -> Gemm.sgemm(64, 64, 64, 1f, b, 0, 64, 1, b, 0, 64, 1, 0f, c, 0, 32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ldc ≥ n = 64")
                .hasMessageContaining("got ldc=32");
        assertThatThrownBy(() -> Gemm.sgemm(-1, 4, 4, 1f, b, 0, 4, 1, b, 0, 4, 1, 0f, c, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("m=-1");
        assertThatThrownBy(() -> Gemm.sgemm(4, 4, 4, 1f, b, -1, 4, 1, b, 0, 4, 1, 0f, c, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("below 0");
        assertThatThrownBy(() -> Gemm.sgemm(4, 4, 4, 1f, b, 10, -4, 1, b, 0, 4, 1, 0f, c, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reads index -2");
        assertThatThrownBy(() -> Gemm.sgemm(4, 4, 4, 1f, null, 0, 4, 1, b, 0, 4, 1, 0f, c, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("A is null");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4L * 100);
            assertThatThrownBy(() -> Gemm.sgemm(10, 10, 11, 1f, seg, 0, 11, 1, seg, 0, 10, 1, 0f, c, 0, 10))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("A needs 110 elements from offset 0 for (10 × 11, strides 11,1) but has 100");
        }
        assertThatThrownBy(() -> Gemm.dgemm(3, 3, 3, 1, new double[8], 0, 3, 1, new double[9], 0, 3, 1, 0, new double[9], 0, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dgemm: A needs 9");
    }

    @Test
    void dgemmMatchesTheDefinition() {
        SplittableRandom rnd = new SplittableRandom(3);
        int m = 5, n = 7, k = 9;
        double[] a = new double[k * m + 2], b = new double[n * k], c = new double[m * (n + 1)];
        for (int i = 0; i < a.length; i++) a[i] = rnd.nextDouble();
        for (int i = 0; i < b.length; i++) b[i] = rnd.nextDouble();
        for (int i = 0; i < c.length; i++) c[i] = rnd.nextDouble();
        double[] c0 = c.clone();
        // Aᵀ stored k × m at offset 2, Bᵀ stored n × k: C = 2·AᵀBᵀ + 0.5·C.
        Gemm.dgemm(m, n, k, 2, a, 2, 1, m, b, 0, 1, k, 0.5, c, 0, n + 1);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[2 + p * m + i] * b[j * k + p];
                assertThat(c[i * (n + 1) + j]).isCloseTo(2 * s + 0.5 * c0[i * (n + 1) + j],
                        org.assertj.core.data.Offset.offset(1e-12));
            }
            assertThat(c[i * (n + 1) + n]).isEqualTo(c0[i * (n + 1) + n]);
        }
    }

    // ---- Parallel.forRange, the pool GEMM runs on (tested here with its main user)

    @Test
    void forRangeCoversTheRangeOnceInAtMostThreadsChunks() {
        for (int threads = 1; threads <= 4; threads++) {
            int t = threads;
            java.util.concurrent.atomic.AtomicIntegerArray hits = new java.util.concurrent.atomic.AtomicIntegerArray(1000);
            java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
            Parallel.withThreads(t, () -> Parallel.forRange(3, 1000, 10, (lo, hi) -> {
                calls.incrementAndGet();
                for (int i = lo; i < hi; i++) hits.incrementAndGet(i);
            }));
            for (int i = 0; i < 1000; i++) assertThat(hits.get(i)).as("index %d, %d threads", i, t).isEqualTo(i < 3 ? 0 : 1);
            assertThat(calls.get()).isEqualTo(t);
        }
    }

    @Test
    void forRangeRunsInlineBelowTheGrainAndRethrowsFailures() {
        Thread caller = Thread.currentThread();
        Parallel.withThreads(4, () -> Parallel.forRange(0, 15, 16, (lo, hi) -> {
            assertThat(Thread.currentThread()).isSameAs(caller);
            assertThat(hi - lo).isEqualTo(15);
        }));
        assertThatThrownBy(() -> Parallel.withThreads(2, () -> Parallel.forRange(0, 100, 1, (lo, hi) -> {
            if (lo > 0) throw new IllegalStateException("chunk " + lo);
        }))).isInstanceOf(IllegalStateException.class).hasMessage("chunk 50");
        assertThatThrownBy(() -> Parallel.withThreads(0, () -> {})).isInstanceOf(IllegalArgumentException.class);
    }

    /** The pom runs this class again with each kernel forced: check that the force took, or that run tests nothing new. */
    @Test
    void theKernelInUseIsTheOneForced() {
        String forced = System.getProperty("jlisa.gemm.kernel");
        assertThat(GemmKernel.MR + "x" + GemmKernel.NV)
                .isEqualTo(forced != null ? forced : GemmPlan.CHOSEN.rows() + "x" + GemmPlan.CHOSEN.vectorsPerRow());
        assertThat(GemmKernel.NR).isEqualTo(GemmKernel.NV * GemmKernel.L);
        String inPlace = System.getProperty("jlisa.gemm.ainplace");
        if (inPlace != null) assertThat(Gemm.A_IN_PLACE).isEqualTo(Boolean.parseBoolean(inPlace));
    }
}
