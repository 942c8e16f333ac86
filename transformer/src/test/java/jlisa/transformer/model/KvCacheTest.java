package jlisa.transformer.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Rows of a KV cache keep their own lengths; views of rows share the buffers. */
class KvCacheTest {
    final GPT2 model = new GPT2(GPT2.Config.of(31, 16, 16, 1, 2), new Rng(3));

    @Test
    void aViewOfRowsWritesThoseRowsOnly() {
        KvCache cache = model.newCache(3, 8);
        try {
            model.logitsNoGrad(Tensor.of(new int[] {1, 2, 3}, 1, 3), cache.rows(1));
            model.logitsNoGrad(Tensor.of(new int[] {4, 5, 6, 7}, 2, 2), cache.rows(2, 0));
            assertThat(cache.lengths()).containsExactly(2, 3, 2);
            assertThat(cache.rows(2, 1).lengths()).containsExactly(2, 3);
            assertThatThrownBy(cache::length).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("the rows hold different lengths [2, 3, 2]");
            assertThat(cache.rows(0, 2).length()).isEqualTo(2);
            cache.rows(1).clear();
            assertThat(cache.lengths()).containsExactly(2, 0, 2);
        } finally {
            cache.release();
        }
    }

    @Test
    void misuseIsRefusedWithTheReason() {
        KvCache cache = model.newCache(2, 4);
        try {
            assertThatThrownBy(() -> cache.rows(0, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("picked twice");
            assertThatThrownBy(() -> cache.rows(2)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("row 2 outside [0, 2)");
            assertThatThrownBy(() -> cache.rows(1).release()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("release the cache it came from");
            assertThatThrownBy(() -> model.logitsNoGrad(Tensor.of(new int[] {1, 2, 3}, 3, 1), cache))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("have 3 rows but the KV cache holds 2");
            model.logitsNoGrad(Tensor.of(new int[] {1, 2, 3}, 1, 3), cache.rows(0));
            assertThatThrownBy(() -> model.logitsNoGrad(Tensor.of(new int[] {1, 2, 3, 4}, 2, 2), cache))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("row 0 holds 3 cached + 2 new > capacity 4");
        } finally {
            cache.release();
        }
    }
}
