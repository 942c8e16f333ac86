package jlisa.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ArrayPoolTest {
    private static final int N = ArrayPool.MIN_LENGTH + 17;

    @BeforeEach void empty() { ArrayPool.clear(); }

    @Test void releasedArraysAreReusedAndZerosAreZero() {
        Tensor a = Tensor.zeros(N);
        float[] array = a.floatArray();
        a.fill(3);
        a.storage().release();
        assertThat(ArrayPool.cachedBytes()).isEqualTo(4L * N);
        Tensor b = Tensor.zeros(N);
        assertThat(b.floatArray()).isSameAs(array);
        assertThat(b.floatArray()).containsOnly(0f);
        assertThat(ArrayPool.cachedBytes()).isZero();
    }

    @Test void otherLengthsAreNotServedFromTheCache() {
        Tensor a = Tensor.zeros(N);
        float[] array = a.floatArray();
        a.storage().release();
        assertThat(Tensor.zeros(N + 1).floatArray()).isNotSameAs(array);
        assertThat(Tensor.zeros(N).floatArray()).isSameAs(array);
    }

    @Test void aReleasedStorageFailsLoudlyInsteadOfReadingAReusedArray() {
        Tensor a = Tensor.zeros(N);
        a.storage().release();
        a.storage().release(); // idempotent: the array is given back once
        assertThat(ArrayPool.cachedBytes()).isEqualTo(4L * N);
        assertThatThrownBy(a::floatArray).isInstanceOf(IllegalStateException.class).hasMessageContaining("released");
    }

    @Test void wrappedArraysStayTheCallers() {
        float[] mine = new float[N];
        HeapStorage s = HeapStorage.wrap(mine, MemoryKind.OTHER);
        s.release();
        assertThat(ArrayPool.cachedBytes()).isZero();
    }

    @Test void smallArraysAreLeftToTheJvm() {
        Tensor a = Tensor.zeros(16);
        a.storage().release();
        assertThat(ArrayPool.cachedBytes()).isZero();
    }

    @Test void emptyIsPoisonedUnderTestsSoUnwrittenOutputsShow() {
        // Surefire runs with -Djlisa.pool.poison=true (see the parent pom).
        assertThat(Tensor.empty(N).floatArray()).containsOnly(Float.NaN);
        assertThat(Tensor.empty(3).floatArray()).containsOnly(Float.NaN);
    }
}
