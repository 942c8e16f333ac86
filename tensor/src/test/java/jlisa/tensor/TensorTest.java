package jlisa.tensor;

import static jlisa.tensor.TestTensors.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

class TensorTest {

    @Test
    void creationFillsShapesAndValues() {
        assertThat(Tensor.zeros(2, 3).toFloatArray()).containsOnly(0f).hasSize(6);
        assertThat(Tensor.ones(4).toFloatArray()).containsExactly(1f, 1f, 1f, 1f);
        assertThat(Tensor.full(2.5, DType.F64, 2).toDoubleArray()).containsExactly(2.5, 2.5);
        assertThat(Tensor.arange(4).toFloatArray()).containsExactly(0f, 1f, 2f, 3f);
        assertThat(Tensor.arange(5, 0, -2, DType.F64).toDoubleArray()).containsExactly(5, 3, 1);
        assertThat(Tensor.scalar(3).dim()).isZero();
        assertThat(Tensor.scalar(3).item()).isEqualTo(3.0);
        assertThat(Tensor.zeros(0, 5).numel()).isZero();
    }

    @Test
    void seededRandomIsReproducibleAndRoughlyStandard() {
        Tensor a = Tensor.randn(new Rng(1), 10_000), b = Tensor.randn(new Rng(1), 10_000);
        assertThat(a.toFloatArray()).containsExactly(b.toFloatArray());
        assertThat(a.mean().item()).isCloseTo(0, org.assertj.core.data.Offset.offset(0.05));
        assertThat(a.var(false, 1).item()).isCloseTo(1, org.assertj.core.data.Offset.offset(0.05));
        Tensor u = Tensor.rand(new Rng(2), -1, 3, DType.F32, 10_000);
        assertThat(u.max().item()).isLessThan(3);
        assertThat(u.neg().max().item()).isLessThanOrEqualTo(1);
    }

    @Test
    void rngStateSavesAndRestores() {
        Rng rng = new Rng(99);
        rng.nextGaussian();                      // leaves a spare normal pending
        long[] state = rng.state();
        double[] first = {rng.nextGaussian(), rng.nextGaussian(), rng.nextDouble(), rng.nextInt(1000)};
        rng.restore(state);
        double[] again = {rng.nextGaussian(), rng.nextGaussian(), rng.nextDouble(), rng.nextInt(1000)};
        assertThat(again).containsExactly(first);
        assertThatThrownBy(() -> rng.restore(new long[3])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("6 longs");
    }

    @Test
    void viewsShareStorageAndReadThroughStrides() {
        Tensor x = Tensor.arange(24).reshape(2, 3, 4);
        Tensor t = x.transpose(0, 2);                       // (4, 3, 2)
        assertThat(t.shape()).containsExactly(4, 3, 2);
        assertThat(t.get(3, 1, 1)).isEqualTo(x.get(1, 1, 3));
        assertThat(t.storage()).isSameAs(x.storage());
        assertThat(t.isContiguous()).isFalse();
        Tensor c = t.contiguous();
        assertThat(c.isContiguous()).isTrue();
        assertClose(c, t, 0);

        Tensor p = x.permute(2, 0, 1);
        assertThat(p.get(2, 1, 0)).isEqualTo(x.get(1, 0, 2));
        Tensor n = x.narrow(2, 1, 2);
        assertThat(n.shape()).containsExactly(2, 3, 2);
        assertThat(n.get(1, 2, 1)).isEqualTo(x.get(1, 2, 2));
        Tensor s = x.slice(2, 0, 4, 3);
        assertThat(s.shape()).containsExactly(2, 3, 2);
        assertThat(s.get(0, 1, 1)).isEqualTo(x.get(0, 1, 3));
        assertThat(x.select(1, 2).get(1, 3)).isEqualTo(x.get(1, 2, 3));
        Tensor e = Tensor.arange(3).reshape(3, 1).expand(2, 3, 4);
        assertThat(e.strides()).containsExactly(0, 1, 0);
        assertThat(e.get(1, 2, 3)).isEqualTo(2);
        assertThat(x.unsqueeze(1).shape()).containsExactly(2, 1, 3, 4);
        assertThat(x.unsqueeze(-1).shape()).containsExactly(2, 3, 4, 1);
        assertThat(x.unsqueeze(1).squeeze(1).shape()).containsExactly(2, 3, 4);

        x.set(100, 0, 0, 1);                                // writes show through every view
        assertThat(t.get(1, 0, 0)).isEqualTo(100);
    }

    @Test
    void viewFollowsPytorchRulesAndReshapeCopiesOnlyWhenNeeded() {
        Tensor x = Tensor.arange(24).reshape(2, 3, 4);
        assertThat(x.view(6, -1).shape()).containsExactly(6, 4);
        assertThat(x.view(6, 4).storage()).isSameAs(x.storage());
        Tensor n = x.narrow(1, 0, 2);                        // (2, 2, 4), strides (12, 4, 1)
        assertThat(n.view(2, 8).storage()).isSameAs(x.storage()); // last two dims are still contiguous
        assertThatThrownBy(() -> n.view(16)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("without a copy");
        Tensor r = n.reshape(16);
        assertThat(r.storage()).isNotSameAs(x.storage());
        assertThat(r.get(4)).isEqualTo(x.get(0, 1, 0));
        Tensor tt = x.transpose(1, 2);                      // (2, 4, 3)
        assertThat(tt.view(2, 4, 3, 1).storage()).isSameAs(x.storage());
        assertThatThrownBy(() -> x.view(5, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(5, -1)").hasMessageContaining("24");
        assertThatThrownBy(() -> x.view(7, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(7, 4)").hasMessageContaining("(2, 3, 4)");
    }

    @Test
    void badDimsAndIndicesNameWhatWasExpected() {
        Tensor x = Tensor.zeros(2, 3);
        assertThatThrownBy(() -> x.transpose(0, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dim 2").hasMessageContaining("rank 2");
        assertThatThrownBy(() -> x.narrow(1, 2, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("size 3");
        assertThatThrownBy(() -> x.expand(4, 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(2, 3)").hasMessageContaining("(4, 3)");
        assertThatThrownBy(() -> x.get(2, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("out of bounds");
        assertThatThrownBy(() -> x.permute(0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("repeats");
        assertThatThrownBy(() -> x.squeeze(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("size 2");
        assertThatThrownBy(() -> Tensor.of(new float[5], 2, 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("5").hasMessageContaining("(2, 3)");
        assertThatThrownBy(() -> new Tensor(x.storage(), new int[] {4}, new int[] {2}, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("storage has 6");
    }

    @Test
    void bf16RoundsToNearestEvenAndReadsAsFloat() {
        assertThat(DType.bf16ToFloat(DType.floatToBf16(1.0f))).isEqualTo(1.0f);
        assertThat(DType.bf16ToFloat(DType.floatToBf16(3.140625f))).isEqualTo(3.140625f);
        // 1 + 2^-8 is halfway between two bf16 values: ties go to even (1.0)
        assertThat(DType.bf16ToFloat(DType.floatToBf16(1f + 0x1p-8f))).isEqualTo(1.0f);
        assertThat(DType.bf16ToFloat(DType.floatToBf16(1f + 0x1.8p-8f))).isEqualTo(1f + 0x1p-7f);
        assertThat(DType.bf16ToFloat(DType.floatToBf16(Float.NaN))).isNaN();
        Tensor w = Tensor.randn(new Rng(3), 0, 1, DType.BF16, 5, 7);
        Tensor f = w.dense();
        assertThat(f.dtype()).isEqualTo(DType.F32);
        assertClose(f, w, 0);
        assertThat(w.to(DType.F32).add(1.0).dtype()).isEqualTo(DType.F32);
    }

    @Test
    void segmentStorageIsReadInPlaceAndCopiedOut() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4L * 12);
            for (int i = 0; i < 12; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, i * 0.5f);
            Tensor t = new Tensor(SegmentStorage.of(DType.F32, seg, MemoryKind.OTHER), new int[] {3, 4}, new int[] {4, 1}, 0);
            assertThat(t.get(2, 3)).isEqualTo(5.5);
            assertThat(t.isDense()).isFalse();
            Tensor d = t.dense();
            assertThat(d.isDense()).isTrue();
            assertThat(d.toFloatArray()).containsExactly(t.toFloatArray());
            assertThat(t.t().contiguous().get(3, 2)).isEqualTo(5.5);
            assertThat(t.mul(2.0).get(1, 1)).isEqualTo(5.0);
            assertThatThrownBy(() -> SegmentStorage.of(DType.F32, seg.asSlice(0, 6), MemoryKind.OTHER))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("6 bytes");
        }
    }

    @Test
    void catJoinsAndSplitViewsAlongADim() {
        Tensor a = Tensor.arange(6).reshape(2, 3), b = Tensor.arange(0, 4, 1, DType.F64).reshape(2, 2);
        Tensor c = Tensor.cat(1, a, b.mul(-1.0), a.narrow(1, 0, 1));
        assertThat(c.shape()).containsExactly(2, 6);
        assertThat(c.dtype()).isEqualTo(DType.F64);
        assertThat(c.toDoubleArray()).containsExactly(0, 1, 2, -0.0, -1, 0, 3, 4, 5, -2, -3, 3);
        Tensor[] parts = c.split(-1, 3, 2, 1);
        assertClose(parts[0], a, 0);
        assertThat(parts[1].storage()).isSameAs(c.storage());
        assertThatThrownBy(() -> Tensor.cat(0, a, b)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(2, 2)").hasMessageContaining("(2, 3)");
        assertThatThrownBy(() -> c.split(1, 3, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("add up to 5");
    }

    @Test
    void inPlaceWritesBumpTheSharedVersionCounter() {
        Tensor x = Tensor.zeros(3, 4);
        Tensor v = x.t();
        int v0 = x.version();
        x.fill(1);
        v.set(2, 0, 1);
        x.narrow(0, 0, 1).copyFrom(Tensor.ones(4));
        assertThat(v.version()).isEqualTo(x.version()).isEqualTo(v0 + 3);
        x.add(1.0);                                          // out-of-place ops do not touch it
        assertThat(x.version()).isEqualTo(v0 + 3);
    }

    @Test
    void everyDtypeCopiesThroughViewsAndSegments() {
        Tensor ids = Tensor.of(new int[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertThat(ids.narrow(1, 1, 2).contiguous().intArray()).containsExactly(2, 3, 5, 6);
        assertThat(ids.t().contiguous().toDoubleArray()).containsExactly(1, 4, 2, 5, 3, 6);
        Tensor bf = Tensor.arange(0, 6, 1, DType.BF16).reshape(2, 3);
        assertThat(bf.narrow(1, 0, 2).contiguous().dtype()).isEqualTo(DType.BF16);
        assertThat(bf.narrow(1, 0, 2).contiguous().toFloatArray()).containsExactly(0, 1, 3, 4);
        try (Arena arena = Arena.ofConfined()) {
            for (DType dt : new DType[] {DType.F64, DType.I32, DType.BF16}) {
                Tensor seg = new Tensor(SegmentStorage.allocate(dt, 6, arena, MemoryKind.OTHER), new int[] {2, 3}, new int[] {3, 1}, 0);
                seg.copyFrom(ids);
                assertThat(seg.toDoubleArray()).as("%s", dt).containsExactly(1, 2, 3, 4, 5, 6);
                assertThat(seg.dense().storage()).isInstanceOf(HeapStorage.class);
            }
        }
    }

    @Test
    void copyFromBroadcastsAndConverts() {
        Tensor dst = Tensor.zeros(DType.F64, 2, 3);
        dst.copyFrom(Tensor.of(new float[] {1, 2, 3}, 3));
        assertThat(dst.toDoubleArray()).containsExactly(1, 2, 3, 1, 2, 3);
        dst.t().copyFrom(Tensor.arange(6).reshape(3, 2));
        assertThat(dst.toDoubleArray()).containsExactly(0, 2, 4, 1, 3, 5);
        assertThatThrownBy(() -> dst.copyFrom(Tensor.zeros(4))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(4,)").hasMessageContaining("(2, 3)");
    }
}
