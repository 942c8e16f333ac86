package jlisa.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.CrossEntropy;
import jlisa.tensor.kernels.Rope;

/**
 * Every differentiable op of the autograd module against float64 central differences
 * ({@link Gradcheck}), on small random shapes, with broadcasting and with non-contiguous input views
 * (transposed and narrowed slices of bigger tensors), so that both the analytic rule and the way it is
 * wired to strided data are checked.
 */
class OpsGradcheckTest {
    /** A fresh generator per test (JUnit makes one instance per test), so every test sees the same inputs alone or in a suite. */
    final Rng rng = new Rng(11);

    // ---------------------------------------------------------------- helpers

    /**
     * Runs the check and fails with the op and its worst element; then runs one more backward and checks that
     * the engine released nothing still in use (the inputs, the output, the gradients it handed out) — on the
     * heap a released storage still reads fine, so only its flag shows the mistake a device backend would crash on.
     */
    static void check(String op, Gradcheck.Fn fn, Tensor... inputs) {
        Gradcheck.Report report = Gradcheck.run(op, fn, inputs);
        assertThat(report.passed()).as(report.message()).isTrue();

        Variable[] vars = new Variable[inputs.length];
        for (int i = 0; i < inputs.length; i++) vars[i] = inputs[i] == null ? null : new Variable(inputs[i], true);
        Variable out = fn.apply(vars);
        out.backward(Tensor.randn(new Rng(99), 0, 1, DType.F64, out.data().shape()));
        assertThat(out.data().storage().isReleased()).as(op + ": output released by backward").isFalse();
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i] == null) continue;
            assertThat(inputs[i].storage().isReleased()).as(op + ": input " + i + " released").isFalse();
            assertThat(vars[i].grad()).as(op + ": gradient of input " + i).isNotNull();
            assertThat(vars[i].grad().storage().isReleased()).as(op + ": gradient of input " + i + " released").isFalse();
        }
    }

    /** Standard normal F64 tensor of {@code shape}, contiguous. */
    static Tensor randn(Rng rng, int... shape) { return Tensor.randn(rng, 0, 1, DType.F64, shape); }

    /**
     * Standard normal F64 values of {@code shape} in a non-contiguous view: a bigger tensor with the dims
     * reversed and one extra element per dim, permuted back and narrowed, so every stride is odd.
     */
    static Tensor strided(Rng rng, int... shape) {
        int r = shape.length;
        if (r == 0) return randn(rng, shape);
        int[] big = new int[r], order = new int[r];
        for (int i = 0; i < r; i++) {
            big[i] = shape[r - 1 - i] + 1;
            order[i] = r - 1 - i;
        }
        Tensor t = randn(rng, big).permute(order);
        for (int i = 0; i < r; i++) t = t.narrow(i, 1, shape[i]);
        return t;
    }

    /** Uniform F64 in [low, high), contiguous. */
    static Tensor uniform(Rng rng, double low, double high, int... shape) { return Tensor.rand(rng, low, high, DType.F64, shape); }

    /** Moves each element at least {@code margin} away from 0 (keeping its sign), in place; kinks stay out of the ε-window. */
    static Tensor awayFromZero(Tensor t, double margin) {
        int[] idx = new int[t.dim()];
        for (int n = 0, count = t.numel(); n < count; n++) {
            double v = t.get(idx);
            t.set(v + (v < 0 ? -margin : margin), idx);
            for (int d = idx.length - 1; d >= 0 && ++idx[d] == t.size(d); d--) idx[d] = 0;
        }
        return t;
    }

    /** A random shape of {@code rank} dims, each in [1, maxSize]. */
    static int[] randomShape(Rng rng, int rank, int maxSize) {
        int[] s = new int[rank];
        for (int i = 0; i < rank; i++) s[i] = 1 + rng.nextInt(maxSize);
        return s;
    }

    // ---------------------------------------------------------------- arithmetic

    @Test
    void binaryOpsBroadcastBothWays() {
        int[][][] pairs = {
            {{3, 1, 4}, {2, 4}},     // each side stretched along a different dim
            {{2, 4}, {3, 1, 4}},
            {{2, 3}, {1}},           // scalar-shaped
            {{1}, {2, 3}},
            {{4, 1}, {1, 3}},
            {{2, 3}, {2, 3}},
        };
        for (int[][] p : pairs) {
            String shapes = Arrays.toString(p[0]) + " with " + Arrays.toString(p[1]);
            check("add " + shapes, v -> v[0].add(v[1]), randn(rng, p[0]), randn(rng, p[1]));
            check("sub " + shapes, v -> v[0].sub(v[1]), randn(rng, p[0]), randn(rng, p[1]));
            check("mul " + shapes, v -> v[0].mul(v[1]), randn(rng, p[0]), randn(rng, p[1]));
            check("div " + shapes, v -> v[0].div(v[1]), randn(rng, p[0]), awayFromZero(uniform(rng, -1, 1, p[1]), 0.5));
        }
    }

    @Test
    void binaryOpsOnNonContiguousViews() {
        check("add strided", v -> v[0].add(v[1]), strided(rng, 3, 4), strided(rng, 2, 3, 4));
        check("sub strided", v -> v[0].sub(v[1]), strided(rng, 2, 3, 1), strided(rng, 3, 4));
        check("mul strided", v -> v[0].mul(v[1]), strided(rng, 3, 1, 4), strided(rng, 2, 4));
        check("div strided", v -> v[0].div(v[1]), strided(rng, 3, 4), awayFromZero(strided(rng, 4), 0.5));
        Tensor big = randn(rng, 5, 3);
        check("mul transpose", v -> v[0].mul(v[1]), big.transpose(0, 1), randn(rng, 3, 5));
    }

    @Test
    void scalarOps() {
        Tensor x = strided(rng, 2, 3, 2);
        check("add(scalar)", v -> v[0].add(1.5), x);
        check("sub(scalar)", v -> v[0].sub(0.7), x);
        check("mul(scalar)", v -> v[0].mul(-2.5), x);
        check("div(scalar)", v -> v[0].div(3.0), x);
        check("neg", v -> v[0].neg(), x);
    }

    @Test
    void pow() {
        Tensor positive = uniform(rng, 0.5, 2.0, 3, 4);
        check("pow(2)", v -> v[0].pow(2), strided(rng, 3, 4));
        check("pow(3)", v -> v[0].pow(3), strided(rng, 3, 4));
        check("pow(0.5)", v -> v[0].pow(0.5), positive);
        check("pow(-1.5)", v -> v[0].pow(-1.5), positive);
    }

    @Test
    void unaryOpsOnRandomShapes() {
        for (int trial = 0; trial < 3; trial++) {
            int[] shape = randomShape(rng, 1 + trial, 4);
            String s = " " + Arrays.toString(shape);
            check("exp" + s, v -> v[0].exp(), strided(rng, shape));
            check("log" + s, v -> v[0].log(), uniform(rng, 0.2, 3.0, shape));
            check("sqrt" + s, v -> v[0].sqrt(), uniform(rng, 0.2, 3.0, shape));
            check("tanh" + s, v -> v[0].tanh(), strided(rng, shape));
            check("sigmoid" + s, v -> v[0].sigmoid(), strided(rng, shape));
            check("relu" + s, v -> v[0].relu(), awayFromZero(strided(rng, shape), 0.1));
            check("abs" + s, v -> v[0].abs(), awayFromZero(strided(rng, shape), 0.1));
        }
    }

    // ---------------------------------------------------------------- products

    @Test
    void matmulVectorAndMatrixCombinations() {
        check("matmul 1-D·1-D", v -> v[0].matmul(v[1]), randn(rng, 4), randn(rng, 4));
        check("matmul 2-D·1-D", v -> v[0].matmul(v[1]), randn(rng, 3, 4), randn(rng, 4));
        check("matmul 1-D·2-D", v -> v[0].matmul(v[1]), randn(rng, 3), randn(rng, 3, 5));
        check("matmul 2-D·2-D", v -> v[0].matmul(v[1]), randn(rng, 3, 4), randn(rng, 4, 5));
    }

    @Test
    void matmulBatchedWithBroadcastBatchDims() {
        check("matmul (2,1,3,4)·(5,4,2)", v -> v[0].matmul(v[1]), randn(rng, 2, 1, 3, 4), randn(rng, 5, 4, 2));
        check("matmul (3,4)·(2,4,2)", v -> v[0].matmul(v[1]), randn(rng, 3, 4), randn(rng, 2, 4, 2));
        check("matmul (2,3,4)·(4)", v -> v[0].matmul(v[1]), randn(rng, 2, 3, 4), randn(rng, 4));
    }

    @Test
    void matmulTransposedOperands() {
        Tensor aT = randn(rng, 4, 3).transpose(0, 1);       // (3, 4), column-major
        Tensor bT = randn(rng, 5, 4).transpose(0, 1);       // (4, 5)
        check("matmul aᵀ·bᵀ", v -> v[0].matmul(v[1]), aT, bT);
        check("matmul a·(transpose inside)", v -> v[0].matmul(v[1].transpose(0, 1)), randn(rng, 3, 4), randn(rng, 5, 4));
        check("matmul batched strided", v -> v[0].matmul(v[1]), strided(rng, 2, 3, 4), strided(rng, 2, 4, 2));
    }

    @Test
    void linearWithAndWithoutBias() {
        check("linear 2-D with bias", v -> v[0].linear(v[1], v[2]), randn(rng, 3, 4), randn(rng, 5, 4), randn(rng, 5));
        check("linear 2-D without bias", v -> v[0].linear(v[1], null), randn(rng, 3, 4), randn(rng, 5, 4));
        check("linear 3-D x with bias", v -> v[0].linear(v[1], v[2]), randn(rng, 2, 3, 4), randn(rng, 2, 4), randn(rng, 2));
        check("linear 3-D x without bias", v -> v[0].linear(v[1], null), randn(rng, 2, 3, 4), randn(rng, 2, 4));
        check("linear strided x and W", v -> v[0].linear(v[1], v[2]), strided(rng, 2, 3, 4), strided(rng, 3, 4), strided(rng, 3));
    }

    // ---------------------------------------------------------------- views

    @Test
    void reshapeTransposePermute() {
        check("reshape", v -> v[0].reshape(3, 4).mul(v[0].reshape(3, 4)), randn(rng, 2, 6));
        check("reshape strided", v -> v[0].reshape(6, 2).exp(), strided(rng, 2, 3, 2));
        check("view", v -> v[0].view(-1), randn(rng, 2, 3));
        check("transpose", v -> v[0].transpose(0, 2).exp(), randn(rng, 2, 3, 4));
        check("permute", v -> v[0].permute(2, 0, 1).tanh(), strided(rng, 2, 3, 4));
    }

    @Test
    void narrowAndSliceWithStep() {
        check("narrow", v -> v[0].narrow(1, 1, 3).exp(), randn(rng, 2, 5, 2));
        check("narrow strided", v -> v[0].narrow(0, 2, 2), strided(rng, 5, 3));
        check("slice step 2", v -> v[0].slice(1, 0, 5, 2).tanh(), randn(rng, 2, 5, 3));
        check("slice step 3 last dim", v -> v[0].slice(-1, 1, 7, 3), strided(rng, 3, 7));
    }

    @Test
    void expandUnsqueezeSqueezeContiguous() {
        check("expand", v -> v[0].expand(2, 3, 4).mul(v[1]), randn(rng, 3, 1), randn(rng, 2, 3, 4));
        check("expand new leading dim", v -> v[0].expand(3, 4).exp(), randn(rng, 4));
        check("unsqueeze", v -> v[0].unsqueeze(1).mul(v[1]), randn(rng, 3, 4), randn(rng, 3, 2, 4));
        check("squeeze", v -> v[0].squeeze(1).exp(), randn(rng, 3, 1, 4));
        check("contiguous", v -> v[0].contiguous().mul(v[0]), strided(rng, 3, 4));
    }

    @Test
    void catThreeInputsAlongMiddleDim() {
        check("cat dim 1", v -> Variable.cat(1, v[0], v[1], v[2]).tanh(),
                randn(rng, 2, 1, 3), strided(rng, 2, 2, 3), randn(rng, 2, 3, 3));
        check("cat dim -1", v -> Variable.cat(-1, v[0], v[1]), randn(rng, 3, 2), randn(rng, 3, 4));
    }

    @Test
    void splitPiecesGetTheirSlices() {
        check("split", v -> {
            Variable[] parts = v[0].split(1, 1, 3, 2);
            return parts[0].mul(parts[2].narrow(1, 0, 1)).add(parts[1].sum(true, 1));
        }, randn(rng, 2, 6, 3));
    }

    // ---------------------------------------------------------------- reductions

    @Test
    void sumAndMean() {
        Tensor x = strided(rng, 2, 3, 4);
        for (boolean keep : new boolean[] {false, true}) {
            check("sum dim 1 keepDim=" + keep, v -> v[0].sum(keep, 1), x);
            check("sum dims 0,2 keepDim=" + keep, v -> v[0].sum(keep, 0, 2), x);
            check("sum dim -1 keepDim=" + keep, v -> v[0].sum(keep, -1), x);
            check("mean dim 1 keepDim=" + keep, v -> v[0].mean(keep, 1), x);
            check("mean dims 0,2 keepDim=" + keep, v -> v[0].mean(keep, 0, 2), x);
        }
        check("sum all", v -> v[0].sum(), x);
        check("sum all keepDim", v -> v[0].sum(true), x);
        check("mean all", v -> v[0].mean(), x);
        check("mean all keepDim", v -> v[0].mean(true), x);
    }

    @Test
    void maxOverADimWithDistinctValues() {
        // a shuffled arange: every value distinct and at least 0.1 from any other, far beyond ε
        double[] values = new double[2 * 3 * 4];
        for (int i = 0; i < values.length; i++) values[i] = 0.1 * i;
        for (int i = values.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            double t = values[i];
            values[i] = values[j];
            values[j] = t;
        }
        Tensor x = Tensor.of(values, 2, 3, 4);
        check("max dim 1", v -> v[0].max(false, 1), x);
        check("max dim 2 keepDim", v -> v[0].max(true, 2), x);
        check("max dim 0 of transpose", v -> v[0].max(false, 0), x.transpose(0, 2));
    }

    /** Not a gradcheck (max is not differentiable at a tie): the gradient is split evenly among tied maxima. */
    @Test
    void maxSplitsTheGradientAmongTies() {
        Variable x = new Variable(Tensor.of(new double[] {1, 3, 3, 2, 5, 4, 5, 5}, 2, 4), true);
        x.max(false, 1).sum().backward();
        assertThat(x.grad().toDoubleArray()).containsExactly(0, 0.5, 0.5, 0, 1.0 / 3, 0, 1.0 / 3, 1.0 / 3);
    }

    @Test
    void varianceWithCorrection0And1() {
        Tensor x = strided(rng, 3, 4, 2);
        for (int correction : new int[] {0, 1}) {
            check("var dim 1 correction " + correction, v -> v[0].var(false, correction, 1), x);
            check("var dim -1 keepDim correction " + correction, v -> v[0].var(true, correction, -1), x);
            check("var dims 0,1 correction " + correction, v -> v[0].var(false, correction, 0, 1), x);
        }
    }

    // ---------------------------------------------------------------- transformer layers

    @Test
    void softmaxAndLogSoftmaxOverLastAndMiddleDim() {
        check("softmax last", v -> v[0].softmax(-1), randn(rng, 2, 3, 5));
        check("softmax middle", v -> v[0].softmax(1), randn(rng, 2, 3, 5));
        check("softmax strided", v -> v[0].softmax(-1), strided(rng, 3, 4));
        check("logSoftmax last", v -> v[0].logSoftmax(-1), randn(rng, 2, 3, 5));
        check("logSoftmax middle", v -> v[0].logSoftmax(1), randn(rng, 2, 3, 5));
        check("logSoftmax strided", v -> v[0].logSoftmax(0), strided(rng, 3, 4));
    }

    @Test
    void layerNormWithAndWithoutAffine() {
        check("layerNorm weight+bias", v -> v[0].layerNorm(v[1], v[2], 1e-5), randn(rng, 2, 3, 5), randn(rng, 5), randn(rng, 5));
        check("layerNorm weight only", v -> v[0].layerNorm(v[1], null, 1e-5), randn(rng, 3, 5), randn(rng, 5));
        check("layerNorm bias only", v -> v[0].layerNorm(null, v[1], 1e-5), randn(rng, 3, 5), randn(rng, 5));
        check("layerNorm plain", v -> v[0].layerNorm(null, null, 1e-5), randn(rng, 4, 6));
        check("layerNorm strided", v -> v[0].layerNorm(v[1], v[2], 1e-5), strided(rng, 3, 4), strided(rng, 4), strided(rng, 4));
    }

    @Test
    void rmsNormWithAndWithoutWeight() {
        check("rmsNorm weight", v -> v[0].rmsNorm(v[1], 1e-6), randn(rng, 2, 3, 5), randn(rng, 5));
        check("rmsNorm plain", v -> v[0].rmsNorm(null, 1e-6), randn(rng, 4, 6));
        check("rmsNorm strided", v -> v[0].rmsNorm(v[1], 1e-6), strided(rng, 3, 4), strided(rng, 4));
    }

    @Test
    void activations() {
        Tensor x = strided(rng, 3, 7);
        Tensor wide = Tensor.rand(rng, -6, 6, DType.F64, 4, 5);    // tails of the erf/tanh approximations too
        check("gelu", v -> v[0].gelu(), x);
        check("gelu wide", v -> v[0].gelu(), wide);
        check("geluTanh", v -> v[0].geluTanh(), x);
        check("geluTanh wide", v -> v[0].geluTanh(), wide);
        check("silu", v -> v[0].silu(), x);
        check("silu wide", v -> v[0].silu(), wide);
    }

    @Test
    void embeddingScatterAddsDuplicateIds() {
        Tensor ids = Tensor.of(new int[] {1, 3, 1, 0, 3, 3}, 2, 3);
        check("embedding", v -> v[0].embedding(ids), randn(rng, 5, 4));
        check("embedding strided weight", v -> v[0].embedding(ids), strided(rng, 5, 4));
        check("embedding 1-D ids", v -> v[0].embedding(Tensor.of(new int[] {2, 2, 0}, 3)), randn(rng, 4, 3));
    }

    @Test
    void crossEntropySkipsIgnoredTargets() {
        int ignore = CrossEntropy.DEFAULT_IGNORE_INDEX;
        Tensor targets = Tensor.of(new int[] {1, ignore, 4, 0, ignore, 2}, 2, 3);
        check("crossEntropy (2,3,5) with ignored", v -> v[0].crossEntropy(targets, ignore), randn(rng, 2, 3, 5));
        Tensor flat = Tensor.of(new int[] {3, 0, 3, 1}, 4);
        check("crossEntropy (4,4) ignore 0", v -> v[0].crossEntropy(flat, 0), randn(rng, 4, 4));
        check("crossEntropy strided", v -> v[0].crossEntropy(flat, ignore), strided(rng, 4, 4));
        check("crossEntropy scaled downstream", v -> v[0].crossEntropy(flat, ignore).mul(3.0), randn(rng, 4, 4));
    }

    @Test
    void causalAttentionWithGroupedAndFullKvHeads() {
        check("attention H=4 Hkv=2", v -> v[0].causalAttention(v[1], v[2]),
                randn(rng, 1, 4, 5, 3), randn(rng, 1, 2, 5, 3), randn(rng, 1, 2, 5, 3));
        check("attention H=Hkv=2 B=2", v -> v[0].causalAttention(v[1], v[2]),
                randn(rng, 2, 2, 4, 3), randn(rng, 2, 2, 4, 3), randn(rng, 2, 2, 4, 3));
        check("attention scale 0.3", v -> v[0].causalAttention(v[1], v[2], 0.3),
                randn(rng, 1, 2, 3, 2), randn(rng, 1, 1, 3, 2), randn(rng, 1, 1, 3, 2));
        var capped = jlisa.tensor.kernels.Attention.Spec.ofScale(0.7).withSoftcap(1.5);
        check("attention soft-capped", v -> v[0].causalAttention(v[1], v[2], capped),
                randn(rng, 1, 4, 5, 3), randn(rng, 1, 2, 5, 3), randn(rng, 1, 2, 5, 3));
        var windowed = jlisa.tensor.kernels.Attention.Spec.of(3).withWindow(2).withSoftcap(2.0);
        check("attention window 2 soft-capped", v -> v[0].causalAttention(v[1], v[2], windowed),
                randn(rng, 2, 2, 6, 3), randn(rng, 2, 1, 6, 3), randn(rng, 2, 1, 6, 3));
        // q, k, v as transposed views of a (B, T, H, D) projection, as a model makes them
        check("attention from (B,T,H,D) views", v -> v[0].transpose(1, 2).causalAttention(v[1].transpose(1, 2), v[2].transpose(1, 2)),
                randn(rng, 1, 4, 2, 3), randn(rng, 1, 4, 1, 3), randn(rng, 1, 4, 1, 3));
    }

    @Test
    void causalSelfAttentionOverAPackedProjection() {
        check("packed attention H=Hkv=2", v -> v[0].causalSelfAttention(2, 2), randn(rng, 2, 4, 6 * 3));
        check("packed attention H=4 Hkv=2", v -> v[0].causalSelfAttention(4, 2), randn(rng, 1, 5, 8 * 2));
        check("packed attention strided", v -> v[0].causalSelfAttention(1, 1), strided(rng, 1, 3, 3 * 2));
    }

    @Test
    void dropoutWithTheSameMaskEveryEvaluation() {
        check("dropout 0.3", v -> v[0].dropout(0.3, new Rng(5)), randn(rng, 4, 5));
        check("dropout 0.5 strided", v -> v[0].dropout(0.5, new Rng(6)), strided(rng, 3, 4));
    }

    @Test
    void ropeInBothLayouts() {
        int T = 5;
        for (Rope.Layout layout : Rope.Layout.values()) {
            check("rope " + layout, v -> v[0].rope(Rope.Cache.of(0, T, 10000, 4), layout), randn(rng, 1, 2, T, 4));
            check("rope " + layout + " start 3", v -> v[0].rope(Rope.Cache.of(3, T, 10000, 6), layout), randn(rng, 2, 1, T, 6));
            check("rope " + layout + " partial rotary", v -> v[0].rope(Rope.Cache.of(0, T, 10000, 4), layout), randn(rng, 1, 2, T, 6));
            check("rope " + layout + " from (B,T,H,D) view", v -> v[0].transpose(1, 2).rope(Rope.Cache.of(0, T, 10000, 4), layout),
                    randn(rng, 1, T, 2, 4));
        }
    }

    // ---------------------------------------------------------------- compositions

    /** linear → geluTanh → linear → logSoftmax → mean: a whole small network as one expression. */
    static Variable mlp(Variable[] v) {
        return v[0].linear(v[1], v[2]).geluTanh().linear(v[3], v[4]).logSoftmax(-1).mean();
    }

    static Tensor[] mlpInputs(Rng rng) {
        return new Tensor[] {randn(rng, 2, 3, 4), randn(rng, 5, 4), randn(rng, 5), randn(rng, 3, 5), randn(rng, 3)};
    }

    @Test
    void twoLayerMlp() {
        check("mlp", OpsGradcheckTest::mlp, mlpInputs(rng));
    }

    @Test
    void inputUsedTwiceAccumulates() {
        check("x·x + x", v -> v[0].mul(v[0]).add(v[0]), randn(rng, 3, 4));
        check("x·x + x strided", v -> v[0].mul(v[0]).add(v[0]), strided(rng, 3, 4));
        check("y = tanh x; y·y + y", v -> {
            Variable y = v[0].tanh();
            return y.mul(y).add(y);
        }, randn(rng, 3, 4));
        check("x @ xᵀ", v -> v[0].matmul(v[0].transpose(0, 1)), randn(rng, 3, 4));
        check("x / (x·x).sum(1)", v -> v[0].div(v[0].mul(v[0]).sum(true, 1)), randn(rng, 3, 4));
    }

    /**
     * A pre-norm transformer block and LM head in one expression: layerNorm → fused qkv linear → split →
     * rope → grouped-KV causal attention → output projection → residual → rmsNorm → linear → silu →
     * residual → LM head → crossEntropy with an ignored target.
     */
    static Variable block(Variable[] v) {
        int B = 1, T = 4, H = 2, Hkv = 1, D = 2;
        Rope.Cache cache = Rope.Cache.of(0, T, 10000, D);
        Variable x = v[0];
        Variable[] qkv = x.layerNorm(v[1], v[2], 1e-5).linear(v[3], null).split(-1, H * D, Hkv * D, Hkv * D);
        Variable q = qkv[0].reshape(B, T, H, D).transpose(1, 2).rope(cache, Rope.Layout.HALF);
        Variable k = qkv[1].reshape(B, T, Hkv, D).transpose(1, 2).rope(cache, Rope.Layout.HALF);
        Variable val = qkv[2].reshape(B, T, Hkv, D).transpose(1, 2);
        Variable attn = q.causalAttention(k, val).transpose(1, 2).reshape(B, T, H * D);
        Variable x2 = x.add(attn.linear(v[4], null));
        Variable x3 = x2.add(x2.rmsNorm(v[5], 1e-6).linear(v[6], null).silu());
        Tensor targets = Tensor.of(new int[] {2, 0, CrossEntropy.DEFAULT_IGNORE_INDEX, 4}, B, T);
        return x3.linear(v[7], null).crossEntropy(targets, CrossEntropy.DEFAULT_IGNORE_INDEX);
    }

    static Tensor[] blockInputs(Rng rng) {
        int C = 6;
        return new Tensor[] {randn(rng, 1, 4, C), randn(rng, C), randn(rng, C), randn(rng, 8, C).mul(0.5),
            randn(rng, C, 4).mul(0.5), randn(rng, C), randn(rng, C, C).mul(0.5), randn(rng, 5, C)};
    }

    /**
     * The ops the MLP and the block leave out, on rows longer than a float vector (37 columns: full lanes and a
     * tail), so the F32 comparison reaches their Vector API loops too.
     */
    static Variable misc(Variable[] v) {
        Variable x = v[0];
        Variable a = x.softmax(-1).mul(x.gelu()).add(x.sigmoid().mul(x.tanh()));
        Variable b = a.exp().add(1.0).log().sqrt().div(x.abs().add(1.0)).pow(2).sub(0.3).relu();
        Variable d = Variable.cat(0, b, v[2].embedding(Tensor.of(new int[] {3, 0, 3, 5}, 4))).dropout(0.2, new Rng(3));
        Variable e = d.matmul(v[1]).neg();
        return e.max(false, 1).sum().add(e.var(false, 1, 0).sum()).add(e.mean());
    }

    static Tensor[] miscInputs(Rng rng) {
        return new Tensor[] {randn(rng, 3, 37), randn(rng, 37, 5), randn(rng, 6, 37)};
    }

    @Test
    void everyOtherOpInOneExpression() {
        check("misc", OpsGradcheckTest::misc, miscInputs(rng));
    }

    @Test
    void transformerBlock() {
        check("transformer block", OpsGradcheckTest::block, blockInputs(rng));
    }

    @Test
    void float32GradientsMatchFloat64() {
        assertFloat32MatchesFloat64("mlp", OpsGradcheckTest::mlp, mlpInputs(rng));
        assertFloat32MatchesFloat64("transformer block", OpsGradcheckTest::block, blockInputs(rng));
        assertFloat32MatchesFloat64("misc", OpsGradcheckTest::misc, miscInputs(rng));
    }

    /** Runs {@code fn} (scalar out) and backward on the F64 inputs and on F32 copies; the gradients must agree within ~1e-4. */
    static void assertFloat32MatchesFloat64(String name, Gradcheck.Fn fn, Tensor[] inputs64) {
        Tensor[] inputs32 = new Tensor[inputs64.length];
        for (int i = 0; i < inputs64.length; i++) inputs32[i] = inputs64[i].to(DType.F32);
        Tensor[] grads64 = gradients(fn, inputs64), grads32 = gradients(fn, inputs32);
        for (int i = 0; i < grads64.length; i++) {
            assertThat(grads32[i].dtype()).as(name + ": grad dtype of input " + i).isEqualTo(DType.F32);
            assertThat(grads32[i].shape()).as(name + ": grad shape of input " + i).containsExactly(grads64[i].shape());
            double[] g64 = grads64[i].toDoubleArray(), g32 = grads32[i].toDoubleArray();
            for (int j = 0; j < g64.length; j++) {
                assertThat(g32[j]).as("%s: F32 vs F64 gradient of input %d at flat index %d", name, i, j)
                        .isCloseTo(g64[j], within(1e-4 + 1e-4 * Math.abs(g64[j])));
            }
        }
    }

    private static Tensor[] gradients(Gradcheck.Fn fn, Tensor[] inputs) {
        Variable[] vars = new Variable[inputs.length];
        for (int i = 0; i < inputs.length; i++) vars[i] = new Variable(inputs[i], true);
        fn.apply(vars).backward();
        Tensor[] grads = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) grads[i] = vars[i].grad();
        return grads;
    }

    // ---------------------------------------------------------------- edge cases of the wiring

    @Test
    void zeroDimAndDegenerateShapes() {
        Tensor scalar = Tensor.full(0.7, DType.F64);
        check("add 0-d", v -> v[0].add(v[1]), randn(rng, 2, 3), scalar.copy());
        check("mul 0-d · 0-d", v -> v[0].mul(v[1]), scalar.copy(), Tensor.full(-1.3, DType.F64));
        check("div by 0-d", v -> v[0].div(v[1]), randn(rng, 3), scalar.copy());
        check("sum all to 0-d then mul", v -> v[0].sum().mul(v[0]), randn(rng, 2, 3));
        check("max all", v -> v[0].max(false), Tensor.of(new double[] {0.3, -1.0, 2.5, 0.9, 1.7, -0.4}, 2, 3));
        check("var all", v -> v[0].var(false, 1), randn(rng, 2, 3));
        check("mean over size-1 dim", v -> v[0].mean(1), randn(rng, 3, 1, 2));
        check("linear 1-D x", v -> v[0].linear(v[1], v[2]), randn(rng, 4), randn(rng, 3, 4), randn(rng, 3));
        check("matmul 1-D·3-D", v -> v[0].matmul(v[1]), randn(rng, 4), randn(rng, 2, 4, 3));
        check("matmul expanded operand", v -> v[0].expand(2, 3, 4).matmul(v[1]), randn(rng, 3, 4), randn(rng, 2, 4, 2));
        check("narrow negative dim", v -> v[0].narrow(-1, 1, 2), randn(rng, 3, 4));
        check("permute negative dims", v -> v[0].permute(-1, 0, -2).exp(), randn(rng, 2, 3, 4));
        check("transpose negative dims", v -> v[0].transpose(-1, -3).exp(), randn(rng, 2, 3, 4));
        check("softmax of 1-D", v -> v[0].softmax(0), randn(rng, 5));
    }

    /** Constants among the inputs: the ops' needsGrad=false branches must still give the right gradients to the rest. */
    @Test
    void constantOperandsTakeTheNoGradientPaths() {
        Tensor c = randn(rng, 3, 4), w = randn(rng, 5, 4), ln = randn(rng, 4);
        Tensor k = randn(rng, 1, 1, 3, 2), val = randn(rng, 1, 1, 3, 2);
        check("mul by constant", v -> v[0].mul(new Variable(c)), randn(rng, 2, 3, 4));
        check("constant / x", v -> new Variable(c).div(v[0]), awayFromZero(randn(rng, 4), 0.5));
        check("constant − x", v -> new Variable(c).sub(v[0]), randn(rng, 1, 4));
        check("linear frozen weight", v -> v[0].linear(new Variable(w), v[1]), randn(rng, 3, 4), randn(rng, 5));
        check("linear constant x", v -> new Variable(c).linear(v[0], null), randn(rng, 5, 4));
        check("matmul constant left", v -> new Variable(c).matmul(v[0]), randn(rng, 4, 2));
        check("layerNorm frozen weight", v -> v[0].layerNorm(new Variable(ln), v[1], 1e-5), randn(rng, 3, 4), randn(rng, 4));
        check("layerNorm constant x", v -> new Variable(c).layerNorm(v[0], v[1], 1e-5), randn(rng, 4), randn(rng, 4));
        check("rmsNorm constant x", v -> new Variable(c).rmsNorm(v[0], 1e-6), randn(rng, 4));
        check("attention constant k, v", v -> v[0].causalAttention(new Variable(k), new Variable(val)), randn(rng, 1, 2, 3, 2));
        check("attention constant q", v -> new Variable(randn(new Rng(3), 1, 2, 3, 2)).causalAttention(v[0], v[1]), k.copy(), val.copy());
        check("cat with constant middle", v -> Variable.cat(1, v[0], new Variable(c), v[1]), randn(rng, 3, 2), randn(rng, 3, 1));
    }

    /**
     * Gradients that reach an op as broadcast (stride-0, from sum/mean) or transposed views of the upstream
     * gradient: every kernel-backed backward must read them through their strides.
     */
    @Test
    void kernelBackwardsAcceptBroadcastAndTransposedGradients() {
        Tensor x = randn(rng, 3, 4);
        Tensor q = randn(rng, 1, 2, 3, 2), kv = randn(rng, 1, 1, 3, 2);
        Rope.Cache cache = Rope.Cache.of(0, 3, 10000, 2);
        Tensor ids = Tensor.of(new int[] {0, 2, 2}, 3);
        check("softmax→sum", v -> v[0].softmax(-1).mul(v[0]).sum(), x);
        check("softmax→transpose", v -> v[0].softmax(-1).transpose(0, 1), x);
        check("logSoftmax→mean(0)", v -> v[0].logSoftmax(-1).mean(0), x);
        check("layerNorm→sum(0)", v -> v[0].layerNorm(v[1], v[2], 1e-5).mul(v[0]).sum(0), x, randn(rng, 4), randn(rng, 4));
        check("layerNorm→transpose", v -> v[0].layerNorm(v[1], v[2], 1e-5).transpose(0, 1), x, randn(rng, 4), randn(rng, 4));
        check("rmsNorm→transpose", v -> v[0].rmsNorm(v[1], 1e-6).transpose(0, 1), x, randn(rng, 4));
        check("rmsNorm→sum(1)", v -> v[0].rmsNorm(v[1], 1e-6).mul(v[0]).sum(1), x, randn(rng, 4));
        check("gelu→transpose", v -> v[0].gelu().transpose(0, 1), x);
        check("geluTanh→sum", v -> v[0].geluTanh().sum(), x);
        check("silu→mean(1)", v -> v[0].silu().mean(1), x);
        check("linear→transpose", v -> v[0].linear(v[1], v[2]).transpose(0, 1), x, randn(rng, 5, 4), randn(rng, 5));
        check("linear→sum", v -> v[0].linear(v[1], v[2]).sum(), x, randn(rng, 5, 4), randn(rng, 5));
        check("matmul→transpose", v -> v[0].matmul(v[1]).transpose(0, 1), x, randn(rng, 4, 2));
        check("matmul→sum", v -> v[0].matmul(v[1]).sum(0), x, randn(rng, 4, 2));
        check("attention→transpose", v -> v[0].causalAttention(v[1], v[2]).transpose(1, 2), q, kv, kv.copy());
        check("attention→sum", v -> v[0].causalAttention(v[1], v[2]).mul(v[0]).sum(), q, kv, kv.copy());
        check("rope→transpose", v -> v[0].rope(cache, Rope.Layout.INTERLEAVED).transpose(1, 2), q);
        check("rope→sum(-1)", v -> v[0].rope(cache, Rope.Layout.HALF).mul(v[0]).sum(-1), q);
        check("dropout→transpose", v -> v[0].dropout(0.4, new Rng(8)).transpose(0, 1), x);
        check("dropout→sum(0)", v -> v[0].dropout(0.4, new Rng(8)).sum(0), x);
        check("embedding→transpose", v -> v[0].embedding(ids).transpose(0, 1), randn(rng, 3, 4));
        check("embedding→sum(0)", v -> v[0].embedding(ids).sum(0), randn(rng, 3, 4));
        check("max→expand", v -> v[0].max(true, 1).expand(3, 4), Tensor.of(new double[] {0, 1, 2, 3, 7, 6, 5, 4, 9, 11, 8, 10}, 3, 4));
        check("var→sum", v -> v[0].var(false, 1, 1).sum(), x);
    }

    // ---------------------------------------------------------------- the checker itself

    /** d(2x)/dx claimed to be 1: gradcheck must fail and name the op and an element. */
    @Test
    void gradcheckCatchesAWrongGradient() {
        Function wrong = new Function() {
            @Override protected Tensor forward(Context ctx, Tensor... in) { return in[0].mul(2.0); }

            @Override protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g}; }
        };
        Gradcheck.Report report = Gradcheck.run("doubling", v -> Function.apply(wrong, v[0]), randn(rng, 2, 3));
        assertThat(report.passed()).as(report.message()).isFalse();
        assertThat(report.message()).contains("doubling").contains("FAILED").contains("input 0 [2, 3] at [");
    }
}
