package jlisa.tensor;

import java.lang.ref.SoftReference;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * A cache of float arrays that released storages gave back, handed out again to storages of the same length.
 *
 * <p>Why: a training step allocates the same activations and gradients every step (gigabytes for GPT-2). Left to
 * the garbage collector, each young collection copies the still-live ones (a step's gradients) and the heap grows
 * to several times the live bytes; with the arrays reused, a step after the first allocates almost nothing. This
 * is what PyTorch's caching allocator does for device memory. Only arrays that {@link HeapStorage#allocate}
 * created come here, and only when their storage is released explicitly (the storage forgets its array then, so a
 * use after release fails loudly instead of reading someone else's data). Cached arrays are free memory: the
 * {@link MemoryLedger} does not count them; {@link #cachedBytes()} says how much there is.
 *
 * <p>The cache holds at most {@code -Djlisa.pool.maxMiB} (default: a quarter of the maximum heap); beyond that
 * the oldest lengths are dropped to the collector. Arrays shorter than {@link #MIN_LENGTH} are not cached: the
 * JVM allocates small arrays faster than a lookup. With {@code -Djlisa.pool.poison=true} (the tests run with it)
 * every array handed out with unspecified contents is filled with NaN first.
 *
 * <p>Thread-safe: the pool is process-wide and guarded by one lock.
 */
public final class ArrayPool {
    /** Arrays below this many floats are left to the JVM. */
    static final int MIN_LENGTH = 1 << 12;
    /** Tests set it: unspecified contents become NaN, so a kernel that leaves part of an output unwritten shows. */
    private static final boolean POISON = Boolean.getBoolean("jlisa.pool.poison");
    private static final long MAX_BYTES = Long.getLong("jlisa.pool.maxMiB", Runtime.getRuntime().maxMemory() / 4 >> 20) << 20;

    // Insertion-ordered, so eviction drops the lengths that were given back longest ago. Soft references: the
    // collector may take a cached array back when the heap runs short, so the cache can never be why a run fails
    // with OutOfMemoryError (say, after many lengths that will not come again).
    private static final Map<Integer, ArrayDeque<SoftReference<float[]>>> FREE = new java.util.LinkedHashMap<>();
    private static long cachedBytes;
    private static long hits, misses;

    private ArrayPool() {}

    /** A float array of exactly {@code length} elements, zero-filled when {@code zero}, else with stale contents. */
    static float[] floats(int length, boolean zero) {
        float[] a = length >= MIN_LENGTH ? take(length) : null;
        if (a == null) a = new float[length];
        else if (zero) java.util.Arrays.fill(a, 0f);
        if (!zero && POISON) java.util.Arrays.fill(a, Float.NaN);
        return a;
    }

    private static synchronized float[] take(int length) {
        ArrayDeque<SoftReference<float[]>> q = FREE.get(length);
        float[] a = null;
        while (a == null && q != null && !q.isEmpty()) {
            a = q.pollLast().get();           // null when the collector took it back
            cachedBytes -= 4L * length;
        }
        if (q != null && q.isEmpty()) FREE.remove(length);
        if (a == null) misses++;
        else hits++;
        return a;
    }

    /** Takes back an array nobody references any more. */
    static synchronized void give(float[] a) {
        if (a.length < MIN_LENGTH || 4L * a.length > MAX_BYTES) return;
        // Re-insert the length at the end of the order: it was just in use.
        ArrayDeque<SoftReference<float[]>> q = FREE.remove(a.length);
        if (q == null) q = new ArrayDeque<>();
        q.addLast(new SoftReference<>(a));
        FREE.put(a.length, q);
        cachedBytes += 4L * a.length;
        Iterator<Map.Entry<Integer, ArrayDeque<SoftReference<float[]>>>> oldest = FREE.entrySet().iterator();
        while (cachedBytes > MAX_BYTES && oldest.hasNext()) {
            Map.Entry<Integer, ArrayDeque<SoftReference<float[]>>> e = oldest.next();
            while (cachedBytes > MAX_BYTES && !e.getValue().isEmpty()) {
                e.getValue().pollFirst();
                cachedBytes -= 4L * e.getKey();
            }
            if (e.getValue().isEmpty()) oldest.remove();
        }
    }

    /** Bytes of arrays waiting to be reused (an upper bound: the collector may have taken some back). */
    public static synchronized long cachedBytes() { return cachedBytes; }

    /** Allocations served from the cache, and those that were not (for benchmarks and tests). */
    public static synchronized long[] hitsAndMisses() { return new long[] {hits, misses}; }

    /** Drops every cached array (the collector frees them). */
    public static synchronized void clear() {
        FREE.clear();
        cachedBytes = 0;
    }
}
