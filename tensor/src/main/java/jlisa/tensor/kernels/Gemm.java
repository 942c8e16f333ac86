package jlisa.tensor.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

import jlisa.tensor.GemmPlan;
import jlisa.tensor.Parallel;

/**
 * General matrix multiply: C = alpha · op(A) · op(B) + beta · C.
 *
 * <p>float32 is a packed, cache-blocked GEMM in the Goto/BLIS shape:
 * <pre>
 *   for jc over n in NC columns            (threads split rows or columns of C, never k)
 *     for pc over k in KC                  pack B[pc.., jc..]  → KC × NC panel, NR-wide micro-panels
 *       for ic over m in MC rows           pack A[ic.., pc..]  → MC × KC block, MR-tall micro-panels
 *         for jr, ir: {@link GemmKernel}   MR × NR tile of C in registers
 * </pre>
 * B is read only by the packing loop, through its strides, and A too unless it lies in an array row-major or
 * transposed and the plan says so, where the microkernel reads it in place; so NN, NT, TN and TT are just stride
 * choices. Packed buffers are thread-local scratch, reused across calls; the B panel is native memory aligned to 64
 * bytes. Where the plan packs A, several threads share one packed B panel and take A blocks in turn
 * ({@link #sharedB}); otherwise each packs its own columns of B.
 * Every element of C is computed by the same sequence of fmas whatever the thread count or its position in a
 * tile, so results are bitwise identical for any parallelism. Products with at most one vector's width of columns
 * (a LoRA adapter's, at rank ≤ 16 with AVX-512) take a narrow kernel instead, see {@link #narrow}. The tile's shape,
 * the block sizes and the loop order are chosen for the CPU by {@link GemmPlan}.
 *
 * <p>float64 ({@link #dgemm}) is a plain i-p-j loop, the reference-quality path used by gradient checks.
 */
public final class Gemm {
    private Gemm() {}

    static final int MR = GemmKernel.MR;
    static final int NR = GemmKernel.NR;
    // Block sizes for this CPU: see GemmPlan (and bench/RESULTS.md for the measurements behind them).
    /** Largest depth of a packed block. A deep block writes C back rarely: k ≤ KC is one pass over C. */
    static final int KC = GemmPlan.CHOSEN.kc();
    /** Rows of the packed A block (MC × KC floats live in L2 beside one B micro-panel). Multiple of MR. */
    static final int MC = roundUp(GemmPlan.CHOSEN.mc(), MR);
    /** Columns of the packed B panel (KC × NC floats live in L3). Multiple of NR. */
    static final int NC = roundUp(GemmPlan.CHOSEN.nc(), NR);
    /** Largest span (floats) of a depth block of a transposed A read in place: 8 MiB, 2048 pages, inside the L2 TLB. */
    static final long IN_PLACE_SPAN = 1L << 21;
    /** Whether an array A with a unit stride is read where it lies (see {@link #blocked}); packed otherwise. */
    static final boolean A_IN_PLACE = GemmPlan.CHOSEN.aInPlace();
    /** The macro-kernel's order: each A micro-panel along the B panel, or each B micro-panel down the A block. */
    static final boolean A_PANEL_OUTER = GemmPlan.CHOSEN.aPanelOuter();
    /** Below this many flops a thread is not worth waking. */
    private static final long MIN_FLOPS_PER_TASK = 1L << 22;


    // ------------------------------------------------------------------------------------------------ float32 API

    /**
     * C = alpha · op(A) · op(B) + beta · C, float32, row-major C (m × n, element (i,j) at c[cOff + i·ldc + j]).
     * op(A) is m × k with element (i,p) at a[aOff + i·aRowStride + p·aColStride]; op(B) is k × n with element
     * (p,j) at b[bOff + p·bRowStride + j·bColStride]. beta == 0 overwrites C (NaNs in the old C are ignored);
     * alpha == 0 or k == 0 gives C = beta · C without reading A or B.
     *
     * @throws IllegalArgumentException for negative sizes, or offsets/strides that reach outside an array
     */
    public static void sgemm(int m, int n, int k, float alpha,
                             float[] a, int aOff, int aRowStride, int aColStride,
                             float[] b, int bOff, int bRowStride, int bColStride,
                             float beta, float[] c, int cOff, int ldc) {
        checkSizes("sgemm", m, n, k);
        boolean reads = alpha != 0f && k > 0 && m > 0 && n > 0;
        if (reads) {
            checkOperand("sgemm", "A", a == null ? -1 : a.length, aOff, m, k, aRowStride, aColStride);
            checkOperand("sgemm", "B", b == null ? -1 : b.length, bOff, k, n, bRowStride, bColStride);
        }
        checkC("sgemm", c == null ? -1 : c.length, cOff, m, n, ldc);
        if (m == 0 || n == 0) return;
        if (!reads) {
            scale(m, n, beta, c, cOff, ldc);
            return;
        }
        run(m, n, k, alpha, a, null, aOff, aRowStride, aColStride, b, null, bOff, bRowStride, bColStride,
                beta, c, cOff, ldc);
    }

    /**
     * Same as {@link #sgemm(int, int, int, float, float[], int, int, int, float[], int, int, int, float, float[], int, int)}
     * with A and B in memory segments (off-heap, memory-mapped, or {@code MemorySegment.ofArray}) of native-order
     * float32; offsets and strides in elements.
     */
    public static void sgemm(int m, int n, int k, float alpha,
                             MemorySegment a, long aOff, int aRowStride, int aColStride,
                             MemorySegment b, long bOff, int bRowStride, int bColStride,
                             float beta, float[] c, int cOff, int ldc) {
        segments(m, n, k, alpha, a, aOff, aRowStride, aColStride, b, false, bOff, bRowStride, bColStride, beta, c, cOff, ldc);
    }

    /**
     * As the segment {@link #sgemm(int, int, int, float, MemorySegment, long, int, int, MemorySegment, long, int, int,
     * float, float[], int, int) sgemm}, with B in bfloat16 (raw bits, little-endian: a BF16 checkpoint's weight, mapped
     * or on the heap), widened to float32 as it is packed: no F32 copy of B is made.
     */
    public static void sgemmBf16B(int m, int n, int k, float alpha,
                                  MemorySegment a, long aOff, int aRowStride, int aColStride,
                                  MemorySegment b, long bOff, int bRowStride, int bColStride,
                                  float beta, float[] c, int cOff, int ldc) {
        segments(m, n, k, alpha, a, aOff, aRowStride, aColStride, b, true, bOff, bRowStride, bColStride, beta, c, cOff, ldc);
    }

    /** The two segment entry points: B is F32, or BF16 bits when {@code bBf16}. */
    private static void segments(int m, int n, int k, float alpha, MemorySegment a, long aOff, int aRowStride, int aColStride,
                                 MemorySegment b, boolean bBf16, long bOff, int bRowStride, int bColStride,
                                 float beta, float[] c, int cOff, int ldc) {
        checkSizes("sgemm", m, n, k);
        boolean reads = alpha != 0f && k > 0 && m > 0 && n > 0;
        if (reads) {
            checkOperand("sgemm", "A", a == null ? -1 : a.byteSize() / 4, aOff, m, k, aRowStride, aColStride);
            checkOperand("sgemm", "B", b == null ? -1 : b.byteSize() / (bBf16 ? 2 : 4), bOff, k, n, bRowStride, bColStride);
        }
        checkC("sgemm", c == null ? -1 : c.length, cOff, m, n, ldc);
        if (m == 0 || n == 0) return;
        if (!reads) {
            scale(m, n, beta, c, cOff, ldc);
            return;
        }
        // A segment over a float[] is read as the array itself (the fast packing paths).
        float[] aArr = heapArray(a, aOff), bArr = bBf16 ? null : heapArray(b, bOff);
        long aBase = aArr == null ? aOff : a.address() / 4 + aOff;
        long bBase = bArr == null ? bOff : b.address() / 4 + bOff;
        run(m, n, k, alpha, aArr, aArr == null ? a : null, aBase, aRowStride, aColStride,
                bArr, bArr == null ? b : null, bBf16, bBase, bRowStride, bColStride, beta, c, cOff, ldc);
    }

    private static float[] heapArray(MemorySegment s, long off) {
        if (s.heapBase().orElse(null) instanceof float[] arr && s.address() % 4 == 0) return arr;
        return null;
    }

    // ------------------------------------------------------------------------------------------------ float64 API

    /** float64 C = alpha · op(A) · op(B) + beta · C, same layout conventions as sgemm; plain loops (reference). */
    public static void dgemm(int m, int n, int k, double alpha,
                             double[] a, int aOff, int aRowStride, int aColStride,
                             double[] b, int bOff, int bRowStride, int bColStride,
                             double beta, double[] c, int cOff, int ldc) {
        checkSizes("dgemm", m, n, k);
        boolean reads = alpha != 0 && k > 0 && m > 0 && n > 0;
        if (reads) {
            checkOperand("dgemm", "A", a == null ? -1 : a.length, aOff, m, k, aRowStride, aColStride);
            checkOperand("dgemm", "B", b == null ? -1 : b.length, bOff, k, n, bRowStride, bColStride);
        }
        checkC("dgemm", c == null ? -1 : c.length, cOff, m, n, ldc);
        for (int i = 0; i < m; i++) {
            int ci = cOff + i * ldc;
            for (int j = 0; j < n; j++) c[ci + j] = beta == 0 ? 0 : beta * c[ci + j];
            if (!reads) continue;
            for (int p = 0; p < k; p++) {
                double aip = alpha * a[aOff + i * aRowStride + p * aColStride];
                int bp = bOff + p * bRowStride;
                for (int j = 0; j < n; j++) c[ci + j] += aip * b[bp + j * bColStride];
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ driver

    /**
     * Splits C over threads (columns when n ≥ m, else rows, in whole micro-panels) and runs the blocked loops on
     * each part. Exactly one of aArr/aSeg (and bArr/bSeg) is non-null; aOff/bOff are element offsets into it.
     */
    static void run(int m, int n, int k, float alpha,
                    float[] aArr, MemorySegment aSeg, long aOff, int ars, int acs,
                    float[] bArr, MemorySegment bSeg, long bOff, int brs, int bcs,
                    float beta, float[] c, int cOff, int ldc) {
        run(m, n, k, alpha, aArr, aSeg, aOff, ars, acs, bArr, bSeg, false, bOff, brs, bcs, beta, c, cOff, ldc);
    }

    /** {@link #run} with {@code bBf16}: bSeg holds bfloat16 bits, widened to float32 as B is packed. */
    static void run(int m, int n, int k, float alpha,
                    float[] aArr, MemorySegment aSeg, long aOff, int ars, int acs,
                    float[] bArr, MemorySegment bSeg, boolean bBf16, long bOff, int brs, int bcs,
                    float beta, float[] c, int cOff, int ldc) {
        if (n <= GemmKernel.L && aArr != null && bArr != null) {
            narrow(m, n, k, alpha, aArr, (int) aOff, ars, acs, bArr, (int) bOff, brs, bcs, beta, c, cOff, ldc);
            return;
        }
        boolean splitColumns = n >= m;
        int panel = splitColumns ? NR : MR;
        int panels = ceilDiv(splitColumns ? n : m, panel);
        long flopsPerPanel = 2L * k * panel * (splitColumns ? m : n);
        int grain = (int) Math.max(1, Math.min(panels, MIN_FLOPS_PER_TASK / Math.max(1, flopsPerPanel)));
        int threads = Parallel.threads();
        if (!A_IN_PLACE && threads > 1 && panels / grain >= 2 && m >= 2 * threads * MR) {
            sharedB(m, n, k, alpha, aArr, aSeg, aOff, ars, acs, bArr, bSeg, bBf16, bOff, brs, bcs, beta, c, cOff, ldc,
                    threads);
            return;
        }
        Parallel.forRange(0, panels, grain, (lo, hi) -> {
            int m0 = 0, m1 = m, n0 = 0, n1 = n;
            if (splitColumns) {
                n0 = lo * NR;
                n1 = Math.min(n, hi * NR);
            } else {
                m0 = lo * MR;
                m1 = Math.min(m, hi * MR);
            }
            blocked(m0, m1, n0, n1, k, alpha, aArr, aSeg, aOff, ars, acs, bArr, bSeg, bBf16, bOff, brs, bcs,
                    beta, c, cOff, ldc);
        });
    }

    /**
     * The Goto loops on several threads when the plan packs A: each B panel is packed once, its micro-panels shared
     * out among the threads, and then the threads take A blocks (MC rows of C) one at a time until none is left, each
     * packing its own. Split by C's columns instead (the other path), every thread packed all of A, and the two halves
     * ended together or not at all. On an Ice Lake Xeon (n = 1024, NN, two threads, seven runs of five rounds beside
     * OpenBLAS) this path ran at a median 172 GFLOP/s and 0.88 of OpenBLAS, the column split at 145 and 0.82. The
     * blocks' height (MC or less, so that each thread gets at least two) does not change the sums, so the bits are
     * those of one thread.
     */
    private static void sharedB(int m, int n, int k, float alpha, float[] aArr, MemorySegment aSeg, long aOff, int ars,
                                int acs, float[] bArr, MemorySegment bSeg, boolean bBf16, long bOff, int brs, int bcs,
                                float beta, float[] c, int cOff, int ldc, int threads) {
        int kcStep = depthStep(k), ncStep = columnStep(n);
        int mc = Math.min(MC, roundUp(ceilDiv(m, 2 * threads), MR)), blocks = ceilDiv(m, mc);
        MemorySegment bp = SCRATCH.get().b(kcStep * ncStep);
        for (int jc = 0; jc < n; jc += ncStep) {
            int j0 = jc, ncb = Math.min(ncStep, n - jc);
            for (int pc = 0; pc < k; pc += kcStep) {
                int p0 = pc, kcb = Math.min(kcStep, k - pc);
                float betaBlock = pc == 0 ? beta : 1f;
                Parallel.forRange(0, ceilDiv(ncb, NR), 1, (lo, hi) -> {
                    int from = lo * NR, cols = Math.min(ncb, hi * NR) - from;
                    long bBase = bOff + (long) p0 * brs + (long) (j0 + from) * bcs;
                    MemorySegment part = bp.asSlice(4L * from * kcb);   // micro-panel jr starts at jr·kcb floats
                    GemmPack.packB(bArr, bSeg, bBf16, bBase, brs, bcs, kcb, cols, part);
                });
                AtomicInteger next = new AtomicInteger();
                Parallel.forRange(0, threads, 1, (lo, hi) -> {
                    Scratch s = SCRATCH.get();
                    float[] ap = s.a(mc * kcb);
                    for (int blk; (blk = next.getAndIncrement()) < blocks; ) {
                        int ic = blk * mc, mcb = Math.min(mc, m - ic);
                        long aBase = aOff + (long) ic * ars + (long) p0 * acs;
                        GemmPack.packA(aArr, aSeg, aBase, ars, acs, mcb, kcb, ap);
                        macro(mcb, ncb, kcb, alpha, ap, 0, MR * kcb, MR, null, bp, betaBlock, c, cOff + ic * ldc + j0,
                                ldc, s.tile);
                    }
                });
            }
        }
    }

    /**
     * C for a product with at most {@link GemmKernel#L} columns, in {@link GemmKernel#narrowTile}s of MRN rows × one
     * vector: a LoRA adapter's x · Aᵀ, g · B and gᵀ · h at rank 8 would otherwise compute NR columns per tile to keep 8,
     * and pay for packing A besides. B (k × n, small) is packed once into k rows of L floats, zero past n, and shared
     * read-only by the threads, which split C's rows; A is read where it lies. Each element is one fma chain over
     * p = 0 … k − 1 whatever the thread count.
     */
    private static void narrow(int m, int n, int k, float alpha, float[] a, int aOff, int ars, int acs,
                               float[] b, int bOff, int brs, int bcs, float beta, float[] c, int cOff, int ldc) {
        int lanes = GemmKernel.L, mr = GemmKernel.MRN;
        float[] bp = NARROW_B.get();
        if (bp.length < k * lanes) NARROW_B.set(bp = new float[k * lanes]);
        for (int p = 0; p < k; p++) {
            int row = p * lanes, src = bOff + p * brs;
            for (int j = 0; j < n; j++) bp[row + j] = b[src + j * bcs];
            for (int j = n; j < lanes; j++) bp[row + j] = 0f;
        }
        float[] packed = bp;
        int blocks = ceilDiv(m, mr);
        long flopsPerBlock = 2L * k * mr * n;
        int grain = (int) Math.max(1, Math.min(blocks, MIN_FLOPS_PER_TASK / Math.max(1, flopsPerBlock)));
        Parallel.forRange(0, blocks, grain, (lo, hi) -> {
            for (int blk = lo; blk < hi; blk++) {
                int i = blk * mr;
                GemmKernel.narrowTile(k, a, aOff + i * ars, ars, acs, packed, alpha, beta, c, cOff + i * ldc, ldc,
                        Math.min(mr, m - i), n);
            }
        });
    }

    /** The calling thread's packed B for {@link #narrow}: read by the workers during the call, reused after it. */
    private static final ThreadLocal<float[]> NARROW_B = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Per-thread packing buffers, grown to the largest blocks seen and then reused. The B panel is native memory
     * aligned to 64 bytes (see {@link GemmKernel} for why); an automatic arena frees an outgrown one, and a thread's
     * last, once the thread and its scratch are gone.
     */
    private static final class Scratch {
        float[] a = new float[0], edge = new float[0];
        MemorySegment b = MemorySegment.NULL;
        final float[] tile = new float[MR * NR];

        float[] a(int size) {
            if (a.length < size) a = new float[size];
            return a;
        }

        /** The packed B panel: at least {@code size} floats. */
        MemorySegment b(int size) {
            if (b.byteSize() < 4L * size) b = Arena.ofAuto().allocate(4L * size, 64);
            return b;
        }

        float[] edge(int size) {
            if (edge.length < size) edge = new float[size];
            return edge;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * The Goto loops over the rows [m0, m1) and columns [n0, n1) of C.
     *
     * <p>Where the plan says so ({@link GemmPlan#aInPlace()}: the 6 × 4 kernel), an A held in an array with unit
     * column stride (row-major) or unit row stride (transposed) is not packed: the microkernel reads it where it lies.
     * Packing would copy every element of A once per thread and column block, which in products with a long inner
     * dimension and few columns (dx = dlogits · W, k = 50257) costs a fifth of the product; read in place, the same
     * elements stream from L2 as fast as a packed block would.
     * A transposed A is read in place only while a depth block spans at most {@link #IN_PLACE_SPAN} floats: each
     * depth step reads another row, and rows 200 KB apart (dW of the LM head) would miss the TLB at every step.
     */
    private static void blocked(int m0, int m1, int n0, int n1, int k, float alpha,
                                float[] aArr, MemorySegment aSeg, long aOff, int ars, int acs,
                                float[] bArr, MemorySegment bSeg, boolean bBf16, long bOff, int brs, int bcs,
                                float beta, float[] c, int cOff, int ldc) {
        int kcStep = depthStep(k), ncStep = columnStep(n1 - n0);
        int mcStep = Math.min(MC, roundUp(m1 - m0, MR));
        boolean rowsInPlace = A_IN_PLACE && aArr != null && acs == 1;
        boolean columnsInPlace = A_IN_PLACE && aArr != null && !rowsInPlace && ars == 1 && (long) kcStep * acs <= IN_PLACE_SPAN;
        Scratch s = SCRATCH.get();
        float[] ap = rowsInPlace || columnsInPlace ? null : s.a(mcStep * kcStep);
        MemorySegment bp = s.b(kcStep * ncStep);
        float[] edge = columnsInPlace ? s.edge(MR * kcStep) : null;
        for (int jc = n0; jc < n1; jc += ncStep) {
            int ncb = Math.min(ncStep, n1 - jc);
            for (int pc = 0; pc < k; pc += kcStep) {
                int kcb = Math.min(kcStep, k - pc);
                float betaBlock = pc == 0 ? beta : 1f;
                long bBase = bOff + (long) pc * brs + (long) jc * bcs;
                GemmPack.packB(bArr, bSeg, bBf16, bBase, brs, bcs, kcb, ncb, bp);
                for (int ic = m0; ic < m1; ic += MC) {
                    int mcb = Math.min(MC, m1 - ic);
                    long aBase = aOff + (long) ic * ars + (long) pc * acs;
                    int co = cOff + ic * ldc + jc;
                    if (rowsInPlace) {
                        macroRowMajorA(mcb, ncb, kcb, alpha, aArr, (int) aBase, ars, bp, betaBlock, c, co, ldc, s.tile);
                    } else if (columnsInPlace) {
                        // The last micro-panel of a block that is not a multiple of MR is packed, zero-padded:
                        // read in place, its MR adjacent elements would run past A's m columns.
                        int full = mcb - mcb % MR;
                        if (full < mcb) GemmPack.packA(aArr, (int) aBase + full, 1, acs, mcb - full, kcb, edge);
                        macro(mcb, ncb, kcb, alpha, aArr, (int) aBase, MR, acs, edge, bp, betaBlock, c, co, ldc, s.tile);
                    } else {
                        GemmPack.packA(aArr, aSeg, aBase, ars, acs, mcb, kcb, ap);
                        macro(mcb, ncb, kcb, alpha, ap, 0, MR * kcb, MR, null, bp, betaBlock, c, co, ldc, s.tile);
                    }
                }
            }
        }
    }

    /**
     * Depth of the blocks k is cut into: equal blocks no larger than KC (k = 1536 is two of 768, not 1024 + 512). It
     * depends on k alone, so each C element sees the same fma sequence for any thread split and either path.
     */
    private static int depthStep(int k) {
        return ceilDiv(k, ceilDiv(k, KC));
    }

    /** Width of the column blocks n columns are cut into: equal, no wider than NC, whole micro-panels. */
    private static int columnStep(int n) {
        return roundUp(ceilDiv(n, ceilDiv(n, NC)), NR);
    }

    /**
     * All MR × NR tiles of one A block times one packed B panel, in the plan's order ({@link #A_PANEL_OUTER}). A's
     * micro-panel ir starts at {@code a[ao + (ir/MR)·panelStep]} with depth step {@code aStep}; a partial last
     * micro-panel comes from {@code edge} (packed, depth step MR) when given.
     */
    private static void macro(int mcb, int ncb, int kcb, float alpha, float[] a, int ao, int panelStep, int aStep,
                              float[] edge, MemorySegment bp, float beta, float[] c, int co, int ldc, float[] tile) {
        if (A_PANEL_OUTER) {
            for (int ir = 0; ir < mcb; ir += MR)
                for (int jr = 0; jr < ncb; jr += NR)
                    macroTile(ir, jr, mcb, ncb, kcb, alpha, a, ao, panelStep, aStep, edge, bp, beta, c, co, ldc, tile);
        } else {
            for (int jr = 0; jr < ncb; jr += NR)
                for (int ir = 0; ir < mcb; ir += MR)
                    macroTile(ir, jr, mcb, ncb, kcb, alpha, a, ao, panelStep, aStep, edge, bp, beta, c, co, ldc, tile);
        }
    }

    /** The tile of {@link #macro} at row ir, column jr of the block. */
    private static void macroTile(int ir, int jr, int mcb, int ncb, int kcb, float alpha, float[] a, int ao,
                                  int panelStep, int aStep, float[] edge, MemorySegment bp, float beta, float[] c,
                                  int co, int ldc, float[] tile) {
        int rows = Math.min(MR, mcb - ir), cols = Math.min(NR, ncb - jr), cij = co + ir * ldc + jr;
        if (rows < MR && edge != null) {
            GemmKernel.tile(kcb, edge, 0, MR, bp, 4L * jr * kcb, alpha, beta, c, cij, ldc, rows, cols, tile);
        } else {
            GemmKernel.tile(kcb, a, ao + ir / MR * panelStep, aStep, bp, 4L * jr * kcb, alpha, beta, c, cij, ldc,
                    rows, cols, tile);
        }
    }

    /** {@link #macro} for a row-major A read in place: row i of the block at {@code a[ao + i·lda]}. */
    private static void macroRowMajorA(int mcb, int ncb, int kcb, float alpha, float[] a, int ao, int lda,
                                       MemorySegment bp, float beta, float[] c, int co, int ldc, float[] tile) {
        for (int jr = 0; jr < ncb; jr += NR) {
            int cols = Math.min(NR, ncb - jr);
            for (int ir = 0; ir < mcb; ir += MR) {
                GemmKernel.tileRowsA(kcb, a, ao + ir * lda, lda, bp, 4L * jr * kcb, alpha, beta, c, co + ir * ldc + jr,
                        ldc, Math.min(MR, mcb - ir), cols, tile);
            }
        }
    }

    /** C = beta · C (beta == 0 writes zeros, ignoring NaNs). */
    private static void scale(int m, int n, float beta, float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            int ci = cOff + i * ldc;
            for (int j = 0; j < n; j++) c[ci + j] = beta == 0f ? 0f : beta * c[ci + j];
        }
    }

    // ------------------------------------------------------------------------------------------------ checks

    private static void checkSizes(String op, int m, int n, int k) {
        if (m < 0 || n < 0 || k < 0)
            throw new IllegalArgumentException(op + ": sizes must be ≥ 0, got m=" + m + ", n=" + n + ", k=" + k);
    }

    /** Every element (i, p) at off + i·rs + p·cs, i < rows, p < cols, must lie inside [0, length). */
    private static void checkOperand(String op, String name, long length, long off, int rows, int cols,
                                     int rs, int cs) {
        if (rows == 0 || cols == 0) return;
        String shape = "(" + rows + " × " + cols + ", strides " + rs + "," + cs + ")";
        if (length < 0) throw new IllegalArgumentException(op + ": " + name + " is null but " + shape + " is read");
        long spanR = (long) (rows - 1) * rs, spanC = (long) (cols - 1) * cs;
        long lo = off + Math.min(0, spanR) + Math.min(0, spanC);
        long hi = off + Math.max(0, spanR) + Math.max(0, spanC);
        if (off < 0 || lo < 0)
            throw new IllegalArgumentException(op + ": " + name + " " + shape + " from offset " + off
                    + " reads index " + lo + ", below 0");
        if (hi >= length)
            throw new IllegalArgumentException(op + ": " + name + " needs " + (hi - off + 1)
                    + " elements from offset " + off + " for " + shape + " but has " + Math.max(0, length - off)
                    + " (length " + length + ")");
    }

    private static void checkC(String op, long length, int cOff, int m, int n, int ldc) {
        if (m > 1 && ldc < n)
            throw new IllegalArgumentException(op + ": C needs ldc ≥ n = " + n + " (rows may not overlap), got ldc="
                    + ldc);
        checkOperand(op, "C", length, cOff, m, n, ldc, 1);
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    private static int roundUp(int a, int b) {
        return Math.max(b, ceilDiv(a, b) * b);
    }
}
