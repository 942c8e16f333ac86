package jlisa.tensor.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import jlisa.tensor.DType;
import jlisa.tensor.HeapStorage;
import jlisa.tensor.Parallel;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Tensor;

/**
 * Products of a few rows with a weight matrix, the shape of decoding: C (m × n) = alpha · A (m × k) · B (k × n)
 * + beta · C for m ≤ {@link #MAX_ROWS}, with B a weight read where it lies — a Java array or a (memory-mapped)
 * segment, F32 or BF16 — and never packed or copied. Decoding reads every weight once per token and does two flops
 * per weight read, so its speed is memory bandwidth; packing B for a GEMM (what {@link Gemm} does) would read it
 * twice and write it once.
 *
 * <p>Two layouts of B, the two ways models store weights:
 * <ul>
 *   <li><b>rows</b> (B = Wᵀ for W (n × k) row-major, torch.nn.Linear's (out, in)): each C element is the dot product
 *       of an A row with a W row; {@link #dotRows} streams two W rows at once, half the range apart (four a quarter
 *       apart for BF16), against the A row, which stays in L1.</li>
 *   <li><b>columns</b> (B (k × n) row-major, GPT-2's Conv1D (in, out)): {@link #axpyColumns} adds A[i, p] · B[p, :]
 *       into an accumulator row for p = 0, 1, …, streaming B row by row.</li>
 * </ul>
 * BF16 elements are widened to F32 as they are loaded (the top half of a float32), and every sum is F32. Threads
 * split the n outputs into contiguous chunks; each output is computed by one thread in one fixed order, so results
 * do not depend on the thread count.
 *
 * <p>Heap F32 weights have kernels of their own, on the float[] (see {@link #multiply} for why).
 *
 * <p>Stateless; safe to call from any thread on outputs no other thread touches.
 */
final class MatVec {
    private MatVec() {}

    /** Most rows of A this path takes; beyond it a packed GEMM, which reuses each B element across rows, wins. */
    static final int MAX_ROWS = Integer.getInteger("jlisa.matvec.rows", 4);

    /**
     * 256-bit vectors even where the CPU has 512: these loops stream from memory, and on Zen 4 (AVX-512 executed as
     * two 256-bit halves) 512-bit loads read it slower — one W row at a time at 11.3 GB/s against 24.3, four rows a
     * quarter apart at 15.8 against 19.2 (k = 2048, jlisa.bench.RowStreams, one thread; bench/RESULTS.md). The
     * arithmetic is two flops per four bytes read either way, far below what either width can do.
     */
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.vectorBitSize() > 256
            ? FloatVector.SPECIES_256 : FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();   // package-private: the tests build their expected bits from it
    /** L bf16 values: half of F's bits, widened lane for lane to F's shape. */
    private static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfShort BF16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    /** Bytes of B a thread should stream at least before another thread is worth waking (~10 µs of reading). */
    private static final long MIN_BYTES_PER_TASK = 1L << 17;

    /**
     * True when this path takes {@code a · b → c}: all three 2-D, m ≤ {@link #MAX_ROWS}, c a dense F32 heap tensor,
     * a F32 on the heap, and b F32 or BF16 (heap, or a segment in little-endian order) in the rows or columns layout.
     */
    static boolean takes(Tensor a, Tensor b, Tensor c) {
        if (a.dim() != 2 || b.dim() != 2 || c.dim() != 2 || a.size(0) > MAX_ROWS || a.size(1) == 0) return false;
        if (c.dtype() != DType.F32 || !(c.storage() instanceof HeapStorage) || !c.isDense()) return false;
        if (a.dtype() != DType.F32 || !(a.storage() instanceof HeapStorage)) return false;
        if (b.dtype() != DType.F32 && b.dtype() != DType.BF16) return false;
        boolean stored = b.storage() instanceof HeapStorage || (b.storage() instanceof SegmentStorage s && s.isNativeOrder());
        return stored && (b.stride(0) == 1 || b.stride(1) == 1);
    }

    /** c = alpha · a · b + beta · c for operands {@link #takes} accepts. */
    static void multiply(float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        int m = a.size(0), k = a.size(1), n = b.size(1);
        float[] x = new float[m * k];   // A dense: a few rows, copied once so the kernels read it with unit stride
        float[] av = a.floatArray();
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) x[i * k + p] = av[a.offset() + i * a.stride(0) + p * a.stride(1)];
        }
        boolean bf16 = b.dtype() == DType.BF16;
        int esize = bf16 ? 2 : 4;
        // A heap F32 weight (a model built or trained in memory) has kernels of its own on the float[]: run through
        // the segment kernels as a heap segment, it made their segment accesses see three classes (heap, mapped,
        // off-heap), and C2 then stops inlining the vector loads: decoding ran at half speed (measured).
        float[] array = !bf16 && b.storage() instanceof HeapStorage h ? h.floats() : null;
        MemorySegment w = array == null ? segmentOf(b) : null;
        long base = (long) b.offset() * esize;
        Output out = new Output(alpha, beta, c.floatArray(), c.offset(), n);
        if (b.stride(0) == 1 && (b.stride(1) != 1 || n == 1)) {   // rows: B(p, j) = W[j, p] at j·ld + p
            int ldElements = b.stride(1);
            long ld = (long) ldElements * esize;
            int grain = (int) Math.max(4, MIN_BYTES_PER_TASK / Math.max(1, (long) k * esize));
            Parallel.forRange(0, n, grain, (lo, hi) -> {
                if (array != null) dotRows(array, b.offset(), ldElements, x, m, k, lo, hi, out);
                else if (bf16) dotRowsBf16(w, base, ld, x, m, k, lo, hi, out);
                else dotRows(w, base, ld, x, m, k, lo, hi, out);
            });
        } else {                                                   // columns: B(p, j) at p·ld + j
            int ldElements = b.stride(0);
            long ld = (long) ldElements * esize;
            int vectors = (n + L - 1) / L;
            int grain = (int) Math.max(1, MIN_BYTES_PER_TASK / Math.max(1, (long) k * L * esize));
            Parallel.forRange(0, vectors, grain, (lo, hi) -> {
                if (array != null) axpyColumns(array, b.offset(), ldElements, x, m, k, lo * L, Math.min(n, hi * L), out);
                else axpyColumns(w, base, ld, bf16, x, m, k, lo * L, Math.min(n, hi * L), out);
            });
        }
    }

    /** Where results go: C[i, j] = alpha · sum + beta · C[i, j] (beta 0 overwrites, ignoring NaNs in the old C). */
    private record Output(float alpha, float beta, float[] y, int off, int ld) {
        void put(int i, int j, float sum) {
            int at = off + i * ld + j;
            y[at] = beta == 0f ? alpha * sum : alpha * sum + beta * y[at];
        }
    }

    /** B's elements as a segment: the mapped or off-heap one, or a view of a heap BF16 array (heap F32 has its own kernels). */
    private static MemorySegment segmentOf(Tensor b) {
        if (b.storage() instanceof SegmentStorage s) return s.segment();
        return MemorySegment.ofArray(((HeapStorage) b.storage()).bf16Bits());
    }

    /**
     * Sum of the lanes in lane order, as {@link Softmax#sumLanes} but for this class's species: a vector of another
     * shape passed to that one makes its call sites see two vector classes, and C2 then boxes them (decoding ran
     * four times slower, measured).
     */
    private static float sumLanes(FloatVector v) {
        float s = 0f;
        for (int k = 0; k < L; k++) s += v.lane(k);
        return s;
    }

    // ------------------------------------------------------------------------------------------ rows layout

    /**
     * C[i, j] for j in [j0, j1): the dot product of x row i with W row j (F32 at byte w0 + j·ld). Two W rows share
     * each load of x; each row has its own vector accumulator, reduced once, then the k mod L tail is added. The two
     * rows are half the range apart (j and j + h for h half the range), so the loop reads two long sequential
     * streams, which the hardware prefetchers follow. Adjacent rows of a short-row matrix read as streams of a few
     * cache lines each, restarted every row: SmolLM's 576-wide rows streamed from memory at 6.8 GB/s four adjacent
     * rows at a time and at 13.0 GB/s four a quarter apart (a plain sum 10.9; jlisa.bench.RowStreams, Zen 3, one
     * thread). On Zen 4 two rows half apart read faster than four a quarter apart where the rows are long — k = 2048
     * 27.8–28.1 against 17.3–22.1 GB/s, 5632 20.2 against 16.2, a plain sum 26–28 — and about as fast at 576 (21.7
     * against 25.7 in one run, 30.8 against 22.9 in the next; bench/RESULTS.md): fewer streams for the prefetchers to
     * follow, and two accumulator chains are enough at memory speed. The row after the last pair runs alone, in the
     * same order of operations. (Peeling each row to a 64-byte boundary, since a mapped checkpoint's rows usually
     * start off one, made it slower, measured: the scalar head cost more than the loads that span two cache lines.)
     */
    static void dotRows(MemorySegment w, long w0, long ld, float[] x, int m, int k, int j0, int j1, Output out) {
        int kv = k - k % L, half = (j1 - j0) / 2;
        long apart = half * ld;
        for (int j = j0; j < j0 + half; j++) {   // two long streams: rows j and j + h
            long r0 = w0 + j * ld, r1 = r0 + apart;
            for (int i = 0; i < m; i++) {
                int xi = i * k;
                FloatVector a0 = FloatVector.zero(F), a1 = a0;
                for (int p = 0; p < kv; p += L) {
                    FloatVector xv = FloatVector.fromArray(F, x, xi + p);
                    long q = 4L * p;
                    a0 = FloatVector.fromMemorySegment(F, w, r0 + q, LE).fma(xv, a0);
                    a1 = FloatVector.fromMemorySegment(F, w, r1 + q, LE).fma(xv, a1);
                }
                out.put(i, j, tailF32(w, r0, x, xi, kv, k, sumLanes(a0)));
                out.put(i, j + half, tailF32(w, r1, x, xi, kv, k, sumLanes(a1)));
            }
        }
        for (int j = j0 + 2 * half; j < j1; j++) {
            long r0 = w0 + j * ld;
            for (int i = 0; i < m; i++) {
                int xi = i * k;
                FloatVector a0 = FloatVector.zero(F);
                for (int p = 0; p < kv; p += L) {
                    a0 = FloatVector.fromMemorySegment(F, w, r0 + 4L * p, LE).fma(FloatVector.fromArray(F, x, xi + p), a0);
                }
                out.put(i, j, tailF32(w, r0, x, xi, kv, k, sumLanes(a0)));
            }
        }
    }

    private static float tailF32(MemorySegment w, long row, float[] x, int xi, int from, int k, float sum) {
        for (int p = from; p < k; p++) sum = Math.fma(w.get(F32_LE, row + 4L * p), x[xi + p], sum);
        return sum;
    }

    /** {@link #dotRows(MemorySegment, long, long, float[], int, int, int, int, Output)} for a heap F32 W at w[w0 + j·ld]. */
    static void dotRows(float[] w, int w0, int ld, float[] x, int m, int k, int j0, int j1, Output out) {
        int kv = k - k % L, half = (j1 - j0) / 2, apart = half * ld;
        for (int j = j0; j < j0 + half; j++) {
            int r0 = w0 + j * ld, r1 = r0 + apart;
            for (int i = 0; i < m; i++) {
                int xi = i * k;
                FloatVector a0 = FloatVector.zero(F), a1 = a0;
                for (int p = 0; p < kv; p += L) {
                    FloatVector xv = FloatVector.fromArray(F, x, xi + p);
                    a0 = FloatVector.fromArray(F, w, r0 + p).fma(xv, a0);
                    a1 = FloatVector.fromArray(F, w, r1 + p).fma(xv, a1);
                }
                out.put(i, j, tail(w, r0, x, xi, kv, k, sumLanes(a0)));
                out.put(i, j + half, tail(w, r1, x, xi, kv, k, sumLanes(a1)));
            }
        }
        for (int j = j0 + 2 * half; j < j1; j++) {
            int r0 = w0 + j * ld;
            for (int i = 0; i < m; i++) {
                int xi = i * k;
                FloatVector a0 = FloatVector.zero(F);
                for (int p = 0; p < kv; p += L) a0 = FloatVector.fromArray(F, w, r0 + p).fma(FloatVector.fromArray(F, x, xi + p), a0);
                out.put(i, j, tail(w, r0, x, xi, kv, k, sumLanes(a0)));
            }
        }
    }

    private static float tail(float[] w, int row, float[] x, int xi, int from, int k, float sum) {
        for (int p = from; p < k; p++) sum = Math.fma(w[row + p], x[xi + p], sum);
        return sum;
    }

    /**
     * {@link #dotRows} for BF16 W (byte w0 + j·ld), widened as loaded: 2 bytes a weight instead of 4. Four rows a
     * quarter apart here, not two: the widening needs more independent chains to overlap with (on Zen 4 one row at a
     * time ran a quarter slower than four, and two rows no faster, on SmolLM two threads slower: bench/RESULTS.md).
     */
    static void dotRowsBf16(MemorySegment w, long w0, long ld, float[] x, int m, int k, int j0, int j1, Output out) {
        int kv = k - k % L, quarter = (j1 - j0) / 4;
        long apart = quarter * ld;
        for (int j = j0; j < j0 + quarter; j++) {
            long r0 = w0 + j * ld, r1 = r0 + apart, r2 = r1 + apart, r3 = r2 + apart;
            for (int i = 0; i < m; i++) {
                int xi = i * k;
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                for (int p = 0; p < kv; p += L) {
                    FloatVector xv = FloatVector.fromArray(F, x, xi + p);
                    long q = 2L * p;
                    a0 = bf16(w, r0 + q).fma(xv, a0);
                    a1 = bf16(w, r1 + q).fma(xv, a1);
                    a2 = bf16(w, r2 + q).fma(xv, a2);
                    a3 = bf16(w, r3 + q).fma(xv, a3);
                }
                out.put(i, j, tailBf16(w, r0, x, xi, kv, k, sumLanes(a0)));
                out.put(i, j + quarter, tailBf16(w, r1, x, xi, kv, k, sumLanes(a1)));
                out.put(i, j + 2 * quarter, tailBf16(w, r2, x, xi, kv, k, sumLanes(a2)));
                out.put(i, j + 3 * quarter, tailBf16(w, r3, x, xi, kv, k, sumLanes(a3)));
            }
        }
        for (int j = j0 + 4 * quarter; j < j1; j++) {
            long r0 = w0 + j * ld;
            for (int i = 0; i < m; i++) {
                int xi = i * k;
                FloatVector a0 = FloatVector.zero(F);
                for (int p = 0; p < kv; p += L) a0 = bf16(w, r0 + 2L * p).fma(FloatVector.fromArray(F, x, xi + p), a0);
                out.put(i, j, tailBf16(w, r0, x, xi, kv, k, sumLanes(a0)));
            }
        }
    }

    private static float tailBf16(MemorySegment w, long row, float[] x, int xi, int from, int k, float sum) {
        for (int p = from; p < k; p++) sum = Math.fma(DType.bf16ToFloat(w.get(BF16_LE, row + 2L * p)), x[xi + p], sum);
        return sum;
    }

    /** L bf16 values at byte {@code at}, widened to floats: each 16 bits become the top half of a float32. */
    private static FloatVector bf16(MemorySegment w, long at) {
        return ((IntVector) ShortVector.fromMemorySegment(H, w, at, LE).convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    // --------------------------------------------------------------------------------------- columns layout

    /**
     * C[i, j] for j in [j0, j1): sum over p of x[i, p] · B[p, j], B's row p at byte w0 + p·ld (F32 or BF16). Rows of B
     * stream in order; the m partial rows of C live in a small accumulator that stays in L1.
     */
    static void axpyColumns(MemorySegment w, long w0, long ld, boolean bf16, float[] x, int m, int k, int j0, int j1,
                            Output out) {
        int width = j1 - j0, wv = width - width % L;
        float[] acc = new float[m * width];
        for (int p = 0; p < k; p++) {
            long row = w0 + p * ld + (long) j0 * (bf16 ? 2 : 4);
            for (int i = 0; i < m; i++) {
                float xs = x[i * k + p];
                FloatVector xv = FloatVector.broadcast(F, xs);
                int ai = i * width;
                if (bf16) {
                    for (int v = 0; v < wv; v += L) {
                        bf16(w, row + 2L * v).fma(xv, FloatVector.fromArray(F, acc, ai + v)).intoArray(acc, ai + v);
                    }
                    for (int v = wv; v < width; v++) {
                        acc[ai + v] = Math.fma(DType.bf16ToFloat(w.get(BF16_LE, row + 2L * v)), xs, acc[ai + v]);
                    }
                } else {
                    for (int v = 0; v < wv; v += L) {
                        FloatVector.fromMemorySegment(F, w, row + 4L * v, LE).fma(xv, FloatVector.fromArray(F, acc, ai + v))
                                .intoArray(acc, ai + v);
                    }
                    for (int v = wv; v < width; v++) acc[ai + v] = Math.fma(w.get(F32_LE, row + 4L * v), xs, acc[ai + v]);
                }
            }
        }
        for (int i = 0; i < m; i++) for (int v = 0; v < width; v++) out.put(i, j0 + v, acc[i * width + v]);
    }

    /** {@link #axpyColumns(MemorySegment, long, long, boolean, float[], int, int, int, int, Output)} for a heap F32 B. */
    static void axpyColumns(float[] w, int w0, int ld, float[] x, int m, int k, int j0, int j1, Output out) {
        int width = j1 - j0, wv = width - width % L;
        float[] acc = new float[m * width];
        for (int p = 0; p < k; p++) {
            int row = w0 + p * ld + j0;
            for (int i = 0; i < m; i++) {
                float xs = x[i * k + p];
                FloatVector xv = FloatVector.broadcast(F, xs);
                int ai = i * width;
                for (int v = 0; v < wv; v += L) {
                    FloatVector.fromArray(F, w, row + v).fma(xv, FloatVector.fromArray(F, acc, ai + v)).intoArray(acc, ai + v);
                }
                for (int v = wv; v < width; v++) acc[ai + v] = Math.fma(w[row + v], xs, acc[ai + v]);
            }
        }
        for (int i = 0; i < m; i++) for (int v = 0; v < width; v++) out.put(i, j0 + v, acc[i * width + v]);
    }
}
