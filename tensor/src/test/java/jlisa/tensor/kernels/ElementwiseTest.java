package jlisa.tensor.kernels;

import static jlisa.tensor.TestTensors.assertClose;
import static jlisa.tensor.TestTensors.forEachIndex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;

import jlisa.tensor.DType;
import jlisa.tensor.Parallel;
import jlisa.tensor.Rng;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;
import jlisa.tensor.TestTensors;
import jlisa.tensor.kernels.Elementwise.Binary;
import jlisa.tensor.kernels.Elementwise.Unary;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

class ElementwiseTest {
    private static final int[][][] BROADCAST_CASES = {
        {{1}, {1}}, {{17}, {17}}, {{33}, {1}}, {{1}, {100}}, {{4, 17}, {17}}, {{4, 1}, {1, 33}},
        {{3, 1, 5}, {2, 1}}, {{2, 3, 4, 5}, {3, 1, 5}}, {{0, 3}, {3}}, {{}, {7, 3}}, {{65, 3}, {65, 1}},
    };

    /** The naive float64 reference: op applied at every broadcast index. */
    private static Tensor reference(Binary op, Tensor a, Tensor b) {
        int[] shape = Shapes.broadcast(a.shape(), b.shape(), "ref");
        Tensor out = Tensor.zeros(DType.F64, shape);
        forEachIndex(shape, idx -> out.set(op.apply(a.get(project(idx, a.shape())), b.get(project(idx, b.shape()))), idx));
        return out;
    }

    private static int[] project(int[] idx, int[] shape) {
        int[] r = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            int j = idx.length - shape.length + i;
            r[i] = shape[i] == 1 ? 0 : idx[j];
        }
        return r;
    }

    @ParameterizedTest
    @EnumSource(Binary.class)
    void binaryOpsMatchTheFloat64ReferenceUnderBroadcastingAndViews(Binary op) {
        Rng rng = new Rng(op.ordinal());
        for (int[][] c : BROADCAST_CASES) {
            for (boolean strided : new boolean[] {false, true}) {
                for (DType dtype : new DType[] {DType.F32, DType.F64}) {
                    Tensor a = TestTensors.random(rng, dtype, strided, c[0]);
                    Tensor b = TestTensors.random(rng, dtype, !strided, c[1]);
                    if (op == Binary.POW) a = a.abs().add(0.1);          // real powers need a positive base
                    Tensor got = Elementwise.binary(op, a, b);
                    assertThat(got.dtype()).isEqualTo(dtype);
                    assertClose(got, reference(op, a, b), dtype == DType.F32 ? 2e-6 : 1e-15);
                    assertClose(Elementwise.binary(op, b.abs().add(0.1), a), reference(op, b.abs().add(0.1), a),
                            dtype == DType.F32 ? 2e-6 : 1e-15);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Unary.class)
    void unaryOpsMatchTheFloat64Reference(Unary op) {
        Rng rng = new Rng(100 + op.ordinal());
        for (int[] shape : new int[][] {{}, {1}, {15}, {16}, {17}, {3, 33}, {2, 65, 3}, {0}}) {
            for (boolean strided : new boolean[] {false, true}) {
                for (DType dtype : new DType[] {DType.F32, DType.F64}) {
                    Tensor x = TestTensors.random(rng, dtype, strided, shape);
                    if (op == Unary.LOG || op == Unary.SQRT || op == Unary.RSQRT) x = x.abs().add(0.01);
                    Tensor ref = Tensor.zeros(DType.F64, shape);
                    Tensor xx = x;
                    forEachIndex(shape, idx -> ref.set(op.apply(xx.get(idx)), idx));
                    assertClose(Elementwise.unary(op, x), ref, dtype == DType.F32 ? 4e-6 : 1e-15);
                }
            }
        }
    }

    @Test
    void specialValuesFollowIeeeAndPytorch() {
        Tensor x = Tensor.of(new float[] {Float.NaN, -0f, Float.POSITIVE_INFINITY, -1, 2}, 5);
        assertThat(x.relu().toFloatArray()).containsExactly(Float.NaN, 0f, Float.POSITIVE_INFINITY, 0f, 2f);
        assertThat(x.maximum(Tensor.zeros(5)).toFloatArray()[0]).isNaN();
        assertThat(x.exp().toFloatArray()[2]).isEqualTo(Float.POSITIVE_INFINITY);
        float[] sig = Tensor.of(new float[] {-100f, 100f, -90f, 0f, -1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f, 12f, -100f}, 17)
                .sigmoid().toFloatArray();
        assertThat(sig[0]).isEqualTo(sig[16]).isBetween(0f, 3.9e-44f);   // torch: 3.7835e-44; vector lane == scalar tail
        assertThat(sig[1]).isEqualTo(1f);
        assertThat(sig[3]).isEqualTo(0.5f);
    }

    @Test
    void scalarOpsAndMixedDtypesPromote() {
        Tensor a = Tensor.arange(20);
        assertThat(a.mul(2).add(1).toFloatArray()[19]).isEqualTo(39f);
        assertThat(a.add(Tensor.arange(0, 20, 1, DType.F64)).dtype()).isEqualTo(DType.F64);
        assertThat(Tensor.of(new int[] {1, 2}, 2).mul(1.5).toFloatArray()).containsExactly(1.5f, 3f);
        assertThat(a.to(DType.BF16).add(1.0).dtype()).isEqualTo(DType.F32);
    }

    @Test
    void mismatchedShapesNameBothShapes() {
        assertThatThrownBy(() -> Tensor.zeros(2, 3).add(Tensor.zeros(4, 3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(2, 3)").hasMessageContaining("(4, 3)").hasMessageContaining("add");
        assertThatThrownBy(() -> Tensor.zeros(5).mul(Tensor.zeros(3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(5,)").hasMessageContaining("(3,)");
    }

    @ParameterizedTest
    @EnumSource(Unary.class)
    void vectorLanesAndScalarTailsGiveTheSameBits(Unary op) {
        float[] x = Tensor.randn(new Rng(31), 0, 4, DType.F32, 67).toFloatArray();
        if (op == Unary.LOG || op == Unary.SQRT || op == Unary.RSQRT) for (int i = 0; i < x.length; i++) x[i] = Math.abs(x[i]);
        float[] whole = new float[67], shifted = new float[67], strided = new float[67];
        Elementwise.unaryRun(op, x, 0, 1, whole, 0, 67);      // x[0..63] in lanes, x[64..66] in the tail
        for (int start = 1; start < 67; start += 21) {
            Elementwise.unaryRun(op, x, start, 1, shifted, start, 67 - start);
            for (int i = start; i < 67; i++) assertThat(shifted[i]).as("%s at %d from %d", op, i, start).isEqualTo(whole[i]);
        }
        Elementwise.unaryRun(op, x, 0, 1, strided, 0, 0);
        float[] x2 = new float[134];
        for (int i = 0; i < 67; i++) x2[2 * i] = x[i];
        Elementwise.unaryRun(op, x2, 0, 2, strided, 0, 67);   // all scalar
        assertThat(strided).containsExactly(whole);
    }

    @Test
    void longRunsSplitAcrossThreadsGiveTheSameBits() {
        Rng rng = new Rng(77);
        Tensor a = Tensor.randn(rng, 3, 100_003), b = Tensor.randn(rng, 100_003);
        Tensor[] one = new Tensor[2], two = new Tensor[2];
        Parallel.withThreads(1, () -> { one[0] = a.mul(b); one[1] = a.t().tanh(); });
        Parallel.withThreads(2, () -> { two[0] = a.mul(b); two[1] = a.t().tanh(); });
        assertThat(two[0].toFloatArray()).isEqualTo(one[0].toFloatArray());   // Arrays.equals: bit-exact, O(n)
        assertThat(two[1].toFloatArray()).isEqualTo(one[1].toFloatArray());
        assertThat(one[0].get(2, 99_999)).isEqualTo((float) (a.get(2, 99_999) * b.get(99_999)));
    }

    @Test
    void inPlaceUpdatesBroadcastAndBumpTheVersion() {
        Tensor acc = Tensor.arange(6).reshape(2, 3);
        int v = acc.version();
        acc.addInPlace(Tensor.of(new float[] {10, 20, 30}, 3)).mulInPlace(0.5);
        assertThat(acc.toFloatArray()).containsExactly(5, 10.5f, 16, 6.5f, 12, 17.5f);
        assertThat(acc.version()).isEqualTo(v + 2);
        assertThatThrownBy(() -> acc.addInPlace(Tensor.zeros(4, 2, 3))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(4, 2, 3)").hasMessageContaining("destination is (2, 3)");
        assertThatThrownBy(() -> acc.t().addInPlace(Tensor.zeros(3, 2))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dense");
    }

    @Test
    void resultsAreFreshContiguousTensors() {
        Tensor a = Tensor.arange(12).reshape(3, 4).t();
        Tensor r = a.neg();
        assertThat(r.isContiguous()).isTrue();
        assertThat(r.storage()).isNotSameAs(a.storage());
        assertThat(Arrays.equals(r.shape(), new int[] {4, 3})).isTrue();
        assertThat(r.get(3, 2)).isEqualTo(-11);
    }
}
