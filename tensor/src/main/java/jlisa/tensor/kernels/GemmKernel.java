package jlisa.tensor.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import jlisa.tensor.GemmPlan;

/**
 * The register-tiled microkernel of {@link Gemm}: one MR × NR tile of C from packed panels (L = lanes of the
 * preferred float species, 16 with AVX-512, 8 with AVX2): C_tile = alpha · Σ_p a_p ⊗ b_p + beta · C_tile.
 * Two shapes, one per register file, chosen by {@link GemmPlan}: 6 × 4·L (24 accumulators in 32 registers) and
 * 5 × 2·L (10 accumulators in 16).
 *
 * <p>The accumulators are local variables (vector registers): MR rows × NV vectors of L floats. Each step p
 * loads NV vectors of the packed B micro-panel (NR floats per p) and broadcasts MR scalars of the packed A
 * micro-panel (MR floats per p). Unrolled by hand because C2 keeps vectors in registers only when every
 * accumulator is a plain local; no vector is passed to or returned from a call.
 *
 * <p>A is read from a packed micro-panel or, when it is an array in a plain layout, where it lies (see
 * {@link Gemm}); B always from its packed micro-panel, which lies in native memory aligned to 64 bytes so that
 * every B vector is one whole cache line: a float[]'s elements start wherever the heap put the object (a multiple of
 * 8 bytes), and unless that is a multiple of 64 every 64-byte load straddles two lines. On an Intel Xeon (Ice Lake,
 * AVX-512) the tile alone in L1 ran at 100–110 GFLOP/s from such a panel and 150–160 from an aligned one, the same
 * code in the same JVM (bench/RESULTS.md).
 *
 * <p>Full tiles are written straight into C; edge tiles (fewer than MR rows or NR columns left) go through
 * {@code tile} and a scalar loop, with the same fma per element, so the bits do not depend on where a tile sits.
 */
final class GemmKernel {
    static { jlisa.tensor.Jit.c2Only("jlisa/tensor/kernels/GemmKernel.*"); }   // see Jit: C1 can trap the tile

    private GemmKernel() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Floats per vector: 16 with AVX-512. */
    static final int L = S.length();
    /** Rows of a tile: 6 or 5, chosen with NV (see {@link GemmPlan}). */
    static final int MR = GemmPlan.CHOSEN.rows();
    /** Vectors per tile row, chosen for the CPU's register file: see {@link GemmPlan}. */
    static final int NV = GemmPlan.CHOSEN.vectorsPerRow();
    /** Columns of a tile: NV vectors. */
    static final int NR = NV * L;
    /** Bytes of one vector, and of one depth step of a packed B micro-panel. */
    static final int VB = 4 * L, NR_BYTES = 4 * NR;
    static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** One MR × NR tile (see the parameters of {@link #tile6x4}); the branch on a constant folds away. */
    static void tile(int kc, float[] ap, int ao, int aStep, MemorySegment bp, long bo, float alpha, float beta,
                     float[] c, int co, int ldc, int rows, int cols, float[] tile) {
        if (NV == 4) tile6x4(kc, ap, ao, aStep, bp, bo, alpha, beta, c, co, ldc, rows, cols, tile);
        else tile5x2(kc, ap, ao, aStep, bp, bo, alpha, beta, c, co, ldc, rows, cols, tile);
    }

    /**
     * @param kc    depth of this block
     * @param ap    A's micro-panel at {@code ao}: element (r, p) at ao + p·aStep + r — packed (aStep = MR), or
     *              read in place from a transposed A whose MR rows are adjacent (aStep = its column stride)
     * @param aStep distance between depth steps in {@code ap}
     * @param bp    packed B (native memory aligned to 64 bytes, see the class comment), micro-panel at byte
     *              {@code bo}: element (p, j) at byte bo + 4·(p·NR + j)
     * @param beta  0 overwrites C without reading it
     * @param rows  rows of C to write (≤ MR); cols columns (≤ NR)
     * @param tile  scratch of MR·NR floats for edge tiles
     */
    private static void tile6x4(int kc, float[] ap, int ao, int aStep, MemorySegment bp, long bo, float alpha, float beta,
                     float[] c, int co, int ldc, int rows, int cols, float[] tile) {
        FloatVector c00 = FloatVector.zero(S); FloatVector c01 = FloatVector.zero(S); FloatVector c02 = FloatVector.zero(S); FloatVector c03 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S); FloatVector c11 = FloatVector.zero(S); FloatVector c12 = FloatVector.zero(S); FloatVector c13 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S); FloatVector c21 = FloatVector.zero(S); FloatVector c22 = FloatVector.zero(S); FloatVector c23 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S); FloatVector c31 = FloatVector.zero(S); FloatVector c32 = FloatVector.zero(S); FloatVector c33 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S); FloatVector c41 = FloatVector.zero(S); FloatVector c42 = FloatVector.zero(S); FloatVector c43 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S); FloatVector c51 = FloatVector.zero(S); FloatVector c52 = FloatVector.zero(S); FloatVector c53 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            long bi = bo + (long) p * NR_BYTES; int ai = ao + p * aStep;
            FloatVector b0 = FloatVector.fromMemorySegment(S, bp, bi, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(S, bp, bi + VB, NATIVE);
            FloatVector b2 = FloatVector.fromMemorySegment(S, bp, bi + 2 * VB, NATIVE);
            FloatVector b3 = FloatVector.fromMemorySegment(S, bp, bi + 3 * VB, NATIVE);
            FloatVector a0 = FloatVector.broadcast(S, ap[ai]);
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01); c02 = a0.fma(b2, c02); c03 = a0.fma(b3, c03);
            FloatVector a1 = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11); c12 = a1.fma(b2, c12); c13 = a1.fma(b3, c13);
            FloatVector a2 = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21); c22 = a2.fma(b2, c22); c23 = a2.fma(b3, c23);
            FloatVector a3 = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31); c32 = a3.fma(b2, c32); c33 = a3.fma(b3, c33);
            FloatVector a4 = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = a4.fma(b0, c40); c41 = a4.fma(b1, c41); c42 = a4.fma(b2, c42); c43 = a4.fma(b3, c43);
            FloatVector a5 = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = a5.fma(b0, c50); c51 = a5.fma(b1, c51); c52 = a5.fma(b2, c52); c53 = a5.fma(b3, c53);
        }
        if (rows == MR && cols == NR) {
            FloatVector va = FloatVector.broadcast(S, alpha);
            if (beta == 0f) {
                c00.mul(va).intoArray(c, co); c01.mul(va).intoArray(c, co + L); c02.mul(va).intoArray(c, co + 2 * L); c03.mul(va).intoArray(c, co + 3 * L);
                c10.mul(va).intoArray(c, co + ldc); c11.mul(va).intoArray(c, co + ldc + L); c12.mul(va).intoArray(c, co + ldc + 2 * L); c13.mul(va).intoArray(c, co + ldc + 3 * L);
                c20.mul(va).intoArray(c, co + 2 * ldc); c21.mul(va).intoArray(c, co + 2 * ldc + L); c22.mul(va).intoArray(c, co + 2 * ldc + 2 * L); c23.mul(va).intoArray(c, co + 2 * ldc + 3 * L);
                c30.mul(va).intoArray(c, co + 3 * ldc); c31.mul(va).intoArray(c, co + 3 * ldc + L); c32.mul(va).intoArray(c, co + 3 * ldc + 2 * L); c33.mul(va).intoArray(c, co + 3 * ldc + 3 * L);
                c40.mul(va).intoArray(c, co + 4 * ldc); c41.mul(va).intoArray(c, co + 4 * ldc + L); c42.mul(va).intoArray(c, co + 4 * ldc + 2 * L); c43.mul(va).intoArray(c, co + 4 * ldc + 3 * L);
                c50.mul(va).intoArray(c, co + 5 * ldc); c51.mul(va).intoArray(c, co + 5 * ldc + L); c52.mul(va).intoArray(c, co + 5 * ldc + 2 * L); c53.mul(va).intoArray(c, co + 5 * ldc + 3 * L);
            } else {
                FloatVector vb = FloatVector.broadcast(S, beta);
                c00.fma(va, FloatVector.fromArray(S, c, co).mul(vb)).intoArray(c, co);
                c01.fma(va, FloatVector.fromArray(S, c, co + L).mul(vb)).intoArray(c, co + L);
                c02.fma(va, FloatVector.fromArray(S, c, co + 2 * L).mul(vb)).intoArray(c, co + 2 * L);
                c03.fma(va, FloatVector.fromArray(S, c, co + 3 * L).mul(vb)).intoArray(c, co + 3 * L);
                c10.fma(va, FloatVector.fromArray(S, c, co + ldc).mul(vb)).intoArray(c, co + ldc);
                c11.fma(va, FloatVector.fromArray(S, c, co + ldc + L).mul(vb)).intoArray(c, co + ldc + L);
                c12.fma(va, FloatVector.fromArray(S, c, co + ldc + 2 * L).mul(vb)).intoArray(c, co + ldc + 2 * L);
                c13.fma(va, FloatVector.fromArray(S, c, co + ldc + 3 * L).mul(vb)).intoArray(c, co + ldc + 3 * L);
                c20.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc).mul(vb)).intoArray(c, co + 2 * ldc);
                c21.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc + L).mul(vb)).intoArray(c, co + 2 * ldc + L);
                c22.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc + 2 * L).mul(vb)).intoArray(c, co + 2 * ldc + 2 * L);
                c23.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc + 3 * L).mul(vb)).intoArray(c, co + 2 * ldc + 3 * L);
                c30.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc).mul(vb)).intoArray(c, co + 3 * ldc);
                c31.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc + L).mul(vb)).intoArray(c, co + 3 * ldc + L);
                c32.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc + 2 * L).mul(vb)).intoArray(c, co + 3 * ldc + 2 * L);
                c33.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc + 3 * L).mul(vb)).intoArray(c, co + 3 * ldc + 3 * L);
                c40.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc).mul(vb)).intoArray(c, co + 4 * ldc);
                c41.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc + L).mul(vb)).intoArray(c, co + 4 * ldc + L);
                c42.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc + 2 * L).mul(vb)).intoArray(c, co + 4 * ldc + 2 * L);
                c43.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc + 3 * L).mul(vb)).intoArray(c, co + 4 * ldc + 3 * L);
                c50.fma(va, FloatVector.fromArray(S, c, co + 5 * ldc).mul(vb)).intoArray(c, co + 5 * ldc);
                c51.fma(va, FloatVector.fromArray(S, c, co + 5 * ldc + L).mul(vb)).intoArray(c, co + 5 * ldc + L);
                c52.fma(va, FloatVector.fromArray(S, c, co + 5 * ldc + 2 * L).mul(vb)).intoArray(c, co + 5 * ldc + 2 * L);
                c53.fma(va, FloatVector.fromArray(S, c, co + 5 * ldc + 3 * L).mul(vb)).intoArray(c, co + 5 * ldc + 3 * L);
            }
        } else {
            c00.intoArray(tile, 0); c01.intoArray(tile, L); c02.intoArray(tile, 2 * L); c03.intoArray(tile, 3 * L);
            c10.intoArray(tile, NR); c11.intoArray(tile, NR + L); c12.intoArray(tile, NR + 2 * L); c13.intoArray(tile, NR + 3 * L);
            c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L); c22.intoArray(tile, 2 * NR + 2 * L); c23.intoArray(tile, 2 * NR + 3 * L);
            c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L); c32.intoArray(tile, 3 * NR + 2 * L); c33.intoArray(tile, 3 * NR + 3 * L);
            c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L); c42.intoArray(tile, 4 * NR + 2 * L); c43.intoArray(tile, 4 * NR + 3 * L);
            c50.intoArray(tile, 5 * NR); c51.intoArray(tile, 5 * NR + L); c52.intoArray(tile, 5 * NR + 2 * L); c53.intoArray(tile, 5 * NR + 3 * L);
            writeEdge(tile, alpha, beta, c, co, ldc, rows, cols);
        }
    }

    /**
     * {@link #tile6x4} reading a row-major A in place: element (r, p) at {@code a[ao + r·lda + p]}. Same fmas in the
     * same order, so the same bits as the packed path. Unrolled apart from {@link #tile6x4} for the reason in the class
     * comment. Only the 6 × 4 plan reads A in place ({@link GemmPlan} refuses any other with {@code aInPlace}), so
     * there is no 5 × 2 twin.
     */
    static void tileRowsA(int kc, float[] a, int ao, int lda, MemorySegment bp, long bo, float alpha, float beta,
                          float[] c, int co, int ldc, int rows, int cols, float[] tile) {
        FloatVector c00 = FloatVector.zero(S); FloatVector c01 = FloatVector.zero(S); FloatVector c02 = FloatVector.zero(S); FloatVector c03 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S); FloatVector c11 = FloatVector.zero(S); FloatVector c12 = FloatVector.zero(S); FloatVector c13 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S); FloatVector c21 = FloatVector.zero(S); FloatVector c22 = FloatVector.zero(S); FloatVector c23 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S); FloatVector c31 = FloatVector.zero(S); FloatVector c32 = FloatVector.zero(S); FloatVector c33 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S); FloatVector c41 = FloatVector.zero(S); FloatVector c42 = FloatVector.zero(S); FloatVector c43 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S); FloatVector c51 = FloatVector.zero(S); FloatVector c52 = FloatVector.zero(S); FloatVector c53 = FloatVector.zero(S);
        // Rows past the edge repeat the last row: their sums are computed and never written.
        int last = Math.max(0, rows - 1);
        int r0 = ao, r1 = ao + Math.min(1, last) * lda, r2 = ao + Math.min(2, last) * lda;
        int r3 = ao + Math.min(3, last) * lda, r4 = ao + Math.min(4, last) * lda, r5 = ao + Math.min(5, last) * lda;
        for (int p = 0; p < kc; p++) {
            long bi = bo + (long) p * NR_BYTES;
            FloatVector b0 = FloatVector.fromMemorySegment(S, bp, bi, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(S, bp, bi + VB, NATIVE);
            FloatVector b2 = FloatVector.fromMemorySegment(S, bp, bi + 2 * VB, NATIVE);
            FloatVector b3 = FloatVector.fromMemorySegment(S, bp, bi + 3 * VB, NATIVE);
            FloatVector a0 = FloatVector.broadcast(S, a[r0 + p]);
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01); c02 = a0.fma(b2, c02); c03 = a0.fma(b3, c03);
            FloatVector a1 = FloatVector.broadcast(S, a[r1 + p]);
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11); c12 = a1.fma(b2, c12); c13 = a1.fma(b3, c13);
            FloatVector a2 = FloatVector.broadcast(S, a[r2 + p]);
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21); c22 = a2.fma(b2, c22); c23 = a2.fma(b3, c23);
            FloatVector a3 = FloatVector.broadcast(S, a[r3 + p]);
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31); c32 = a3.fma(b2, c32); c33 = a3.fma(b3, c33);
            FloatVector a4 = FloatVector.broadcast(S, a[r4 + p]);
            c40 = a4.fma(b0, c40); c41 = a4.fma(b1, c41); c42 = a4.fma(b2, c42); c43 = a4.fma(b3, c43);
            FloatVector a5 = FloatVector.broadcast(S, a[r5 + p]);
            c50 = a5.fma(b0, c50); c51 = a5.fma(b1, c51); c52 = a5.fma(b2, c52); c53 = a5.fma(b3, c53);
        }
        if (rows == MR && cols == NR) {
            FloatVector va = FloatVector.broadcast(S, alpha);
            if (beta == 0f) {
                c00.mul(va).intoArray(c, co); c01.mul(va).intoArray(c, co + L); c02.mul(va).intoArray(c, co + 2 * L); c03.mul(va).intoArray(c, co + 3 * L);
                c10.mul(va).intoArray(c, co + ldc); c11.mul(va).intoArray(c, co + ldc + L); c12.mul(va).intoArray(c, co + ldc + 2 * L); c13.mul(va).intoArray(c, co + ldc + 3 * L);
                c20.mul(va).intoArray(c, co + 2 * ldc); c21.mul(va).intoArray(c, co + 2 * ldc + L); c22.mul(va).intoArray(c, co + 2 * ldc + 2 * L); c23.mul(va).intoArray(c, co + 2 * ldc + 3 * L);
                c30.mul(va).intoArray(c, co + 3 * ldc); c31.mul(va).intoArray(c, co + 3 * ldc + L); c32.mul(va).intoArray(c, co + 3 * ldc + 2 * L); c33.mul(va).intoArray(c, co + 3 * ldc + 3 * L);
                c40.mul(va).intoArray(c, co + 4 * ldc); c41.mul(va).intoArray(c, co + 4 * ldc + L); c42.mul(va).intoArray(c, co + 4 * ldc + 2 * L); c43.mul(va).intoArray(c, co + 4 * ldc + 3 * L);
                c50.mul(va).intoArray(c, co + 5 * ldc); c51.mul(va).intoArray(c, co + 5 * ldc + L); c52.mul(va).intoArray(c, co + 5 * ldc + 2 * L); c53.mul(va).intoArray(c, co + 5 * ldc + 3 * L);
            } else {
                FloatVector vb = FloatVector.broadcast(S, beta);
                c00.fma(va, FloatVector.fromArray(S, c, co).mul(vb)).intoArray(c, co);
                c01.fma(va, FloatVector.fromArray(S, c, co + L).mul(vb)).intoArray(c, co + L);
                c02.fma(va, FloatVector.fromArray(S, c, co + 2 * L).mul(vb)).intoArray(c, co + 2 * L);
                c03.fma(va, FloatVector.fromArray(S, c, co + 3 * L).mul(vb)).intoArray(c, co + 3 * L);
                c10.fma(va, FloatVector.fromArray(S, c, co + ldc).mul(vb)).intoArray(c, co + ldc);
                c11.fma(va, FloatVector.fromArray(S, c, co + ldc + L).mul(vb)).intoArray(c, co + ldc + L);
                c12.fma(va, FloatVector.fromArray(S, c, co + ldc + 2 * L).mul(vb)).intoArray(c, co + ldc + 2 * L);
                c13.fma(va, FloatVector.fromArray(S, c, co + ldc + 3 * L).mul(vb)).intoArray(c, co + ldc + 3 * L);
                c20.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc).mul(vb)).intoArray(c, co + 2 * ldc);
                c21.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc + L).mul(vb)).intoArray(c, co + 2 * ldc + L);
                c22.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc + 2 * L).mul(vb)).intoArray(c, co + 2 * ldc + 2 * L);
                c23.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc + 3 * L).mul(vb)).intoArray(c, co + 2 * ldc + 3 * L);
                c30.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc).mul(vb)).intoArray(c, co + 3 * ldc);
                c31.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc + L).mul(vb)).intoArray(c, co + 3 * ldc + L);
                c32.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc + 2 * L).mul(vb)).intoArray(c, co + 3 * ldc + 2 * L);
                c33.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc + 3 * L).mul(vb)).intoArray(c, co + 3 * ldc + 3 * L);
                c40.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc).mul(vb)).intoArray(c, co + 4 * ldc);
                c41.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc + L).mul(vb)).intoArray(c, co + 4 * ldc + L);
                c42.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc + 2 * L).mul(vb)).intoArray(c, co + 4 * ldc + 2 * L);
                c43.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc + 3 * L).mul(vb)).intoArray(c, co + 4 * ldc + 3 * L);
                c50.fma(va, FloatVector.fromArray(S, c, co + 5 * ldc).mul(vb)).intoArray(c, co + 5 * ldc);
                c51.fma(va, FloatVector.fromArray(S, c, co + 5 * ldc + L).mul(vb)).intoArray(c, co + 5 * ldc + L);
                c52.fma(va, FloatVector.fromArray(S, c, co + 5 * ldc + 2 * L).mul(vb)).intoArray(c, co + 5 * ldc + 2 * L);
                c53.fma(va, FloatVector.fromArray(S, c, co + 5 * ldc + 3 * L).mul(vb)).intoArray(c, co + 5 * ldc + 3 * L);
            }
        } else {
            c00.intoArray(tile, 0); c01.intoArray(tile, L); c02.intoArray(tile, 2 * L); c03.intoArray(tile, 3 * L);
            c10.intoArray(tile, NR); c11.intoArray(tile, NR + L); c12.intoArray(tile, NR + 2 * L); c13.intoArray(tile, NR + 3 * L);
            c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L); c22.intoArray(tile, 2 * NR + 2 * L); c23.intoArray(tile, 2 * NR + 3 * L);
            c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L); c32.intoArray(tile, 3 * NR + 2 * L); c33.intoArray(tile, 3 * NR + 3 * L);
            c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L); c42.intoArray(tile, 4 * NR + 2 * L); c43.intoArray(tile, 4 * NR + 3 * L);
            c50.intoArray(tile, 5 * NR); c51.intoArray(tile, 5 * NR + L); c52.intoArray(tile, 5 * NR + 2 * L); c53.intoArray(tile, 5 * NR + 3 * L);
            writeEdge(tile, alpha, beta, c, co, ldc, rows, cols);
        }
    }

    /**
     * {@link #tile6x4}'s 5 × 2-vector shape for CPUs with 16 vector registers (AVX2): 10 accumulators, two B vectors
     * and the broadcasts C2 schedules ahead fit without a spill. 6 × 2 (12 accumulators) spilled one accumulator to the
     * stack on every step and ran at 43 GFLOP/s in L1 on Zen 3, against 99 for this shape (bench/RESULTS.md).
     */
    private static void tile5x2(int kc, float[] ap, int ao, int aStep, MemorySegment bp, long bo, float alpha, float beta,
                                float[] c, int co, int ldc, int rows, int cols, float[] tile) {
        FloatVector c00 = FloatVector.zero(S); FloatVector c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S); FloatVector c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S); FloatVector c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S); FloatVector c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S); FloatVector c41 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            long bi = bo + (long) p * NR_BYTES; int ai = ao + p * aStep;
            FloatVector b0 = FloatVector.fromMemorySegment(S, bp, bi, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(S, bp, bi + VB, NATIVE);
            FloatVector a0 = FloatVector.broadcast(S, ap[ai]);
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = a4.fma(b0, c40); c41 = a4.fma(b1, c41);
        }
        if (rows == MR && cols == NR) {
            FloatVector va = FloatVector.broadcast(S, alpha);
            if (beta == 0f) {
                c00.mul(va).intoArray(c, co); c01.mul(va).intoArray(c, co + L);
                c10.mul(va).intoArray(c, co + ldc); c11.mul(va).intoArray(c, co + ldc + L);
                c20.mul(va).intoArray(c, co + 2 * ldc); c21.mul(va).intoArray(c, co + 2 * ldc + L);
                c30.mul(va).intoArray(c, co + 3 * ldc); c31.mul(va).intoArray(c, co + 3 * ldc + L);
                c40.mul(va).intoArray(c, co + 4 * ldc); c41.mul(va).intoArray(c, co + 4 * ldc + L);
            } else {
                FloatVector vb = FloatVector.broadcast(S, beta);
                c00.fma(va, FloatVector.fromArray(S, c, co).mul(vb)).intoArray(c, co);
                c01.fma(va, FloatVector.fromArray(S, c, co + L).mul(vb)).intoArray(c, co + L);
                c10.fma(va, FloatVector.fromArray(S, c, co + ldc).mul(vb)).intoArray(c, co + ldc);
                c11.fma(va, FloatVector.fromArray(S, c, co + ldc + L).mul(vb)).intoArray(c, co + ldc + L);
                c20.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc).mul(vb)).intoArray(c, co + 2 * ldc);
                c21.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc + L).mul(vb)).intoArray(c, co + 2 * ldc + L);
                c30.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc).mul(vb)).intoArray(c, co + 3 * ldc);
                c31.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc + L).mul(vb)).intoArray(c, co + 3 * ldc + L);
                c40.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc).mul(vb)).intoArray(c, co + 4 * ldc);
                c41.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc + L).mul(vb)).intoArray(c, co + 4 * ldc + L);
            }
        } else {
            c00.intoArray(tile, 0); c01.intoArray(tile, L);
            c10.intoArray(tile, NR); c11.intoArray(tile, NR + L);
            c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L);
            c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L);
            c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L);
            writeEdge(tile, alpha, beta, c, co, ldc, rows, cols);
        }
    }

    /** Rows of a narrow tile ({@link #narrowTile}). */
    static final int MRN = 8;

    /**
     * One MRN × n tile of C for a product with at most L columns (a LoRA adapter's x · Aᵀ, g · B, gᵀ · h at rank ≤ L):
     * the main tile would compute NR columns to keep n. Eight accumulators of one vector each; every depth step loads
     * one vector of B and broadcasts eight elements of A, read through A's strides where it lies (element (r, p) at
     * a[ao + r·ars + p·acs]), so A is never packed. B comes from {@code bp}: k rows of L floats, zero past column n.
     * Rows past the edge repeat the last row and are not written. The write-back is the main tile's: alpha·acc, or
     * fma(acc, alpha, beta·C).
     */
    static void narrowTile(int k, float[] a, int ao, int ars, int acs, float[] bp, float alpha, float beta,
                           float[] c, int co, int ldc, int rows, int n) {
        FloatVector c0 = FloatVector.zero(S), c1 = FloatVector.zero(S), c2 = FloatVector.zero(S), c3 = FloatVector.zero(S);
        FloatVector c4 = FloatVector.zero(S), c5 = FloatVector.zero(S), c6 = FloatVector.zero(S), c7 = FloatVector.zero(S);
        int last = Math.max(0, rows - 1);
        int r0 = ao, r1 = ao + Math.min(1, last) * ars, r2 = ao + Math.min(2, last) * ars, r3 = ao + Math.min(3, last) * ars;
        int r4 = ao + Math.min(4, last) * ars, r5 = ao + Math.min(5, last) * ars, r6 = ao + Math.min(6, last) * ars;
        int r7 = ao + Math.min(7, last) * ars;
        for (int p = 0, off = 0; p < k; p++, off += acs) {
            FloatVector b = FloatVector.fromArray(S, bp, p * L);
            c0 = FloatVector.broadcast(S, a[r0 + off]).fma(b, c0);
            c1 = FloatVector.broadcast(S, a[r1 + off]).fma(b, c1);
            c2 = FloatVector.broadcast(S, a[r2 + off]).fma(b, c2);
            c3 = FloatVector.broadcast(S, a[r3 + off]).fma(b, c3);
            c4 = FloatVector.broadcast(S, a[r4 + off]).fma(b, c4);
            c5 = FloatVector.broadcast(S, a[r5 + off]).fma(b, c5);
            c6 = FloatVector.broadcast(S, a[r6 + off]).fma(b, c6);
            c7 = FloatVector.broadcast(S, a[r7 + off]).fma(b, c7);
        }
        VectorMask<Float> m = S.indexInRange(0, n);
        FloatVector va = FloatVector.broadcast(S, alpha);
        if (beta == 0f) {
            c0.mul(va).intoArray(c, co, m);
            if (rows > 1) c1.mul(va).intoArray(c, co + ldc, m);
            if (rows > 2) c2.mul(va).intoArray(c, co + 2 * ldc, m);
            if (rows > 3) c3.mul(va).intoArray(c, co + 3 * ldc, m);
            if (rows > 4) c4.mul(va).intoArray(c, co + 4 * ldc, m);
            if (rows > 5) c5.mul(va).intoArray(c, co + 5 * ldc, m);
            if (rows > 6) c6.mul(va).intoArray(c, co + 6 * ldc, m);
            if (rows > 7) c7.mul(va).intoArray(c, co + 7 * ldc, m);
        } else {
            FloatVector vb = FloatVector.broadcast(S, beta);
            c0.fma(va, FloatVector.fromArray(S, c, co, m).mul(vb)).intoArray(c, co, m);
            if (rows > 1) c1.fma(va, FloatVector.fromArray(S, c, co + ldc, m).mul(vb)).intoArray(c, co + ldc, m);
            if (rows > 2) c2.fma(va, FloatVector.fromArray(S, c, co + 2 * ldc, m).mul(vb)).intoArray(c, co + 2 * ldc, m);
            if (rows > 3) c3.fma(va, FloatVector.fromArray(S, c, co + 3 * ldc, m).mul(vb)).intoArray(c, co + 3 * ldc, m);
            if (rows > 4) c4.fma(va, FloatVector.fromArray(S, c, co + 4 * ldc, m).mul(vb)).intoArray(c, co + 4 * ldc, m);
            if (rows > 5) c5.fma(va, FloatVector.fromArray(S, c, co + 5 * ldc, m).mul(vb)).intoArray(c, co + 5 * ldc, m);
            if (rows > 6) c6.fma(va, FloatVector.fromArray(S, c, co + 6 * ldc, m).mul(vb)).intoArray(c, co + 6 * ldc, m);
            if (rows > 7) c7.fma(va, FloatVector.fromArray(S, c, co + 7 * ldc, m).mul(vb)).intoArray(c, co + 7 * ldc, m);
        }
    }

    /** Same arithmetic as the vector write-back: alpha·acc, or fma(acc, alpha, beta·C). */
    private static void writeEdge(float[] tile, float alpha, float beta, float[] c, int co, int ldc, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int ci = co + r * ldc, ti = r * NR;
            if (beta == 0f) {
                for (int j = 0; j < cols; j++) c[ci + j] = tile[ti + j] * alpha;
            } else {
                for (int j = 0; j < cols; j++) c[ci + j] = Math.fma(tile[ti + j], alpha, c[ci + j] * beta);
            }
        }
    }
}
