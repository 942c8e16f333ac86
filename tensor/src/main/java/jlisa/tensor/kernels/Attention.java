package jlisa.tensor.kernels;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.DType;
import jlisa.tensor.Parallel;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * Causal scaled-dot-product attention with grouped key/value heads, flash-attention style.
 *
 * <pre>
 *   q: (B, H, Tq, D)   k, v: (B, Hkv, Tk, D)   H % Hkv == 0, Tq ≤ Tk
 *   query head h reads kv head h / (H / Hkv)          (Hkv == H: multi-head, Hkv == 1: multi-query)
 *   query row i sits at position p = Tk − Tq + i and sees keys 0..p   (Tq == Tk: plain causal; Tq &lt; Tk: KV-cache decode)
 *   S = q·kᵀ·scale (+ causal mask)   lse_i = log Σ_j exp S_ij   out = exp(S − lse)·v
 * </pre>
 *
 * The F32 kernels never hold a Tq×Tk score matrix: each (b, h) walks tiles of {@value #BQ} query rows, streams
 * over tiles of {@value #BK} keys with an online softmax (running max and sum) and keeps only the log-sum-exp per
 * query row for the backward pass, which recomputes the probabilities tile by tile. Score tiles are stored
 * transposed (keys × queries), so each vector holds {@code L} query rows and the softmax bookkeeping is lanewise; the
 * five tile products per step run through one small register-blocked {@code gemm} that reads either operand layout
 * in place. exp is a fixed polynomial, so the bits never depend on the JIT. The F64 kernels are plain loops (one
 * score row at a time) for gradcheck and references.
 *
 * <p>Deterministic for any thread count: the forward pass gives each (b, h) to one task; the backward pass gives
 * each (b, kv head) to one task, which loops over the query heads of its group in order, so dk and dv are summed in
 * a fixed order and dq of each query head is written by one task.
 */
public final class Attention {
    static { jlisa.tensor.Jit.c2Only("jlisa/tensor/kernels/Attention.*"); }   // see Jit: C1 can trap the tiles

    private Attention() {}

    /** Query rows per tile: the lanes of the transposed score tiles, a multiple of 2·L (two vectors per gemm step). */
    static final int BQ = 32;
    /** Keys per tile. */
    static final int BK = 64;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    /** 1/√D, the usual scale. */
    public static double defaultScale(int headDim) { return 1.0 / Math.sqrt(headDim); }

    // ================================================================ tensor API

    /** The attention output (B, H, Tq, D) and the log-sum-exp of each query row (B, H, Tq), kept for backward. */
    public record Result(Tensor out, Tensor lse) {}

    /** Gradients of q (B, H, Tq, D), k and v (B, Hkv, Tk, D). */
    public record Grads(Tensor dq, Tensor dk, Tensor dv) {}

    /** Causal attention with the default scale 1/√D. */
    public static Result forward(Tensor q, Tensor k, Tensor v) {
        return forward(q, k, v, defaultScale(q.dim() == 4 ? q.size(3) : 1));
    }

    /**
     * Causal attention of q (B, H, Tq, D) over k, v (B, Hkv, Tk, D), any layout, F32 or F64 (BF16 computes in F32);
     * outputs are new contiguous tensors of the compute dtype.
     */
    public static Result forward(Tensor q, Tensor k, Tensor v, double scale) {
        checkInputs(q, k, v);
        DType dtype = computeType("attention", q, k, v);
        int[] qs = q.shape(), ks = k.shape();
        int B = qs[0], H = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2];
        Tensor out = Tensor.zeros(dtype, B, H, Tq, D);
        Tensor lse = Tensor.zeros(dtype, B, H, Tq);
        Tensor qd = flat(q, dtype), kd = flat(k, dtype), vd = flat(v, dtype);
        if (dtype == DType.F32) {
            forward(out.floatArray(), lse.floatArray(), qd.floatArray(), kd.floatArray(), vd.floatArray(),
                    B, H, Hkv, Tq, Tk, D, (float) scale);
        } else {
            forward(out.doubleArray(), lse.doubleArray(), qd.doubleArray(), kd.doubleArray(), vd.doubleArray(),
                    B, H, Hkv, Tq, Tk, D, scale);
        }
        return new Result(out, lse);
    }

    /** Backward of {@link #forward(Tensor, Tensor, Tensor, double)} given its inputs, output and lse. */
    public static Grads backward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, double scale) {
        checkInputs(q, k, v);
        int[] qs = q.shape(), ks = k.shape();
        int B = qs[0], H = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2];
        if (!Arrays.equals(dout.shape(), qs) || !Arrays.equals(out.shape(), qs)
                || !Arrays.equals(lse.shape(), new int[] {B, H, Tq})) {
            throw new IllegalArgumentException("attention backward: expected dout and out " + Shapes.str(qs) + " and lse "
                    + Shapes.str(new int[] {B, H, Tq}) + ", got dout " + Shapes.str(dout.shape()) + ", out "
                    + Shapes.str(out.shape()) + ", lse " + Shapes.str(lse.shape()));
        }
        DType dtype = computeType("attention backward", q, k, v, dout, out, lse);
        Tensor dq = Tensor.zeros(dtype, qs), dk = Tensor.zeros(dtype, ks), dv = Tensor.zeros(dtype, ks);
        Tensor gd = flat(dout, dtype), qd = flat(q, dtype), kd = flat(k, dtype), vd = flat(v, dtype),
                od = flat(out, dtype), ld = flat(lse, dtype);
        if (dtype == DType.F32) {
            backward(dq.floatArray(), dk.floatArray(), dv.floatArray(), gd.floatArray(), qd.floatArray(), kd.floatArray(),
                    vd.floatArray(), od.floatArray(), ld.floatArray(), B, H, Hkv, Tq, Tk, D, (float) scale);
        } else {
            backward(dq.doubleArray(), dk.doubleArray(), dv.doubleArray(), gd.doubleArray(), qd.doubleArray(),
                    kd.doubleArray(), vd.doubleArray(), od.doubleArray(), ld.doubleArray(), B, H, Hkv, Tq, Tk, D, scale);
        }
        return new Grads(dq, dk, dv);
    }

    private static void checkInputs(Tensor q, Tensor k, Tensor v) {
        String shapes = "q " + Shapes.str(q.shape()) + ", k " + Shapes.str(k.shape()) + ", v " + Shapes.str(v.shape());
        if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) {
            throw new IllegalArgumentException("attention: expected q (B, H, Tq, D) and k, v (B, Hkv, Tk, D) of rank 4, got "
                    + shapes);
        }
        if (!Arrays.equals(k.shape(), v.shape())) {
            throw new IllegalArgumentException("attention: k and v must have the same shape, got " + shapes);
        }
        int H = q.size(1), Hkv = k.size(1);
        if (Hkv == 0 ? H != 0 : H % Hkv != 0) {
            throw new IllegalArgumentException("attention: " + H + " query heads are not a multiple of " + Hkv
                    + " kv heads (" + shapes + ")");
        }
        if (q.size(0) != k.size(0)) {
            throw new IllegalArgumentException("attention: batch sizes differ, q has " + q.size(0) + " and k, v have "
                    + k.size(0) + " (" + shapes + ")");
        }
        if (q.size(3) != k.size(3)) {
            throw new IllegalArgumentException("attention: head dims differ, q has " + q.size(3) + " and k, v have "
                    + k.size(3) + " (" + shapes + ")");
        }
        if (q.size(2) > k.size(2)) {
            throw new IllegalArgumentException("attention: q has " + q.size(2) + " positions but k, v have only "
                    + k.size(2) + "; expected Tq ≤ Tk (" + shapes + ")");
        }
    }

    private static DType computeType(String op, Tensor... ts) {
        DType dtype = ts[0].dtype().computeType();
        for (Tensor t : ts) {
            if (t.dtype().computeType() != dtype || (dtype != DType.F32 && dtype != DType.F64)) {
                StringBuilder got = new StringBuilder();
                for (Tensor u : ts) got.append(got.isEmpty() ? "" : ", ").append(u.dtype());
                throw new IllegalArgumentException(op + ": expected F32 or F64 inputs all of one dtype, got " + got);
            }
        }
        return dtype;
    }

    /** A dense heap tensor of {@code dtype} starting at element 0 of its array (copies only when needed). */
    private static Tensor flat(Tensor t, DType dtype) {
        Tensor d = t.to(dtype).dense();
        return d.offset() == 0 ? d : d.copy();
    }

    // ================================================================ F32 kernels

    /** Plain causal self-attention: Tq == Tk == T. See {@link #forward(float[], float[], float[], float[], float[], int, int, int, int, int, int, float)}. */
    public static void forward(float[] out, float[] lse, float[] q, float[] k, float[] v,
                               int B, int H, int Hkv, int T, int D, float scale) {
        forward(out, lse, q, k, v, B, H, Hkv, T, T, D, scale);
    }

    /**
     * out (B, H, Tq, D) and lse (B, H, Tq) from q (B, H, Tq, D), k, v (B, Hkv, Tk, D), all contiguous from element 0.
     * Overwrites out and lse.
     */
    public static void forward(float[] out, float[] lse, float[] q, float[] k, float[] v,
                               int B, int H, int Hkv, int Tq, int Tk, int D, float scale) {
        checkForward(out.length, lse.length, q.length, k.length, v.length, B, H, Hkv, Tq, Tk, D);
        if (B == 0 || H == 0 || Tq == 0) return;
        int group = H / Hkv;
        Parallel.forRange(0, B * H, 1, (lo, hi) -> {
            Tiles s = new Tiles(Tk, D);
            for (int bh = lo; bh < hi; bh++) {
                int b = bh / H, h = bh % H;
                forwardHead(out, lse, q, k, v, bh, b * Hkv + h / group, Tq, Tk, D, scale, s);
            }
        });
    }

    /**
     * One (b, h); kv head index {@code bkv} = b·Hkv + h/group. Scores are kept transposed, keys × queries (Sᵀ = k·qᵀ),
     * so a vector holds L query rows: the running max, running sum, rescale factors and causal mask are lanewise,
     * with no horizontal reductions, and k and v are read in place as the row operand of the tile products.
     */
    private static void forwardHead(float[] out, float[] lse, float[] q, float[] k, float[] v, int bh, int bkv,
                                    int Tq, int Tk, int D, float scale, Tiles s) {
        int dp = s.dp, offset = Tk - Tq;
        int qBase = bh * Tq * D, kvBase = bkv * Tk * D;
        float[] vRows = v;
        int vOff = kvBase;
        if (D != dp) {
            padRows(v, kvBase, Tk, D, s.kvPadded, dp);
            vRows = s.kvPadded;
            vOff = 0;
        }
        float[] qt = s.qT, st = s.scoresT, acc = s.acc, m = s.rowMax, l = s.rowSum, alpha = s.alpha;
        for (int i0 = 0; i0 < Tq; i0 += BQ) {
            int rows = Math.min(BQ, Tq - i0);
            loadTransposed(q, qBase + i0 * D, rows, D, scale, qt);
            Arrays.fill(m, Float.NEGATIVE_INFINITY);
            Arrays.fill(l, 0f);
            Arrays.fill(acc, 0, rows * dp, 0f);
            int firstPos = offset + i0, keyEnd = firstPos + rows; // query row r sits at firstPos + r
            for (int j0 = 0; j0 < keyEnd; j0 += BK) {
                int jw = Math.min(BK, keyEnd - j0);
                boolean masked = j0 + jw - 1 > firstPos;             // some key is after some query of the tile
                gemm(k, kvBase + j0 * D, D, 1, qt, 0, BQ, st, 0, BQ, jw, BQ, D, false); // Sᵀ = k·(q·scale)ᵀ
                for (int c0 = 0; c0 < BQ; c0 += L) {
                    FloatVector mOld = FloatVector.fromArray(F, m, c0), mx = mOld;
                    for (int jj = 0; jj < jw; jj++) {
                        FloatVector sv = FloatVector.fromArray(F, st, jj * BQ + c0);
                        if (masked) { // lane r sees key j0 + jj iff r ≥ j0 + jj − firstPos
                            sv = sv.blend(Float.NEGATIVE_INFINITY, laneBelow(j0 + jj - firstPos - c0));
                            sv.intoArray(st, jj * BQ + c0);
                        }
                        mx = mx.max(sv);
                    }
                    FloatVector sum = FloatVector.zero(F);
                    for (int jj = 0; jj < jw; jj++) {
                        FloatVector p = exp(FloatVector.fromArray(F, st, jj * BQ + c0).sub(mx));
                        p.intoArray(st, jj * BQ + c0);
                        sum = sum.add(p);
                    }
                    FloatVector a = exp(mOld.sub(mx)); // 0 on the first tile (mOld = −∞), 1 while the max holds
                    a.intoArray(alpha, c0);
                    FloatVector.fromArray(F, l, c0).fma(a, sum).intoArray(l, c0);
                    mx.intoArray(m, c0);
                }
                for (int r = 0; r < rows; r++) if (alpha[r] != 1f) scaleRow(acc, r * dp, dp, alpha[r]);
                gemm(st, 0, 1, BQ, vRows, vOff + j0 * dp, dp, acc, 0, dp, rows, dp, jw, true); // acc += P·v
            }
            for (int r = 0; r < rows; r++) {
                int o = qBase + (i0 + r) * D;
                float inv = 1f / l[r];
                for (int d = 0; d < D; d++) out[o + d] = acc[r * dp + d] * inv;
                lse[bh * Tq + i0 + r] = m[r] + (float) Math.log(l[r]);
            }
        }
    }

    /** Lanes whose index is below {@code n} (n may be ≤ 0: none, or ≥ L: all). */
    private static VectorMask<Float> laneBelow(int n) {
        return IOTA.compare(VectorOperators.LT, (float) n);
    }

    private static final FloatVector IOTA = FloatVector.fromArray(F, iota(), 0);

    private static float[] iota() {
        float[] a = new float[L];
        for (int i = 0; i < L; i++) a[i] = i;
        return a;
    }

    /** Plain causal self-attention backward: Tq == Tk == T. */
    public static void backward(float[] dq, float[] dk, float[] dv, float[] dout, float[] q, float[] k, float[] v,
                                float[] out, float[] lse, int B, int H, int Hkv, int T, int D, float scale) {
        backward(dq, dk, dv, dout, q, k, v, out, lse, B, H, Hkv, T, T, D, scale);
    }

    /**
     * dq (B, H, Tq, D), dk and dv (B, Hkv, Tk, D) from dout, q, out (B, H, Tq, D), k, v (B, Hkv, Tk, D) and lse
     * (B, H, Tq); overwrites dq, dk, dv. With P = exp(S − lse) recomputed tile by tile and D_i = Σ_d dout_id·out_id:
     * dv = Pᵀ·dout, dP = dout·vᵀ, dS = P ∘ (dP − D_i), dq = dS·k·scale, dk = dSᵀ·q·scale (dk, dv summed over the
     * query heads of each kv head).
     */
    public static void backward(float[] dq, float[] dk, float[] dv, float[] dout, float[] q, float[] k, float[] v,
                                float[] out, float[] lse, int B, int H, int Hkv, int Tq, int Tk, int D, float scale) {
        checkSizes(B, H, Hkv, Tq, Tk, D);
        long qn = (long) B * H * Tq * D, kn = (long) B * Hkv * Tk * D;
        checkLength("dq", dq.length, qn);
        checkLength("dk", dk.length, kn);
        checkLength("dv", dv.length, kn);
        checkLength("dout", dout.length, qn);
        checkLength("q", q.length, qn);
        checkLength("k", k.length, kn);
        checkLength("v", v.length, kn);
        checkLength("out", out.length, qn);
        checkLength("lse", lse.length, (long) B * H * Tq);
        if (B == 0 || Hkv == 0 || Tk == 0 || D == 0) {
            Arrays.fill(dq, 0, (int) qn, 0f);
            Arrays.fill(dk, 0, (int) kn, 0f);
            Arrays.fill(dv, 0, (int) kn, 0f);
            return;
        }
        Parallel.forRange(0, B * Hkv, 1, (lo, hi) -> {
            Tiles s = new Tiles(Tk, D);
            s.allocateBackward(Tk);
            for (int bkv = lo; bkv < hi; bkv++) backwardKvHead(dq, dk, dv, dout, q, k, v, out, lse, bkv, H, Hkv, Tq, Tk, D, scale, s);
        });
    }

    /**
     * One (b, kv head): every query head of its group, query tiles × key tiles, in a fixed order. Scores and their
     * gradients are kept transposed (keys × queries) as in the forward pass.
     */
    private static void backwardKvHead(float[] dq, float[] dk, float[] dv, float[] dout, float[] q, float[] k, float[] v,
                                       float[] out, float[] lse, int bkv, int H, int Hkv, int Tq, int Tk, int D,
                                       float scale, Tiles s) {
        int dp = s.dp, offset = Tk - Tq, group = H / Hkv, b = bkv / Hkv, kvh = bkv % Hkv;
        int kvBase = bkv * Tk * D;
        float[] kRows = k;
        int kOff = kvBase;
        if (D != dp) {
            padRows(k, kvBase, Tk, D, s.kvPadded, dp);
            kRows = s.kvPadded;
            kOff = 0;
        }
        float[] dkAcc = s.dkAcc, dvAcc = s.dvAcc, qs = s.qRows, go = s.gradOutRows, dqAcc = s.acc;
        float[] qt = s.qT, got = s.gradOutT, pt = s.scoresT, dst = s.dScoresT, lseRow = s.rowMax, di = s.rowSum;
        Arrays.fill(dkAcc, 0f);
        Arrays.fill(dvAcc, 0f);
        for (int h = kvh * group; h < (kvh + 1) * group; h++) {
            int bh = b * H + h, qBase = bh * Tq * D;
            for (int i0 = 0; i0 < Tq; i0 += BQ) {
                int rows = Math.min(BQ, Tq - i0);
                loadTransposed(q, qBase + i0 * D, rows, D, scale, qt);
                loadTransposed(dout, qBase + i0 * D, rows, D, 1f, got);
                loadRows(q, qBase + i0 * D, rows, D, scale, qs, dp);
                loadRows(dout, qBase + i0 * D, rows, D, 1f, go, dp);
                Arrays.fill(lseRow, 0f);
                Arrays.fill(di, 0f);
                for (int r = 0; r < rows; r++) {
                    int o = qBase + (i0 + r) * D;
                    float sum = 0f;
                    for (int d = 0; d < D; d++) sum += dout[o + d] * out[o + d];
                    di[r] = sum;
                    lseRow[r] = lse[bh * Tq + i0 + r];
                }
                Arrays.fill(dqAcc, 0, rows * dp, 0f);
                int firstPos = offset + i0, keyEnd = firstPos + rows;
                for (int j0 = 0; j0 < keyEnd; j0 += BK) {
                    int jw = Math.min(BK, keyEnd - j0);
                    boolean masked = j0 + jw - 1 > firstPos || rows < BQ;
                    gemm(k, kvBase + j0 * D, D, 1, qt, 0, BQ, pt, 0, BQ, jw, BQ, D, false);   // Sᵀ
                    gemm(v, kvBase + j0 * D, D, 1, got, 0, BQ, dst, 0, BQ, jw, BQ, D, false); // dPᵀ = v·doutᵀ
                    for (int c0 = 0; c0 < BQ; c0 += L) {
                        FloatVector lv = FloatVector.fromArray(F, lseRow, c0), dv0 = FloatVector.fromArray(F, di, c0);
                        VectorMask<Float> padding = laneBelow(rows - c0).not();
                        for (int jj = 0; jj < jw; jj++) {
                            int t = jj * BQ + c0;
                            FloatVector p = exp(FloatVector.fromArray(F, pt, t).sub(lv));
                            if (masked) p = p.blend(0f, laneBelow(j0 + jj - firstPos - c0).or(padding));
                            p.intoArray(pt, t);
                            p.mul(FloatVector.fromArray(F, dst, t).sub(dv0)).intoArray(dst, t); // dS = P ∘ (dP − D_i)
                        }
                    }
                    // P and dS are zero outside the mask and in padding lanes, so the products below may run over BQ lanes.
                    gemm(pt, 0, BQ, 1, go, 0, dp, dvAcc, j0 * dp, dp, jw, dp, rows, true);   // dv += Pᵀ·dout
                    gemm(dst, 0, BQ, 1, qs, 0, dp, dkAcc, j0 * dp, dp, jw, dp, rows, true);  // dk += dSᵀ·(q·scale)
                    gemm(dst, 0, 1, BQ, kRows, kOff + j0 * dp, dp, dqAcc, 0, dp, rows, dp, jw, true); // dq += dS·k
                }
                for (int r = 0; r < rows; r++) {
                    int o = qBase + (i0 + r) * D;
                    for (int d = 0; d < D; d++) dq[o + d] = dqAcc[r * dp + d] * scale;
                }
            }
        }
        for (int j = 0; j < Tk; j++) {
            int o = kvBase + j * D;
            System.arraycopy(dkAcc, j * dp, dk, o, D);
            System.arraycopy(dvAcc, j * dp, dv, o, D);
        }
    }

    /** Per-task scratch, sized for one head: nothing here grows with Tq·Tk. */
    private static final class Tiles {
        final int dp;
        final float[] kvPadded, qT, scoresT, acc, rowMax, rowSum, alpha;
        float[] gradOutT, dScoresT, qRows, gradOutRows, dkAcc, dvAcc;

        Tiles(int Tk, int D) {
            dp = roundUp(D, L);
            kvPadded = D == dp ? null : new float[Tk * dp];
            qT = new float[D * BQ];
            scoresT = new float[BK * BQ];
            acc = new float[BQ * dp];
            rowMax = new float[BQ];
            rowSum = new float[BQ];
            alpha = new float[BQ];
        }

        void allocateBackward(int Tk) {
            gradOutT = new float[qT.length];
            dScoresT = new float[BK * BQ];
            qRows = new float[BQ * dp];
            gradOutRows = new float[BQ * dp];
            dkAcc = new float[Tk * dp];
            dvAcc = new float[Tk * dp];
        }
    }

    /** Rows of the gemm register block. */
    static final int MR = 8;

    /**
     * c[m×n] (+)= a[m×kDim]·b[kDim×n]: element (r, p) of a at aOff + r·ars + p·acs (ars = lda, acs = 1 reads a as
     * stored; ars = 1, acs = lda reads its transpose, so Pᵀ·dout needs no transposed copy), b and c row-major with
     * leading dims ldb, ldc; n a multiple of L. An 8-row × 2-vector register block (16
     * accumulators, as {@link GemmKernel}): per step of the reduction, 8 broadcasts of a and 2 loads of b feed 16
     * FMAs; an 8 × 1-vector block takes an odd last vector.
     */
    private static void gemm(float[] a, int aOff, int ars, int acs, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc,
                             int m, int n, int kDim, boolean accumulate) {
        int n2 = n - n % (2 * L), m8 = m - m % MR;
        for (int j = 0; j < n2; j += 2 * L) { // column blocks outside: one kDim × 2L panel of b stays in L1
            for (int i = 0; i < m8; i += MR) {
                int a0 = aOff + i * ars, c0 = cOff + i * ldc;
                FloatVector x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51, x60, x61, x70, x71;
                if (accumulate) {
                    x00 = FloatVector.fromArray(F, c, c0 + j); x01 = FloatVector.fromArray(F, c, c0 + j + L);
                    x10 = FloatVector.fromArray(F, c, c0 + 1 * ldc + j); x11 = FloatVector.fromArray(F, c, c0 + 1 * ldc + j + L);
                    x20 = FloatVector.fromArray(F, c, c0 + 2 * ldc + j); x21 = FloatVector.fromArray(F, c, c0 + 2 * ldc + j + L);
                    x30 = FloatVector.fromArray(F, c, c0 + 3 * ldc + j); x31 = FloatVector.fromArray(F, c, c0 + 3 * ldc + j + L);
                    x40 = FloatVector.fromArray(F, c, c0 + 4 * ldc + j); x41 = FloatVector.fromArray(F, c, c0 + 4 * ldc + j + L);
                    x50 = FloatVector.fromArray(F, c, c0 + 5 * ldc + j); x51 = FloatVector.fromArray(F, c, c0 + 5 * ldc + j + L);
                    x60 = FloatVector.fromArray(F, c, c0 + 6 * ldc + j); x61 = FloatVector.fromArray(F, c, c0 + 6 * ldc + j + L);
                    x70 = FloatVector.fromArray(F, c, c0 + 7 * ldc + j); x71 = FloatVector.fromArray(F, c, c0 + 7 * ldc + j + L);
                } else {
                    x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = x40 = x41 = x50 = x51 = x60 = x61 = x70 = x71 = FloatVector.zero(F);
                }
                for (int p = 0, ap = a0, bp = bOff + j; p < kDim; p++, ap += acs, bp += ldb) {
                    FloatVector b0 = FloatVector.fromArray(F, b, bp), b1 = FloatVector.fromArray(F, b, bp + L), s;
                    s = FloatVector.broadcast(F, a[ap]); x00 = s.fma(b0, x00); x01 = s.fma(b1, x01);
                    s = FloatVector.broadcast(F, a[ap + 1 * ars]); x10 = s.fma(b0, x10); x11 = s.fma(b1, x11);
                    s = FloatVector.broadcast(F, a[ap + 2 * ars]); x20 = s.fma(b0, x20); x21 = s.fma(b1, x21);
                    s = FloatVector.broadcast(F, a[ap + 3 * ars]); x30 = s.fma(b0, x30); x31 = s.fma(b1, x31);
                    s = FloatVector.broadcast(F, a[ap + 4 * ars]); x40 = s.fma(b0, x40); x41 = s.fma(b1, x41);
                    s = FloatVector.broadcast(F, a[ap + 5 * ars]); x50 = s.fma(b0, x50); x51 = s.fma(b1, x51);
                    s = FloatVector.broadcast(F, a[ap + 6 * ars]); x60 = s.fma(b0, x60); x61 = s.fma(b1, x61);
                    s = FloatVector.broadcast(F, a[ap + 7 * ars]); x70 = s.fma(b0, x70); x71 = s.fma(b1, x71);
                }
                x00.intoArray(c, c0 + j); x01.intoArray(c, c0 + j + L);
                x10.intoArray(c, c0 + 1 * ldc + j); x11.intoArray(c, c0 + 1 * ldc + j + L);
                x20.intoArray(c, c0 + 2 * ldc + j); x21.intoArray(c, c0 + 2 * ldc + j + L);
                x30.intoArray(c, c0 + 3 * ldc + j); x31.intoArray(c, c0 + 3 * ldc + j + L);
                x40.intoArray(c, c0 + 4 * ldc + j); x41.intoArray(c, c0 + 4 * ldc + j + L);
                x50.intoArray(c, c0 + 5 * ldc + j); x51.intoArray(c, c0 + 5 * ldc + j + L);
                x60.intoArray(c, c0 + 6 * ldc + j); x61.intoArray(c, c0 + 6 * ldc + j + L);
                x70.intoArray(c, c0 + 7 * ldc + j); x71.intoArray(c, c0 + 7 * ldc + j + L);
            }
        }
        if (n2 < n) {
            int j = n2;
            for (int i = 0; i < m8; i += MR) {
                int a0 = aOff + i * ars, c0 = cOff + i * ldc;
                FloatVector x00, x10, x20, x30, x40, x50, x60, x70;
                if (accumulate) {
                    x00 = FloatVector.fromArray(F, c, c0 + j);
                    x10 = FloatVector.fromArray(F, c, c0 + 1 * ldc + j);
                    x20 = FloatVector.fromArray(F, c, c0 + 2 * ldc + j);
                    x30 = FloatVector.fromArray(F, c, c0 + 3 * ldc + j);
                    x40 = FloatVector.fromArray(F, c, c0 + 4 * ldc + j);
                    x50 = FloatVector.fromArray(F, c, c0 + 5 * ldc + j);
                    x60 = FloatVector.fromArray(F, c, c0 + 6 * ldc + j);
                    x70 = FloatVector.fromArray(F, c, c0 + 7 * ldc + j);
                } else {
                    x00 = x10 = x20 = x30 = x40 = x50 = x60 = x70 = FloatVector.zero(F);
                }
                for (int p = 0, ap = a0, bp = bOff + j; p < kDim; p++, ap += acs, bp += ldb) {
                    FloatVector b0 = FloatVector.fromArray(F, b, bp);
                    x00 = FloatVector.broadcast(F, a[ap]).fma(b0, x00);
                    x10 = FloatVector.broadcast(F, a[ap + 1 * ars]).fma(b0, x10);
                    x20 = FloatVector.broadcast(F, a[ap + 2 * ars]).fma(b0, x20);
                    x30 = FloatVector.broadcast(F, a[ap + 3 * ars]).fma(b0, x30);
                    x40 = FloatVector.broadcast(F, a[ap + 4 * ars]).fma(b0, x40);
                    x50 = FloatVector.broadcast(F, a[ap + 5 * ars]).fma(b0, x50);
                    x60 = FloatVector.broadcast(F, a[ap + 6 * ars]).fma(b0, x60);
                    x70 = FloatVector.broadcast(F, a[ap + 7 * ars]).fma(b0, x70);
                }
                x00.intoArray(c, c0 + j);
                x10.intoArray(c, c0 + 1 * ldc + j);
                x20.intoArray(c, c0 + 2 * ldc + j);
                x30.intoArray(c, c0 + 3 * ldc + j);
                x40.intoArray(c, c0 + 4 * ldc + j);
                x50.intoArray(c, c0 + 5 * ldc + j);
                x60.intoArray(c, c0 + 6 * ldc + j);
                x70.intoArray(c, c0 + 7 * ldc + j);
            }
        }
        for (int i = m8; i < m; i++) { // the last m % 8 rows, one vector at a time
            int a0 = aOff + i * ars, c0 = cOff + i * ldc;
            for (int j = 0; j < n; j += L) {
                FloatVector x = accumulate ? FloatVector.fromArray(F, c, c0 + j) : FloatVector.zero(F);
                for (int p = 0, ap = a0, bp = bOff + j; p < kDim; p++, ap += acs, bp += ldb) {
                    x = FloatVector.broadcast(F, a[ap]).fma(FloatVector.fromArray(F, b, bp), x);
                }
                x.intoArray(c, c0 + j);
            }
        }
    }

    /** dst[j·dp + d] = src[off + j·D + d]: rows padded to dp columns (the padding stays zero). */
    private static void padRows(float[] src, int off, int T, int D, float[] dst, int dp) {
        for (int j = 0; j < T; j++) System.arraycopy(src, off + j * D, dst, j * dp, D);
    }

    /** {@code rows} rows of src times {@code scale} into dst with row stride dp. */
    private static void loadRows(float[] src, int off, int rows, int D, float scale, float[] dst, int dp) {
        for (int r = 0; r < rows; r++) {
            int o = off + r * D, t = r * dp;
            for (int d = 0; d < D; d++) dst[t + d] = src[o + d] * scale;
        }
    }

    /** dst[d·BQ + r] = src[off + r·D + d]·scale: a query tile transposed to D × BQ, lanes r ≥ rows zero. */
    private static void loadTransposed(float[] src, int off, int rows, int D, float scale, float[] dst) {
        if (rows < BQ) Arrays.fill(dst, 0, D * BQ, 0f);
        for (int r = 0; r < rows; r++) {
            int o = off + r * D;
            for (int d = 0; d < D; d++) dst[d * BQ + r] = src[o + d] * scale;
        }
    }

    private static void scaleRow(float[] a, int off, int n, float s) {
        FloatVector sv = FloatVector.broadcast(F, s);
        for (int c = 0; c < n; c += L) FloatVector.fromArray(F, a, off + c).mul(sv).intoArray(a, off + c);
    }

    private static final float EXP_HI = 88f, EXP_LO = -87f, LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f, ROUND = 0x1.8p23f;

    /**
     * e^x per lane, Cephes expf (about 1 ulp): x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial, 2^n
     * through the exponent bits. Lanes below −87 (and −∞) give exactly 0. Built from add, mul and fma only, so the
     * interpreter, C1 and C2 give the same bits — the JDK's lanewise(EXP) does not (SVML when compiled, Math.exp not).
     */
    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.min(EXP_HI).max(EXP_LO);
        FloatVector z = xc.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, ROUND)); // n + 1.5·2²³, rounded
        FloatVector n = z.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(F, 1.9875691500e-4f);
        p = p.fma(r, FloatVector.broadcast(F, 1.3981999507e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(F, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(F, 5.0000001201e-1f));
        p = p.fma(r.mul(r), r).add(1f);
        // the low bits of z hold n; (n + 127) << 23 are the bits of 2^n
        FloatVector pow2n = z.viewAsIntegralLanes().sub(0x4B400000 - 127).lanewise(VectorOperators.LSHL, 23)
                .viewAsFloatingLanes().reinterpretAsFloats();
        return p.mul(pow2n).blend(0f, x.lt(EXP_LO));
    }

    private static int roundUp(int x, int m) { return (x + m - 1) / m * m; }

    /** The forward kernels' size and array-length checks (F32 and F64 alike). */
    private static void checkForward(long out, long lse, long q, long k, long v, int B, int H, int Hkv, int Tq, int Tk, int D) {
        checkSizes(B, H, Hkv, Tq, Tk, D);
        checkLength("out", out, (long) B * H * Tq * D);
        checkLength("lse", lse, (long) B * H * Tq);
        checkLength("q", q, (long) B * H * Tq * D);
        checkLength("k", k, (long) B * Hkv * Tk * D);
        checkLength("v", v, (long) B * Hkv * Tk * D);
    }

    // ================================================================ F64 reference kernels (plain loops)

    /** Plain causal self-attention in float64: Tq == Tk == T. */
    public static void forward(double[] out, double[] lse, double[] q, double[] k, double[] v,
                               int B, int H, int Hkv, int T, int D, double scale) {
        forward(out, lse, q, k, v, B, H, Hkv, T, T, D, scale);
    }

    /** Float64 plain-loop forward, one score row at a time; same shapes and contract as the F32 kernel. */
    public static void forward(double[] out, double[] lse, double[] q, double[] k, double[] v,
                               int B, int H, int Hkv, int Tq, int Tk, int D, double scale) {
        checkForward(out.length, lse.length, q.length, k.length, v.length, B, H, Hkv, Tq, Tk, D);
        if (B == 0 || H == 0 || Tq == 0) return;
        int group = H / Hkv, offset = Tk - Tq;
        Parallel.forRange(0, B * H, 1, (lo, hi) -> {
            double[] s = new double[Tk];
            for (int bh = lo; bh < hi; bh++) {
                int b = bh / H, h = bh % H, kvBase = (b * Hkv + h / group) * Tk * D;
                for (int i = 0; i < Tq; i++) {
                    int qi = (bh * Tq + i) * D, last = offset + i;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= last; j++) {
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += q[qi + d] * k[kvBase + j * D + d];
                        s[j] = dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= last; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int d = 0; d < D; d++) out[qi + d] = 0;
                    for (int j = 0; j <= last; j++) {
                        double pj = s[j] / sum;
                        for (int d = 0; d < D; d++) out[qi + d] += pj * v[kvBase + j * D + d];
                    }
                    lse[bh * Tq + i] = max + Math.log(sum);
                }
            }
        });
    }

    /** Plain causal self-attention backward in float64: Tq == Tk == T. */
    public static void backward(double[] dq, double[] dk, double[] dv, double[] dout, double[] q, double[] k,
                                double[] v, double[] out, double[] lse, int B, int H, int Hkv, int T, int D, double scale) {
        backward(dq, dk, dv, dout, q, k, v, out, lse, B, H, Hkv, T, T, D, scale);
    }

    /** Float64 plain-loop backward; same shapes and contract as the F32 kernel (overwrites dq, dk, dv). */
    public static void backward(double[] dq, double[] dk, double[] dv, double[] dout, double[] q, double[] k,
                                double[] v, double[] out, double[] lse, int B, int H, int Hkv, int Tq, int Tk, int D,
                                double scale) {
        checkSizes(B, H, Hkv, Tq, Tk, D);
        long qn = (long) B * H * Tq * D, kn = (long) B * Hkv * Tk * D;
        checkLength("dq", dq.length, qn);
        checkLength("dk", dk.length, kn);
        checkLength("dv", dv.length, kn);
        checkLength("dout", dout.length, qn);
        checkLength("q", q.length, qn);
        checkLength("k", k.length, kn);
        checkLength("v", v.length, kn);
        checkLength("out", out.length, qn);
        checkLength("lse", lse.length, (long) B * H * Tq);
        Arrays.fill(dq, 0, (int) qn, 0);
        Arrays.fill(dk, 0, (int) kn, 0);
        Arrays.fill(dv, 0, (int) kn, 0);
        if (B == 0 || Hkv == 0 || Tq == 0) return;
        int group = H / Hkv, offset = Tk - Tq;
        Parallel.forRange(0, B * Hkv, 1, (lo, hi) -> {
            for (int bkv = lo; bkv < hi; bkv++) {
                int b = bkv / Hkv, kvh = bkv % Hkv, kvBase = bkv * Tk * D;
                for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                    int bh = b * H + h;
                    for (int i = 0; i < Tq; i++) {
                        int qi = (bh * Tq + i) * D;
                        double di = 0;
                        for (int d = 0; d < D; d++) di += dout[qi + d] * out[qi + d];
                        double l = lse[bh * Tq + i];
                        for (int j = 0; j <= offset + i; j++) {
                            int kj = kvBase + j * D;
                            double dot = 0, dpj = 0;
                            for (int d = 0; d < D; d++) {
                                dot += q[qi + d] * k[kj + d];
                                dpj += dout[qi + d] * v[kj + d];
                            }
                            double pj = Math.exp(dot * scale - l), ds = pj * (dpj - di) * scale;
                            for (int d = 0; d < D; d++) {
                                dv[kj + d] += pj * dout[qi + d];
                                dq[qi + d] += ds * k[kj + d];
                                dk[kj + d] += ds * q[qi + d];
                            }
                        }
                    }
                }
            }
        });
    }

    // ================================================================ checks

    private static void checkSizes(int B, int H, int Hkv, int Tq, int Tk, int D) {
        if (B < 0 || H < 0 || Hkv < 0 || Tq < 0 || Tk < 0 || D < 0) {
            throw new IllegalArgumentException("attention: negative size in B=" + B + " H=" + H + " Hkv=" + Hkv
                    + " Tq=" + Tq + " Tk=" + Tk + " D=" + D);
        }
        if (Hkv == 0 ? H != 0 : H % Hkv != 0) {
            throw new IllegalArgumentException("attention: " + H + " query heads are not a multiple of " + Hkv + " kv heads");
        }
        if (Tq > Tk) throw new IllegalArgumentException("attention: expected Tq ≤ Tk, got Tq=" + Tq + " Tk=" + Tk);
    }

    private static void checkLength(String name, long length, long needed) {
        if (length < needed) {
            throw new IllegalArgumentException("attention: " + name + " has " + length + " elements, expected at least " + needed);
        }
    }
}
