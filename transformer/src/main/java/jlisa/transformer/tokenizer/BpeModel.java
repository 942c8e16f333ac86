package jlisa.transformer.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model proper: one pre-token in, ids out, for both styles a tokenizer.json uses.
 * Byte-level (GPT-2, Llama 3): the word is spelled in the byte-level alphabet, one symbol per
 * char. SentencePiece-style (Llama 2, Mistral, Gemma): one symbol per code point; a code point
 * missing from the vocabulary becomes its UTF-8 bytes as {@code <0xAB>} tokens with
 * {@code byte_fallback}, else the unk token (consecutive ones fused into one with
 * {@code fuse_unk}), as HF's {@code BPE::merge_word} does. Then both styles share one merge
 * loop: it repeatedly merges the adjacent pair of lowest merge rank
 * (leftmost first on ties), as HF's {@code BPE::merge_word} does, with a min-heap of
 * candidate pairs over a linked list of symbols: O(n log n) per word.
 *
 * <p>Results are cached per word (text repeats); the cache is cleared when it reaches
 * {@link #CACHE_CAPACITY} words. Thread-safe.
 */
final class BpeModel {
    static final int CACHE_CAPACITY = 10_000;
    private static final int CACHE_MAX_WORD = 64;

    private final Map<String, Integer> vocab;
    private final LongLongMap merges;       // (left id, right id) -> (rank, merged id)
    private final int[] charIds;            // byte-level char -> id, -1 when absent
    private final int unkId;                // -1: no unk token
    private final boolean ignoreMerges;
    private final boolean byteLevel;
    private final boolean fuseUnk;
    private final int[] byteFallbackIds;    // byte -> id of <0xAB>; null without byte_fallback
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    BpeModel(Map<String, Integer> vocab, LongLongMap merges, int unkId, boolean ignoreMerges) {
        this(vocab, merges, unkId, ignoreMerges, true, false, false);
    }

    /** {@code byteLevel} false: SentencePiece-style symbols per code point, with byte fallback and unk fusing. */
    BpeModel(Map<String, Integer> vocab, LongLongMap merges, int unkId, boolean ignoreMerges, boolean byteLevel,
            boolean byteFallback, boolean fuseUnk) {
        this.byteLevel = byteLevel;
        this.fuseUnk = fuseUnk;
        if (byteFallback) {
            byteFallbackIds = new int[256];
            for (int b = 0; b < 256; b++) byteFallbackIds[b] = vocab.getOrDefault(byteToken(b), -1);
        } else {
            byteFallbackIds = null;
        }
        this.vocab = vocab;
        this.merges = merges;
        this.unkId = unkId;
        this.ignoreMerges = ignoreMerges;
        this.charIds = new int[324];
        for (int c = 0; c < charIds.length; c++) charIds[c] = vocab.getOrDefault(String.valueOf((char) c), -1);
    }

    /** The SentencePiece byte-fallback token of byte {@code b}: {@code <0x41>} for 'A'. */
    static String byteToken(int b) {
        return String.format("<0x%02X>", b);
    }

    static long pair(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    /** Appends the ids of byte-level {@code word} to {@code out}. */
    void tokenize(String word, IntList out) {
        if (ignoreMerges) {
            Integer id = vocab.get(word);
            if (id != null) {
                out.add(id);
                return;
            }
        }
        int[] cached = cache.get(word);
        if (cached == null) {
            cached = merge(word);
            if (word.length() <= CACHE_MAX_WORD) {
                if (cache.size() >= CACHE_CAPACITY) cache.clear();
                cache.put(word, cached);
            }
        }
        out.addAll(cached);
    }

    int cacheSize() {
        return cache.size();
    }

    private int[] merge(String word) {
        int[] id = byteLevel ? byteLevelSymbols(word) : codePointSymbols(word);
        int n = id.length;
        int[] prev = new int[n], next = new int[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i + 1 < n; i++) push(heap, id, i, i + 1);
        int alive = n;
        while (!heap.isEmpty()) {
            long top = heap.poll();
            int rank = (int) (top >>> 32), pos = (int) top;
            int right = next[pos];
            if (id[pos] < 0 || right < 0) continue;                  // merged away since pushed
            long m = merges.get(pair(id[pos], id[right]));
            if (m == LongLongMap.ABSENT || (int) (m >>> 32) != rank) continue;   // pair changed
            id[pos] = (int) m;
            id[right] = -1;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            alive--;
            if (prev[pos] >= 0) push(heap, id, prev[pos], pos);
            if (next[pos] >= 0) push(heap, id, pos, next[pos]);
        }
        int[] out = new int[alive];
        for (int i = 0, k = 0; i >= 0 && k < alive; i = next[i]) out[k++] = id[i];
        return out;
    }

    private int[] byteLevelSymbols(String word) {
        int[] id = new int[word.length()];
        for (int i = 0; i < id.length; i++) {
            char c = word.charAt(i);
            int v = c < charIds.length ? charIds[c] : -1;
            if (v < 0) {
                if (unkId < 0) throw new IllegalStateException("BPE: character U+" + Integer.toHexString(c)
                        + " of word '" + word + "' is not in the vocabulary and there is no unk_token");
                v = unkId;
            }
            id[i] = v;
        }
        return id;
    }

    /** HF's merge_word initial symbols for a non-byte-level vocabulary, quirks included (see below). */
    private int[] codePointSymbols(String word) {
        IntList out = new IntList();
        boolean unkPending = false;         // an unk symbol not yet added, so later unknown chars can fuse into it
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            int len = Character.charCount(cp);
            String ch = word.substring(i, i + len);
            i += len;
            Integer v = vocab.get(ch);
            if (v != null) {
                if (unkPending) out.add(unkId);
                unkPending = false;
                out.add(v);
                continue;
            }
            if (byteFallbackIds != null) {
                byte[] b = ch.getBytes(StandardCharsets.UTF_8);
                boolean all = true;
                for (byte x : b) all &= byteFallbackIds[x & 0xFF] >= 0;
                if (all) {
                    // HF adds the byte tokens without first adding a pending unk, so the unk lands after them
                    for (byte x : b) out.add(byteFallbackIds[x & 0xFF]);
                    continue;
                }
            }
            if (unkId < 0) continue;        // HF drops a character it cannot represent when there is no unk
            if (unkPending && !fuseUnk) out.add(unkId);
            unkPending = true;
        }
        if (unkPending) out.add(unkId);
        return out.toArray();
    }

    private void push(LongHeap heap, int[] id, int left, int right) {
        long m = merges.get(pair(id[left], id[right]));
        if (m != LongLongMap.ABSENT) heap.add((m & 0xFFFFFFFF00000000L) | left);
    }

    /** Min-heap of longs: (rank << 32 | position), so ties go to the leftmost pair. */
    private static final class LongHeap {
        private long[] a;
        private int size;

        LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void add(long v) {
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (a[parent] <= v) break;
                a[i] = a[parent];
                i = parent;
            }
            a[i] = v;
        }

        long poll() {
            long top = a[0], v = a[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) break;
                if (child + 1 < size && a[child + 1] < a[child]) child++;
                if (a[child] >= v) break;
                a[i] = a[child];
                i = child;
            }
            a[i] = v;
            return top;
        }
    }

    /** Open-addressing long → long map; keys are never -1 (ids are non-negative). */
    static final class LongLongMap {
        static final long ABSENT = Long.MIN_VALUE;
        private static final long EMPTY = -1L;
        private long[] keys, values;
        private int size;

        LongLongMap(int expected) {
            int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
            keys = new long[cap];
            values = new long[cap];
            Arrays.fill(keys, EMPTY);
        }

        private int slot(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            return (int) (h >>> 40) & (keys.length - 1);
        }

        long get(long key) {
            for (int i = slot(key); ; i = (i + 1) & (keys.length - 1)) {
                if (keys[i] == key) return values[i];
                if (keys[i] == EMPTY) return ABSENT;
            }
        }

        /** Stores unless present; returns whether it stored. */
        boolean putIfAbsent(long key, long value) {
            if ((size + 1) * 2 > keys.length) grow();
            for (int i = slot(key); ; i = (i + 1) & (keys.length - 1)) {
                if (keys[i] == key) return false;
                if (keys[i] == EMPTY) {
                    keys[i] = key;
                    values[i] = value;
                    size++;
                    return true;
                }
            }
        }

        private void grow() {
            long[] k = keys, v = values;
            keys = new long[k.length * 2];
            values = new long[k.length * 2];
            Arrays.fill(keys, EMPTY);
            size = 0;
            for (int i = 0; i < k.length; i++) if (k[i] != EMPTY) putIfAbsent(k[i], v[i]);
        }

        int size() {
            return size;
        }
    }

    /** Growable int array. */
    static final class IntList {
        private int[] a = new int[16];
        private int size;

        void add(int v) {
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            a[size++] = v;
        }

        void addAll(int[] vs) {
            if (size + vs.length > a.length) a = Arrays.copyOf(a, Math.max(a.length * 2, size + vs.length));
            System.arraycopy(vs, 0, a, size, vs.length);
            size += vs.length;
        }

        void clear() {
            size = 0;
        }

        int[] toArray() {
            return Arrays.copyOf(a, size);
        }
    }
}
