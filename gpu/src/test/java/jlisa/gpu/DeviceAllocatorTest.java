package jlisa.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The caching allocator's size classes, reuse and out-of-memory retry, over a pretend driver. */
class DeviceAllocatorTest {

    /** Hands out increasing addresses; fails with out-of-memory beyond {@code limit} bytes in use. */
    static final class PretendDriver implements DeviceAllocator.Memory {
        final List<Long> freed = new ArrayList<>();
        long next = 1 << 20, used, limit = Long.MAX_VALUE;
        final java.util.Map<Long, Long> sizes = new java.util.HashMap<>();

        @Override public long allocate(long bytes) {
            if (used + bytes > limit) throw new CudaException("cuMemAlloc_v2", 2, "CUDA_ERROR_OUT_OF_MEMORY", null);
            long p = next;
            next += bytes;
            used += bytes;
            sizes.put(p, bytes);
            return p;
        }

        @Override public void free(long pointer) {
            freed.add(pointer);
            used -= sizes.remove(pointer);
        }
    }

    @Test void sizeClassesRoundUpByAtMostAQuarter() {
        assertThat(DeviceAllocator.sizeClass(0)).isEqualTo(512);
        assertThat(DeviceAllocator.sizeClass(513)).isEqualTo(1024);
        assertThat(DeviceAllocator.sizeClass(1 << 20)).isEqualTo(1 << 20);
        assertThat(DeviceAllocator.sizeClass((1 << 20) + 1)).isEqualTo((1 << 20) + (1 << 18));
        assertThat(DeviceAllocator.sizeClass(3L << 29)).isEqualTo(3L << 29);
        for (long b = 1; b < 1L << 34; b = b * 3 + 7) {
            long c = DeviceAllocator.sizeClass(b);
            assertThat(c).isGreaterThanOrEqualTo(b);
            if (b > 1 << 20) assertThat((double) c / b).isLessThanOrEqualTo(1.25);
        }
    }

    @Test void freedBlocksServeTheNextRequestOfTheirClass() {
        PretendDriver driver = new PretendDriver();
        DeviceAllocator a = new DeviceAllocator(driver);
        long p = a.allocate(1000);
        a.free(p, 1000);
        assertThat(a.allocate(900)).isEqualTo(p);   // same class: no new driver allocation
        assertThat(a.driverAllocations()).isEqualTo(1);
        long q = a.allocate(5000);
        assertThat(q).isNotEqualTo(p);
        assertThat(a.reservedBytes()).isEqualTo(1024 + 5120);
        a.free(q, 5000);
        assertThat(a.cachedBytes()).isEqualTo(5120);
        a.emptyCache();
        assertThat(driver.freed).containsExactly(q);
        assertThat(a.reservedBytes()).isEqualTo(1024);
    }

    @Test void outOfMemoryFreesTheCacheAndTriesOnceMore() {
        PretendDriver driver = new PretendDriver();
        driver.limit = 4 << 20;
        DeviceAllocator a = new DeviceAllocator(driver);
        long big = a.allocate(3 << 20);
        a.free(big, 3 << 20);
        long other = a.allocate(2 << 20);   // does not fit beside the cached block: the cache goes back first
        assertThat(driver.freed).containsExactly(big);
        assertThat(a.reservedBytes()).isEqualTo(2 << 20);
        assertThatThrownBy(() -> a.allocate(3 << 20)).isInstanceOf(CudaException.class)
                .hasMessage("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)");
        a.free(other, 2 << 20);
    }
}
