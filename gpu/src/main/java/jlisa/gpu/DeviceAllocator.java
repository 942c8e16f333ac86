package jlisa.gpu;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;

/**
 * A caching allocator for device memory, so that a product or an update does not pay for cuMemAlloc and
 * cuMemFree (each synchronises the device) every time. Requests are rounded up to a size class — multiples
 * of 512 bytes below 1 MiB, then four classes per power of two (at most 25 % slack) — and freed blocks wait
 * in a free list per class for the next request of that class. {@link #emptyCache()} gives the cached
 * blocks back to the driver; it runs by itself, once, when an allocation finds the device out of memory.
 *
 * <p>{@link #free} makes no CUDA call, so the collector's cleaner thread may return blocks.
 */
final class DeviceAllocator {
    private static final long SMALL = 1 << 20;
    private static final long SMALL_GRANULE = 512;

    /** What the allocator needs from the driver. */
    interface Memory {
        long allocate(long bytes);

        void free(long pointer);
    }

    private final Memory memory;
    private final Map<Long, ArrayDeque<Long>> freeBySize = new TreeMap<>();
    private long reservedBytes, cachedBytes, peakReservedBytes, driverAllocations;

    DeviceAllocator(Memory memory) { this.memory = memory; }

    /** The size class a request of {@code bytes} is served from. */
    static long sizeClass(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("device allocation of " + bytes + " bytes");
        if (bytes <= SMALL) return Math.max(SMALL_GRANULE, (bytes + SMALL_GRANULE - 1) / SMALL_GRANULE * SMALL_GRANULE);
        long power = Long.highestOneBit(bytes - 1);       // power < bytes <= 2·power
        long quarter = power / 4;
        return (bytes + quarter - 1) / quarter * quarter;  // power + i·power/4 for i in 1..4
    }

    /** A device block of at least {@code bytes} (its size is {@link #sizeClass}); give it back with {@link #free}. */
    synchronized long allocate(long bytes) {
        long size = sizeClass(bytes);
        ArrayDeque<Long> cached = freeBySize.get(size);
        if (cached != null && !cached.isEmpty()) {
            cachedBytes -= size;
            return cached.pop();
        }
        long pointer;
        try {
            pointer = memory.allocate(size);
        } catch (CudaException e) {
            if (!e.isOutOfMemory() || cachedBytes == 0) throw e;
            emptyCache();   // blocks of other sizes may be what the device lacks
            pointer = memory.allocate(size);
        }
        driverAllocations++;
        reservedBytes += size;
        peakReservedBytes = Math.max(peakReservedBytes, reservedBytes);
        return pointer;
    }

    /** Returns a block from {@link #allocate} of {@code bytes} (the size asked for) to the cache. */
    synchronized void free(long pointer, long bytes) {
        long size = sizeClass(bytes);
        freeBySize.computeIfAbsent(size, s -> new ArrayDeque<>()).push(pointer);
        cachedBytes += size;
    }

    /** Gives every cached block back to the driver. */
    synchronized void emptyCache() {
        for (Map.Entry<Long, ArrayDeque<Long>> e : freeBySize.entrySet()) {
            for (long pointer : e.getValue()) {
                memory.free(pointer);
                reservedBytes -= e.getKey();
            }
        }
        freeBySize.clear();
        cachedBytes = 0;
    }

    /** Bytes held from the driver: in use plus cached. */
    synchronized long reservedBytes() { return reservedBytes; }

    /** Bytes in the free lists, ready for reuse. */
    synchronized long cachedBytes() { return cachedBytes; }

    synchronized long peakReservedBytes() { return peakReservedBytes; }

    /** How many times the driver was asked for memory (a warm cache stops this count). */
    synchronized long driverAllocations() { return driverAllocations; }
}
