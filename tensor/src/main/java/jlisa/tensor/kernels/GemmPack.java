package jlisa.tensor.kernels;

import static jlisa.tensor.kernels.GemmKernel.L;
import static jlisa.tensor.kernels.GemmKernel.MR;
import static jlisa.tensor.kernels.GemmKernel.NATIVE;
import static jlisa.tensor.kernels.GemmKernel.NR;
import static jlisa.tensor.kernels.GemmKernel.S;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import jdk.incubator.vector.FloatVector;

import jlisa.tensor.DType;

/**
 * Packing for {@link Gemm}: copies a block of op(A) or op(B), read through its strides, into the contiguous
 * micro-panel order the microkernel streams, zero-padding the last micro-panel.
 *
 * <ul>
 *   <li>A block (mcb × kcb) → micro-panels of MR rows; element (r, p) of panel ir at ir·kcb + p·MR + r.</li>
 *   <li>B panel (kcb × ncb) → micro-panels of NR columns; element (p, j) of panel jr at jr·kcb + p·NR + j, in
 *       native memory aligned to 64 bytes (see {@link GemmKernel}).</li>
 * </ul>
 * {@link Gemm} reads an array A with a unit stride in place and packs only the rest: other strides, a transposed A
 * whose rows lie too far apart ({@link Gemm#IN_PLACE_SPAN}) and the zero-padded last micro-panel of one read in
 * place, and segments (read element by element: packing is O(size), the
 * multiply O(size^1.5)). B is always packed; its array path has fast cases for row-major and transposed B.
 */
final class GemmPack {
    private GemmPack() {}

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** The packed B panel's elements: native order, aligned (the panel is allocated 64-byte aligned). */
    private static final ValueLayout.OfFloat PANEL = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Packs A from whichever of {@code arr} and {@code seg} is not null (base in elements). */
    static void packA(float[] arr, MemorySegment seg, long base, int rs, int cs, int mcb, int kcb, float[] ap) {
        if (arr != null) packA(arr, (int) base, rs, cs, mcb, kcb, ap);
        else packA(seg, base, rs, cs, mcb, kcb, ap);
    }

    /** Packs B from whichever of {@code arr} and {@code seg} (F32, or BF16 bits with {@code bf16}) is not null. */
    static void packB(float[] arr, MemorySegment seg, boolean bf16, long base, int rs, int cs, int kcb, int ncb,
                      MemorySegment bp) {
        if (arr != null) packB(arr, (int) base, rs, cs, kcb, ncb, bp);
        else packB(seg, bf16, base, rs, cs, kcb, ncb, bp);
    }

    /** Packs A[i, p] = a[base + i·rs + p·cs], i < mcb, p < kcb. */
    static void packA(float[] a, int base, int rs, int cs, int mcb, int kcb, float[] ap) {
        if (rs == 1) {
            packTransposedA(a, base, cs, mcb, kcb, ap);
            return;
        }
        if (cs == 1) {
            packRowMajorA(a, base, rs, mcb, kcb, ap);
            return;
        }
        for (int ir = 0; ir < mcb; ir += MR) {
            int rows = Math.min(MR, mcb - ir), dst = ir * kcb, src = base + ir * rs;
            for (int p = 0; p < kcb; p++) {
                int d = dst + p * MR, s = src + p * cs;
                for (int r = 0; r < rows; r++) ap[d + r] = a[s + r * rs];
                for (int r = rows; r < MR; r++) ap[d + r] = 0f;
            }
        }
    }

    /**
     * A row-major A (packed where the plan does not read it in place: the 5 × 2 kernel): each row of a micro-panel is
     * read as one contiguous run and dealt out MR apart. Reading the panel's MR rows side by side for each p instead
     * (the general loop) measured about half as fast, 1.2–2.7 against 0.4–1.2 ns a float on Zen 3.
     */
    private static void packRowMajorA(float[] a, int base, int lda, int mcb, int kcb, float[] ap) {
        for (int ir = 0; ir < mcb; ir += MR) {
            int rows = Math.min(MR, mcb - ir), dst = ir * kcb;
            for (int r = 0; r < MR; r++) {
                int d = dst + r;
                if (r < rows) {
                    int src = base + (ir + r) * lda;
                    for (int p = 0; p < kcb; p++) ap[d + p * MR] = a[src + p];
                } else {
                    for (int p = 0; p < kcb; p++) ap[d + p * MR] = 0f;
                }
            }
        }
    }

    /**
     * A stored transposed (unit row stride, e.g. xᵀ in dW = xᵀ·dy): for each p the block's mcb elements are one
     * contiguous run. The depth is taken {@value #DEPTH_BLOCK} steps at a time, and within such a block panel by panel,
     * so each panel's writes stay together while the reads are {@value #DEPTH_BLOCK} sequential streams. One p at a
     * time across all panels (writes kcb·MR floats apart) measured 1.14–1.17 ns a float on Zen 3, this 0.51–0.73;
     * panel by panel over the whole depth (each p a different cache line per MR floats) was 8.6 % of a d6 step on Zen 4.
     */
    private static void packTransposedA(float[] a, int base, int cs, int mcb, int kcb, float[] ap) {
        int full = mcb - mcb % MR;
        for (int p0 = 0; p0 < kcb; p0 += DEPTH_BLOCK) {
            int p1 = Math.min(kcb, p0 + DEPTH_BLOCK);
            for (int ir = 0; ir < full; ir += MR) {
                for (int p = p0; p < p1; p++) {
                    int d = ir * kcb + p * MR, si = base + p * cs + ir;
                    for (int r = 0; r < MR; r++) ap[d + r] = a[si + r];   // MR is a constant: C2 unrolls this
                }
            }
            if (full < mcb) {
                for (int p = p0; p < p1; p++) {
                    int d = full * kcb + p * MR, s = base + p * cs;
                    for (int r = 0; r < MR; r++) ap[d + r] = full + r < mcb ? a[s + full + r] : 0f;
                }
            }
        }
    }

    /** Depth steps per block of {@link #packTransposedA}. */
    private static final int DEPTH_BLOCK = 16;

    /**
     * Packs B[p, j] = b[base + p·rs + j·cs], p < kcb, j < ncb, into {@code bp} (the kernel's aligned native panel,
     * element index = float offset).
     */
    static void packB(float[] b, int base, int rs, int cs, int kcb, int ncb, MemorySegment bp) {
        for (int jr = 0; jr < ncb; jr += NR) {
            int cols = Math.min(NR, ncb - jr), dst = jr * kcb, src = base + jr * cs;
            if (cols == NR && cs == 1) {
                for (int p = 0; p < kcb; p++) MemorySegment.copy(b, src + p * rs, bp, PANEL, 4L * (dst + p * NR), NR);
            } else if (cols == NR && rs == 1) {
                // A transposed B (NT: B stored n × k, a weight in dx = dy·W): each column of the panel is a run of b.
                // One gather takes element p of L such runs and one aligned store writes them as a row of the panel:
                // element by element (a store per float into rows 4·NR bytes apart) this took 2.1 ms for a 1024 ×
                // 1024 B on Ice Lake, an eighth of the product.
                int[] runs = new int[L];
                for (int l = 0; l < L; l++) runs[l] = l * cs;
                for (int jv = 0; jv < NR; jv += L) gatherRuns(b, src + jv * cs, runs, kcb, bp, dst + jv);
            } else {
                for (int p = 0; p < kcb; p++) {
                    int d = dst + p * NR, s = src + p * rs;
                    for (int j = 0; j < cols; j++) bp.setAtIndex(PANEL, d + j, b[s + j * cs]);
                    for (int j = cols; j < NR; j++) bp.setAtIndex(PANEL, d + j, 0f);
                }
            }
        }
    }

    /** Segment version of {@link #packA(float[], int, int, int, int, int, float[])}; base in elements. */
    static void packA(MemorySegment a, long base, int rs, int cs, int mcb, int kcb, float[] ap) {
        for (int ir = 0; ir < mcb; ir += MR) {
            int rows = Math.min(MR, mcb - ir), dst = ir * kcb;
            long src = base + (long) ir * rs;
            for (int p = 0; p < kcb; p++) {
                int d = dst + p * MR;
                long s = src + (long) p * cs;
                for (int r = 0; r < rows; r++) ap[d + r] = a.getAtIndex(F32, s + (long) r * rs);
                for (int r = rows; r < MR; r++) ap[d + r] = 0f;
            }
        }
    }

    /**
     * Segment version of {@link #packB(float[], int, int, int, int, int, MemorySegment)}, base in elements, F32 or
     * (with {@code bf16}) bfloat16 bits widened as they are packed. Runs of B that are contiguous in the segment — a
     * row of NR columns, or a weight's column over the block's depth (B = Wᵀ) — are copied in bulk first: reading
     * them element by element paid a bounds check per float.
     */
    static void packB(MemorySegment b, boolean bf16, long base, int rs, int cs, int kcb, int ncb, MemorySegment bp) {
        long esize = bf16 ? 2 : 4;
        float[] run = new float[Math.max(kcb, NR)];
        short[] bits = bf16 ? new short[run.length] : null;
        float[] stage = null;
        int[] runs = null;
        for (int jr = 0; jr < ncb; jr += NR) {
            int cols = Math.min(NR, ncb - jr), dst = jr * kcb;
            long src = base + (long) jr * cs;
            if (cols == NR && cs == 1) {
                for (int p = 0; p < kcb; p++) {
                    long at = (src + (long) p * rs) * esize, to = 4L * (dst + p * NR);
                    if (bf16) {
                        read(b, true, at, NR, bits, run, 0);
                        MemorySegment.copy(run, 0, bp, PANEL, to, NR);
                    } else {
                        MemorySegment.copy(b, F32, at, bp, PANEL, to, NR);
                    }
                }
            } else if (rs == 1) {
                // As the array's transposed case: L runs (zeros past the last column) copied out in bulk, then one
                // gather and one aligned store per depth step.
                if (stage == null) {
                    stage = new float[L * kcb];
                    runs = new int[L];
                    for (int l = 0; l < L; l++) runs[l] = l * kcb;
                }
                for (int jv = 0; jv < NR; jv += L) {
                    for (int l = 0; l < L; l++) {
                        long at = (src + (long) (jv + l) * cs) * esize;
                        if (jv + l < cols) read(b, bf16, at, kcb, bits, stage, l * kcb);
                        else Arrays.fill(stage, l * kcb, (l + 1) * kcb, 0f);
                    }
                    gatherRuns(stage, 0, runs, kcb, bp, dst + jv);
                }
            } else {
                for (int p = 0; p < kcb; p++) {
                    int d = dst + p * NR;
                    long s = src + (long) p * rs;
                    for (int j = 0; j < cols; j++) {
                        long at = s + (long) j * cs;
                        float v = bf16 ? DType.bf16ToFloat(b.getAtIndex(BF16, at)) : b.getAtIndex(F32, at);
                        bp.setAtIndex(PANEL, d + j, v);
                    }
                    for (int j = cols; j < NR; j++) bp.setAtIndex(PANEL, d + j, 0f);
                }
            }
        }
    }

    /**
     * Element p of L runs of {@code src} (run l starts at {@code from + runs[l]}) as one vector, for p < kcb, stored
     * at float {@code to + p·NR} of the panel: L columns of a B micro-panel from L contiguous columns of B.
     */
    private static void gatherRuns(float[] src, int from, int[] runs, int kcb, MemorySegment bp, int to) {
        for (int p = 0; p < kcb; p++)
            FloatVector.fromArray(S, src, from + p, runs, 0).intoMemorySegment(bp, 4L * (to + p * NR), NATIVE);
    }

    /** {@code count} floats from byte {@code at} of {@code b} (F32, or BF16 widened through {@code bits}) into dst[off..]. */
    private static void read(MemorySegment b, boolean bf16, long at, int count, short[] bits, float[] dst, int off) {
        if (!bf16) {
            MemorySegment.copy(b, F32, at, dst, off, count);
            return;
        }
        MemorySegment.copy(b, BF16, at, bits, 0, count);
        for (int i = 0; i < count; i++) dst[off + i] = DType.bf16ToFloat(bits[i]);
    }
}
