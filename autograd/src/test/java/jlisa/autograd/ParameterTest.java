package jlisa.autograd;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ParameterTest {

    @Test
    void materializeCopiesReadOnlyBf16AndStridedValuesIntoWritableF32Parameters() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(6 * 4L);
            for (int i = 0; i < 6; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, i + 0.5f);
            Tensor mapped = new Tensor(SegmentStorage.of(DType.F32, seg.asReadOnly(), MemoryKind.PARAMETER), new int[] {2, 3},
                    new int[] {3, 1}, 0);
            Tensor bf16 = Tensor.zeros(DType.BF16, MemoryKind.PARAMETER, 2, 3).copyFrom(Tensor.ones(2, 3));
            Tensor strided = Tensor.zeros(DType.F32, MemoryKind.PARAMETER, 3, 2).copyFrom(Tensor.ones(3, 2)).t();
            for (Tensor t : new Tensor[] {mapped, bf16, strided}) {
                Parameter p = new Parameter("w", t);
                float[] before = t.toFloatArray();
                assertThat(p.materialize()).isSameAs(p);
                Tensor d = p.data();
                assertThat(d.dtype()).isEqualTo(DType.F32);
                assertThat(d.isDense()).isTrue();
                assertThat(d.storage().isReadOnly()).isFalse();
                assertThat(d.storage().kind()).isEqualTo(MemoryKind.PARAMETER);
                assertThat(d.toFloatArray()).containsExactly(before);
            }
        }
        Parameter ready = Parameter.of("b", Tensor.ones(4));
        Tensor data = ready.data();
        assertThat(ready.materialize().data()).isSameAs(data);   // already writable dense F32: untouched
    }
}
