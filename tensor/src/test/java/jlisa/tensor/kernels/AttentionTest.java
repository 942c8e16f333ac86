package jlisa.tensor.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;

import jlisa.tensor.DType;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

class AttentionTest {
    private static final int[][] HEADS = {{1, 1}, {4, 4}, {4, 2}, {6, 1}};
    private static final int[] LENGTHS = {1, 2, 7, 33, 65, 130};
    private static final int[] HEAD_DIMS = {8, 17, 64};

    /** Naive float64 reference: the full Tq×Tk masked score matrix per (b, h), then softmax and P·v. */
    private record Reference(double[] out, double[] lse, double[] dq, double[] dk, double[] dv) {}

    private static Reference reference(Tensor qt, Tensor kt, Tensor vt, Tensor doutT, double scale) {
        return reference(qt, kt, vt, doutT, Attention.Spec.ofScale(scale));
    }

    /** The reference with a soft-cap c·tanh(s/c) of the scaled scores and a window (key j seen iff p − W < j ≤ p). */
    private static Reference reference(Tensor qt, Tensor kt, Tensor vt, Tensor doutT, Attention.Spec spec) {
        double scale = spec.scale(), cap = spec.softcap();
        int window = spec.window();
        int B = qt.size(0), H = qt.size(1), Tq = qt.size(2), D = qt.size(3), Hkv = kt.size(1), Tk = kt.size(2);
        int group = H / Hkv, offset = Tk - Tq;
        double[] q = qt.toDoubleArray(), k = kt.toDoubleArray(), v = vt.toDoubleArray();
        double[] dout = doutT == null ? new double[q.length] : doutT.toDoubleArray();
        double[] out = new double[q.length], lse = new double[B * H * Tq];
        double[] dq = new double[q.length], dk = new double[k.length], dv = new double[v.length];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                int qb = (b * H + h) * Tq * D, kb = (b * Hkv + h / group) * Tk * D;
                double[][] p = new double[Tq][Tk], capped = new double[Tq][Tk];
                for (int i = 0; i < Tq; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < Tk; j++) {
                        double s = 0;
                        for (int d = 0; d < D; d++) s += q[qb + i * D + d] * k[kb + j * D + d];
                        capped[i][j] = cap > 0 ? cap * Math.tanh(s * scale / cap) : s * scale;
                        boolean seen = j <= offset + i && (window == 0 || offset + i - j < window);
                        p[i][j] = seen ? capped[i][j] : Double.NEGATIVE_INFINITY;
                        max = Math.max(max, p[i][j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < Tk; j++) sum += Math.exp(p[i][j] - max);
                    for (int j = 0; j < Tk; j++) p[i][j] = Math.exp(p[i][j] - max) / sum;
                    lse[(b * H + h) * Tq + i] = max + Math.log(sum);
                    for (int j = 0; j < Tk; j++) {
                        for (int d = 0; d < D; d++) out[qb + i * D + d] += p[i][j] * v[kb + j * D + d];
                    }
                }
                // backward through the materialised P: dP = dout·vᵀ, dS = P ∘ (dP − rowsum(P ∘ dP))
                for (int i = 0; i < Tq; i++) {
                    double[] dp = new double[Tk];
                    double rowDot = 0;
                    for (int j = 0; j < Tk; j++) {
                        for (int d = 0; d < D; d++) dp[j] += dout[qb + i * D + d] * v[kb + j * D + d];
                        rowDot += p[i][j] * dp[j];
                    }
                    for (int j = 0; j < Tk; j++) {
                        double ds = p[i][j] * (dp[j] - rowDot);
                        if (cap > 0) ds *= 1 - (capped[i][j] / cap) * (capped[i][j] / cap);   // through c·tanh(s/c)
                        for (int d = 0; d < D; d++) {
                            dv[kb + j * D + d] += p[i][j] * dout[qb + i * D + d];
                            dq[qb + i * D + d] += ds * k[kb + j * D + d] * scale;
                            dk[kb + j * D + d] += ds * q[qb + i * D + d] * scale;
                        }
                    }
                }
            }
        }
        return new Reference(out, lse, dq, dk, dv);
    }

    private static Tensor randn(Rng rng, DType dtype, int... shape) { return Tensor.randn(rng, 0, 1, dtype, shape); }

    /** |got − want| ≤ tol · max(1, max|want|) element by element. */
    private static void assertClose(String what, Tensor got, double[] want, double tol) {
        double[] g = got.toDoubleArray();
        assertThat(g).as(what + " length").hasSize(want.length);
        double scale = 1;
        for (double w : want) scale = Math.max(scale, Math.abs(w));
        for (int i = 0; i < g.length; i++) {
            if (!(Math.abs(g[i] - want[i]) <= tol * scale)) {
                throw new AssertionError(what + ": element " + i + " is " + g[i] + ", expected " + want[i]
                        + " (tolerance " + tol * scale + ")");
            }
        }
    }

    private static void assertSameBits(String what, float[] got, float[] want) {
        assertThat(got).as(what + " length").hasSameSizeAs(want);
        for (int i = 0; i < got.length; i++) {
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i])) {
                throw new AssertionError(what + ": element " + i + " is " + got[i] + ", expected the same bits as " + want[i]);
            }
        }
    }

    private static void checkAgainstReference(Rng rng, DType dtype, int B, int H, int Hkv, int Tq, int Tk, int D,
                                              double tol) {
        Tensor q = randn(rng, dtype, B, H, Tq, D), k = randn(rng, dtype, B, Hkv, Tk, D), v = randn(rng, dtype, B, Hkv, Tk, D);
        Tensor dout = randn(rng, dtype, B, H, Tq, D);
        double scale = Attention.defaultScale(D);
        String c = dtype + " B=" + B + " H=" + H + " Hkv=" + Hkv + " Tq=" + Tq + " Tk=" + Tk + " D=" + D;
        Reference ref = reference(q, k, v, dout, scale);
        Attention.Result r = Attention.forward(q, k, v);
        assertThat(r.out().shape()).isEqualTo(new int[] {B, H, Tq, D});
        assertThat(r.lse().shape()).isEqualTo(new int[] {B, H, Tq});
        assertThat(r.out().dtype()).isEqualTo(dtype);
        assertMatches(c, ref, r, Attention.backward(dout, q, k, v, r.out(), r.lse(), scale), tol);
    }

    /** Out, lse and the three gradients against the reference's. */
    private static void assertMatches(String c, Reference ref, Attention.Result r, Attention.Grads g, double tol) {
        assertClose(c + " out", r.out(), ref.out(), tol);
        assertClose(c + " lse", r.lse(), ref.lse(), tol);
        assertClose(c + " dq", g.dq(), ref.dq(), tol);
        assertClose(c + " dk", g.dk(), ref.dk(), tol);
        assertClose(c + " dv", g.dv(), ref.dv(), tol);
    }

    @Test
    void softcapsAndSlidingWindowsMatchTheReferenceAcrossTiles() {
        Rng rng = new Rng(21);
        int[][] shapes = {{1, 1, 1, 1, 8}, {1, 4, 2, 31, 17}, {2, 2, 1, 33, 8}, {1, 4, 2, 100, 17}, {1, 2, 2, 130, 16}};
        double[] caps = {0, 5, 50};
        int[] windows = {0, 1, 3, 64, 65, 200};
        for (int[] sh : shapes) {
            for (double cap : caps) {
                for (int w : windows) {
                    if (cap == 0 && w == 0) continue;
                    int B = sh[0], H = sh[1], Hkv = sh[2], T = sh[3], D = sh[4];
                    Attention.Spec spec = Attention.Spec.of(D).withSoftcap(cap).withWindow(w);
                    checkSpec(rng, DType.F32, spec, B, H, Hkv, T, T, D, 2e-5);
                    if (T <= 33) checkSpec(rng, DType.F64, spec, B, H, Hkv, T, T, D, 1e-12);
                }
            }
        }
    }

    @Test
    void decodeWithAWindowSeesOnlyTheLastKeys() {
        Rng rng = new Rng(22);
        for (int Tq : new int[] {1, 3}) {
            for (int w : new int[] {1, 4, 64, 100}) {
                Attention.Spec spec = Attention.Spec.of(17).withWindow(w).withSoftcap(w % 2 == 0 ? 20 : 0);
                checkSpec(rng, DType.F32, spec, 1, 4, 2, Tq, 70, 17, 2e-5);
                checkSpec(rng, DType.F64, spec, 1, 4, 2, Tq, 70, 17, 1e-12);
            }
        }
    }

    @Test
    void aPlainSpecGivesTheBitsOfTheScaleOnlyKernel() {
        Rng rng = new Rng(23);
        Tensor q = randn(rng, DType.F32, 1, 2, 70, 16), k = randn(rng, DType.F32, 1, 2, 70, 16), v = randn(rng, DType.F32, 1, 2, 70, 16);
        Attention.Result a = Attention.forward(q, k, v, 0.3), b = Attention.forward(q, k, v, Attention.Spec.ofScale(0.3));
        assertSameBits("out", a.out().contiguous().toFloatArray(), b.out().contiguous().toFloatArray());
        // a window longer than the sequence changes which tiles are visited, not what the rows see
        Attention.Result c = Attention.forward(q, k, v, Attention.Spec.ofScale(0.3).withWindow(1000));
        assertSameBits("out with a long window", a.out().contiguous().toFloatArray(), c.out().contiguous().toFloatArray());
    }

    @Test
    void specsOutsideTheirRangeAreRefused() {
        assertThatThrownBy(() -> new Attention.Spec(0, 0, 0)).hasMessageContaining("scale must be finite and > 0");
        assertThatThrownBy(() -> Attention.Spec.of(8).withSoftcap(-1)).hasMessageContaining("softcap must be finite and ≥ 0");
        assertThatThrownBy(() -> Attention.Spec.of(8).withWindow(-2)).hasMessageContaining("window must be ≥ 0");
        assertThat(Attention.Spec.of(4).withSoftcap(50).withWindow(8).toString()).isEqualTo("Spec[scale=0.5, softcap=50.0, window=8]");
    }

    private static void checkSpec(Rng rng, DType dtype, Attention.Spec spec, int B, int H, int Hkv, int Tq, int Tk, int D,
                                  double tol) {
        Tensor q = randn(rng, dtype, B, H, Tq, D).mul(2.0), k = randn(rng, dtype, B, Hkv, Tk, D), v = randn(rng, dtype, B, Hkv, Tk, D);
        Tensor dout = randn(rng, dtype, B, H, Tq, D);
        String c = dtype + " " + spec + " B=" + B + " H=" + H + " Hkv=" + Hkv + " Tq=" + Tq + " Tk=" + Tk + " D=" + D;
        Reference ref = reference(q, k, v, dout, spec);
        Attention.Result r = Attention.forward(q, k, v, spec);
        assertMatches(c, ref, r, Attention.backward(dout, q, k, v, r.out(), r.lse(), spec), tol);
    }

    @Test
    void forwardAndBackwardMatchTheMaterialisedFloat64ReferenceOnOddShapes() {
        Rng rng = new Rng(1);
        int n = 0;
        for (int[] heads : HEADS) {
            for (int T : LENGTHS) {
                for (int D : HEAD_DIMS) {
                    int B = 1 + (n++ % 2);
                    checkAgainstReference(rng, DType.F32, B, heads[0], heads[1], T, T, D, 1e-5);
                    checkAgainstReference(rng, DType.F64, 3 - B, heads[0], heads[1], T, T, D, 1e-12);
                }
            }
        }
    }

    @Test
    void headDimsThatAreNotAMultipleOfTheVectorLengthWork() {
        Rng rng = new Rng(2);
        for (int D : new int[] {1, 3, 24, 80, 96, 128}) {
            checkAgainstReference(rng, DType.F32, 1, 2, 1, 70, 70, D, 1e-5);
        }
    }

    @Test
    void decodeQueriesAlignToTheEndOfTheKeys() {
        Rng rng = new Rng(3);
        for (int[] t : new int[][] {{1, 1}, {1, 9}, {1, 100}, {5, 70}, {33, 130}, {64, 65}}) {
            checkAgainstReference(rng, DType.F32, 2, 4, 2, t[0], t[1], 17, 1e-5);
            checkAgainstReference(rng, DType.F64, 1, 4, 2, t[0], t[1], 8, 1e-12);
        }
        // decoding the last rows gives exactly the rows of the full causal pass
        Tensor q = randn(rng, DType.F32, 1, 4, 100, 64), k = randn(rng, DType.F32, 1, 2, 100, 64),
                v = randn(rng, DType.F32, 1, 2, 100, 64);
        Attention.Result full = Attention.forward(q, k, v);
        for (int Tq : new int[] {1, 3, 37}) {
            Attention.Result tail = Attention.forward(q.narrow(2, 100 - Tq, Tq), k, v);
            assertSameBits("Tq=" + Tq, tail.out().toFloatArray(), full.out().narrow(2, 100 - Tq, Tq).toFloatArray());
            assertSameBits("tail.lse", tail.lse().toFloatArray(), full.lse().narrow(2, 100 - Tq, Tq).toFloatArray());
        }
    }

    @Test
    void float64KernelGradientsMatchCentralFiniteDifferences() {
        Rng rng = new Rng(4);
        int B = 1, H = 4, Hkv = 2, Tq = 4, Tk = 5, D = 3;
        double scale = 0.7;
        double[] q = Tensor.randn(rng, 0, 1, DType.F64, B, H, Tq, D).toDoubleArray();
        double[] k = Tensor.randn(rng, 0, 1, DType.F64, B, Hkv, Tk, D).toDoubleArray();
        double[] v = Tensor.randn(rng, 0, 1, DType.F64, B, Hkv, Tk, D).toDoubleArray();
        double[] w = Tensor.randn(rng, 0, 1, DType.F64, B, H, Tq, D).toDoubleArray(); // loss = Σ w ∘ out
        double[] out = new double[q.length], lse = new double[B * H * Tq];
        Attention.forward(out, lse, q, k, v, B, H, Hkv, Tq, Tk, D, scale);
        double[] dq = new double[q.length], dk = new double[k.length], dv = new double[v.length];
        Attention.backward(dq, dk, dv, w, q, k, v, out, lse, B, H, Hkv, Tq, Tk, D, scale);
        double[][] inputs = {q, k, v}, grads = {dq, dk, dv};
        String[] names = {"dq", "dk", "dv"};
        double eps = 1e-6;
        for (int a = 0; a < 3; a++) {
            double[] x = inputs[a];
            for (int i = 0; i < x.length; i++) {
                double keep = x[i];
                x[i] = keep + eps;
                double plus = loss(w, q, k, v, B, H, Hkv, Tq, Tk, D, scale);
                x[i] = keep - eps;
                double minus = loss(w, q, k, v, B, H, Hkv, Tq, Tk, D, scale);
                x[i] = keep;
                double numeric = (plus - minus) / (2 * eps);
                assertThat(grads[a][i]).as(names[a] + "[" + i + "]").isCloseTo(numeric, org.assertj.core.data.Offset.offset(1e-8));
            }
        }
        // the float64 kernel agrees with the materialised reference to rounding
        Reference ref = reference(Tensor.of(q, B, H, Tq, D), Tensor.of(k, B, Hkv, Tk, D), Tensor.of(v, B, Hkv, Tk, D),
                Tensor.of(w, B, H, Tq, D), scale);
        assertClose("dq", Tensor.of(dq, dq.length), ref.dq(), 1e-13);
        assertClose("dk", Tensor.of(dk, dk.length), ref.dk(), 1e-13);
        assertClose("dv", Tensor.of(dv, dv.length), ref.dv(), 1e-13);
    }

    private static double loss(double[] w, double[] q, double[] k, double[] v, int B, int H, int Hkv, int Tq, int Tk,
                               int D, double scale) {
        double[] out = new double[q.length], lse = new double[B * H * Tq];
        Attention.forward(out, lse, q, k, v, B, H, Hkv, Tq, Tk, D, scale);
        double s = 0;
        for (int i = 0; i < out.length; i++) s += w[i] * out[i];
        return s;
    }

    @Test
    void nonContiguousAndOffsetInputsGiveTheSameResultsAsContiguousOnes() {
        Rng rng = new Rng(5);
        int B = 2, H = 4, Hkv = 2, T = 37, D = 24;
        Tensor qBthd = randn(rng, DType.F32, B, T, H, D);
        Tensor q = qBthd.transpose(1, 2);                                  // (B, H, T, D) view
        Tensor k = randn(rng, DType.F32, B, D, Hkv, T).permute(0, 2, 3, 1); // (B, Hkv, T, D) view
        Tensor v = randn(rng, DType.F32, B + 1, Hkv, T, D).narrow(0, 1, B); // offset view
        Tensor dout = randn(rng, DType.F32, B, T, H, D).transpose(1, 2);
        assertThat(q.isContiguous()).isFalse();
        Attention.Result a = Attention.forward(q, k, v, 0.3);
        Attention.Result b = Attention.forward(q.contiguous(), k.contiguous(), v.contiguous(), 0.3);
        assertSameBits("a.out", a.out().toFloatArray(), b.out().toFloatArray());
        assertSameBits("a.lse", a.lse().toFloatArray(), b.lse().toFloatArray());
        Attention.Grads ga = Attention.backward(dout, q, k, v, a.out(), a.lse(), 0.3);
        Attention.Grads gb = Attention.backward(dout.contiguous(), q.contiguous(), k.contiguous(), v.contiguous(),
                b.out(), b.lse(), 0.3);
        assertSameBits("ga.dq", ga.dq().toFloatArray(), gb.dq().toFloatArray());
        assertSameBits("ga.dk", ga.dk().toFloatArray(), gb.dk().toFloatArray());
        assertSameBits("ga.dv", ga.dv().toFloatArray(), gb.dv().toFloatArray());
        Reference ref = reference(q, k, v, dout, 0.3);
        assertClose("out", a.out(), ref.out(), 1e-5);
        assertClose("dq", ga.dq(), ref.dq(), 1e-5);
    }

    @Test
    void viewsIntoAPackedProjectionAreReadInPlaceAndGradientsWrittenIntoOnePackedBuffer() {
        Rng rng = new Rng(8);
        // (H, Hkv, T, D): multi-head and grouped, T not a multiple of the tiles, D a multiple of L or not
        for (int[] c : new int[][] {{4, 4, 128, 32}, {3, 1, 70, 64}, {4, 2, 37, 24}, {2, 2, 5, 17}}) {
            int B = 2, H = c[0], Hkv = c[1], T = c[2], D = c[3], width = (H + 2 * Hkv) * D;
            Tensor qkv = randn(rng, DType.F32, B, T, width);
            Tensor[] views = Attention.unpack(qkv, H, Hkv);
            assertThat(views[0].isContiguous()).isFalse();
            assertThat(views[1].storage()).isSameAs(qkv.storage());
            Tensor dout = randn(rng, DType.F32, B, T, H * D);
            String what = "H=" + H + " Hkv=" + Hkv + " T=" + T + " D=" + D;

            // output straight into (B, T, H·D); every element written (the target starts as NaN)
            Tensor out = Tensor.full(Double.NaN, DType.F32, B, T, H * D);
            Attention.Result r = Attention.forward(views[0], views[1], views[2], 0.4, Attention.splitHeads(out, H));
            Tensor dqkv = Tensor.full(Double.NaN, DType.F32, B, T, width);
            Tensor[] d = Attention.unpack(dqkv, H, Hkv);
            Attention.backward(Attention.splitHeads(dout, H), views[0], views[1], views[2], r.out(), r.lse(), 0.4,
                    d[0], d[1], d[2]);

            // the same bits as dense copies of everything
            Tensor q = views[0].contiguous(), k = views[1].contiguous(), v = views[2].contiguous();
            Tensor doutHeads = Attention.splitHeads(dout, H).contiguous();
            Attention.Result rd = Attention.forward(q, k, v, 0.4);
            Attention.Grads gd = Attention.backward(doutHeads, q, k, v, rd.out().contiguous(), rd.lse(), 0.4);
            assertSameBits(what + " out", Attention.splitHeads(out, H).toFloatArray(), rd.out().toFloatArray());
            assertSameBits(what + " lse", r.lse().toFloatArray(), rd.lse().toFloatArray());
            assertSameBits(what + " dq", d[0].toFloatArray(), gd.dq().toFloatArray());
            assertSameBits(what + " dk", d[1].toFloatArray(), gd.dk().toFloatArray());
            assertSameBits(what + " dv", d[2].toFloatArray(), gd.dv().toFloatArray());

            Reference ref = reference(q, k, v, doutHeads, 0.4);
            assertClose(what + " out vs reference", r.out(), ref.out(), 1e-5);
            assertClose(what + " dq vs reference", d[0], ref.dq(), 1e-5);
            assertClose(what + " dk vs reference", d[1], ref.dk(), 1e-5);
            assertClose(what + " dv vs reference", d[2], ref.dv(), 1e-5);
        }
    }

    @Test
    void outputsAndGradientsAreLaidOutSoMergingTheHeadsIsAView() {
        Rng rng = new Rng(9);
        int B = 2, H = 4, Hkv = 2, T = 20, D = 16;
        Tensor q = randn(rng, DType.F32, B, H, T, D), k = randn(rng, DType.F32, B, Hkv, T, D), v = randn(rng, DType.F32, B, Hkv, T, D);
        Attention.Result r = Attention.forward(q, k, v);
        assertThat(r.out().transpose(1, 2).isContiguous()).isTrue();
        Attention.Grads g = Attention.backward(randn(rng, DType.F32, B, H, T, D), q, k, v, r.out(), r.lse(), 0.25);
        assertThat(g.dq().transpose(1, 2).isContiguous()).isTrue();
        assertThat(g.dk().transpose(1, 2).isContiguous()).isTrue();
        assertThat(g.dv().transpose(1, 2).isContiguous()).isTrue();
    }

    @Test
    void decodeOverAStridedCacheWithGroupedHeadsMatchesTheReference() {
        Rng rng = new Rng(10);
        int B = 2, H = 4, Hkv = 2, D = 24;
        for (int[] t : new int[][] {{1, 50}, {7, 70}, {33, 97}}) {
            int Tq = t[0], Tk = t[1];
            Tensor q = randn(rng, DType.F32, B, Tq, H, D).transpose(1, 2);
            Tensor k = randn(rng, DType.F32, B, Hkv, Tk + 9, D).narrow(2, 0, Tk);   // a cache with room to grow
            Tensor v = randn(rng, DType.F32, B, Hkv, Tk + 9, D).narrow(2, 0, Tk);
            Tensor dout = randn(rng, DType.F32, B, Tq, H, D).transpose(1, 2);
            Reference ref = reference(q, k, v, dout, 0.3);
            Attention.Result r = Attention.forward(q, k, v, 0.3);
            Attention.Grads g = Attention.backward(dout, q, k, v, r.out(), r.lse(), 0.3);
            String what = "Tq=" + Tq + " Tk=" + Tk;
            assertClose(what + " out", r.out(), ref.out(), 1e-5);
            assertClose(what + " lse", r.lse(), ref.lse(), 1e-5);
            assertClose(what + " dq", g.dq(), ref.dq(), 1e-5);
            assertClose(what + " dk", g.dk(), ref.dk(), 1e-5);
            assertClose(what + " dv", g.dv(), ref.dv(), 1e-5);
        }
    }

    @Test
    void largeScoresStayFiniteAndAccurate() {
        Rng rng = new Rng(6);
        int B = 1, H = 2, Hkv = 1, T = 90, D = 16;
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            // scores with a standard deviation of ~400: exp would overflow without the running max
            Tensor q = Tensor.randn(rng, 0, 20, dtype, B, H, T, D), k = Tensor.randn(rng, 0, 20, dtype, B, Hkv, T, D);
            Tensor v = randn(rng, dtype, B, Hkv, T, D), dout = randn(rng, dtype, B, H, T, D);
            double scale = Attention.defaultScale(D);
            Attention.Result r = Attention.forward(q, k, v);
            Attention.Grads g = Attention.backward(dout, q, k, v, r.out(), r.lse(), scale);
            for (Tensor t : new Tensor[] {r.out(), r.lse(), g.dq(), g.dk(), g.dv()}) {
                assertThat(Arrays.stream(t.toDoubleArray()).allMatch(Double::isFinite)).isTrue();
            }
            Reference ref = reference(q, k, v, dout, scale);
            double tol = dtype == DType.F32 ? 1e-3 : 1e-10;
            assertClose(dtype + " out", r.out(), ref.out(), tol);
            assertClose(dtype + " lse", r.lse(), ref.lse(), dtype == DType.F32 ? 1e-6 : 1e-14);
            assertClose(dtype + " dv", g.dv(), ref.dv(), tol);
        }
    }

    @Test
    void resultsAreBitwiseTheSameForAnyThreadCount() {
        Rng rng = new Rng(7);
        int B = 2, H = 6, Hkv = 2, T = 97, D = 40;
        Tensor q = randn(rng, DType.F32, B, H, T, D), k = randn(rng, DType.F32, B, Hkv, T, D),
                v = randn(rng, DType.F32, B, Hkv, T, D), dout = randn(rng, DType.F32, B, H, T, D);
        float[][] one = run(1, q, k, v, dout), three = run(3, q, k, v, dout), two = run(2, q, k, v, dout);
        for (int i = 0; i < one.length; i++) {
            assertSameBits("3 threads, output " + i, three[i], one[i]);
            assertSameBits("2 threads, output " + i, two[i], one[i]);
        }
    }

    private static float[][] run(int threads, Tensor q, Tensor k, Tensor v, Tensor dout) {
        float[][] res = new float[5][];
        Parallel.withThreads(threads, () -> {
            Attention.Result r = Attention.forward(q, k, v);
            Attention.Grads g = Attention.backward(dout, q, k, v, r.out(), r.lse(), Attention.defaultScale(q.size(3)));
            res[0] = r.out().toFloatArray();
            res[1] = r.lse().toFloatArray();
            res[2] = g.dq().toFloatArray();
            res[3] = g.dk().toFloatArray();
            res[4] = g.dv().toFloatArray();
        });
        return res;
    }

    @Test
    void emptyBatchesAndSequencesGiveEmptyOutputs() {
        for (int[] s : new int[][] {{0, 2, 5, 8}, {2, 2, 0, 8}}) {
            Tensor q = Tensor.zeros(s[0], s[1], s[2], s[3]), k = Tensor.zeros(s[0], 1, s[2], s[3]);
            Attention.Result r = Attention.forward(q, k, k);
            assertThat(r.out().shape()).isEqualTo(s);
            assertThat(r.lse().shape()).isEqualTo(new int[] {s[0], s[1], s[2]});
            Attention.Grads g = Attention.backward(q, q, k, k, r.out(), r.lse(), 1.0);
            assertThat(g.dq().shape()).isEqualTo(s);
            assertThat(g.dk().shape()).isEqualTo(k.shape());
        }
    }

    @Test
    void badInputsAreRejectedWithTheShapesInTheMessage() {
        Tensor q = Tensor.zeros(1, 12, 4, 8), k5 = Tensor.zeros(1, 5, 4, 8), k = Tensor.zeros(1, 4, 4, 8);
        assertThatThrownBy(() -> Attention.forward(q, k5, k5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("attention: 12 query heads are not a multiple of 5 kv heads")
                .hasMessageContaining("(1, 12, 4, 8)").hasMessageContaining("(1, 5, 4, 8)");
        assertThatThrownBy(() -> Attention.forward(Tensor.zeros(12, 4, 8), k, k))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank 4").hasMessageContaining("(12, 4, 8)");
        assertThatThrownBy(() -> Attention.forward(q, Tensor.zeros(2, 4, 4, 8), Tensor.zeros(2, 4, 4, 8)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("batch").hasMessageContaining("(2, 4, 4, 8)");
        assertThatThrownBy(() -> Attention.forward(q, Tensor.zeros(1, 4, 4, 9), Tensor.zeros(1, 4, 4, 9)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("head dims").hasMessageContaining("(1, 4, 4, 9)");
        assertThatThrownBy(() -> Attention.forward(q, k, Tensor.zeros(1, 4, 5, 8)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("same shape").hasMessageContaining("(1, 4, 5, 8)");
        assertThatThrownBy(() -> Attention.forward(q, Tensor.zeros(1, 4, 3, 8), Tensor.zeros(1, 4, 3, 8)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Tq ≤ Tk");
        assertThatThrownBy(() -> Attention.forward(q, k.to(DType.F64), k))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F32, F64, F32");
        Attention.Result r = Attention.forward(q, k, k);
        assertThatThrownBy(() -> Attention.backward(Tensor.zeros(1, 12, 4, 7), q, k, k, r.out(), r.lse(), 1.0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dout (1, 12, 4, 7)");
        assertThatThrownBy(() -> Attention.backward(q, q, k, k, r.out(), Tensor.zeros(1, 12, 5), 1.0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lse (1, 12, 5)");
        assertThatThrownBy(() -> Attention.forward(new float[10], new float[4], new float[32], new float[32], new float[32],
                1, 1, 1, 4, 8, 1f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out has 10 elements, expected at least 32");
    }
}
