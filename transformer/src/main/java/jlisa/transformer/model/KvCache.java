package jlisa.transformer.model;

import java.util.Arrays;

import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Attention;

/**
 * Keys and values of every layer for the tokens seen so far, so generation feeds one new token per
 * step instead of the whole sequence. One (B, Hkv, maxLen, D) buffer per layer for keys and one for
 * values, allocated once (counted as ACTIVATION, in the account of the model that made it). Closing it gives the
 * buffers back.
 *
 * <p>Each row keeps its own length, so the rows of a batch may hold prompts of different lengths: row b's next
 * token sits at position {@link #length(int) length(b)} and attends to that row's cached keys only. Nothing is
 * padded and no mask is needed; the price is one attention call per row when the rows differ, while the matmuls
 * around attention still see the whole batch. {@link #rows} gives a view of some rows (a prompt's prefill, or the
 * rows still generating).
 *
 * <p>Not thread-safe: one forward pass at a time writes it, one generation at a time per cache.
 */
public final class KvCache implements AutoCloseable {
    private final Tensor[] keys, values;
    private final int maxLen;
    private final int[] lengths;   // per row of the buffers; shared with views
    private final int[] rows;      // this cache's rows in the buffers, in batch order
    private final boolean owner;   // false for a view: the buffers belong to the cache it came from

    public KvCache(int layers, int batch, int kvHeads, int maxLen, int headDim) {
        if (maxLen < 1) throw new IllegalArgumentException("kv cache: maxLen must be ≥ 1, got " + maxLen);
        if (batch < 1) throw new IllegalArgumentException("kv cache: batch must be ≥ 1, got " + batch);
        keys = new Tensor[layers];
        values = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            keys[l] = Tensor.zeros(DType.F32, MemoryKind.ACTIVATION, batch, kvHeads, maxLen, headDim);
            values[l] = Tensor.zeros(DType.F32, MemoryKind.ACTIVATION, batch, kvHeads, maxLen, headDim);
        }
        this.maxLen = maxLen;
        this.lengths = new int[batch];
        this.rows = identity(batch);
        this.owner = true;
    }

    private KvCache(KvCache of, int[] rows) {
        this.keys = of.keys;
        this.values = of.values;
        this.maxLen = of.maxLen;
        this.lengths = of.lengths;
        this.rows = rows;
        this.owner = false;
    }

    /** Rows in this cache (the batch size of the ids it accepts). */
    public int batch() { return rows.length; }

    /** Tokens cached so far (the position of the next token) when every row holds as many; see {@link #length(int)}. */
    public int length() {
        int n = length(0);
        for (int i = 1; i < rows.length; i++) {
            if (length(i) != n) {
                throw new IllegalStateException("kv cache: the rows hold different lengths " + Arrays.toString(lengths())
                        + "; ask length(row)");
            }
        }
        return n;
    }

    /** Tokens cached so far in row {@code row} of this cache: the position of that row's next token. */
    public int length(int row) {
        if (row < 0 || row >= rows.length) {
            throw new IndexOutOfBoundsException("kv cache: row " + row + " outside [0, " + rows.length + ")");
        }
        return lengths[rows[row]];
    }

    /** Every row's length, in batch order. */
    public int[] lengths() {
        int[] out = new int[rows.length];
        for (int i = 0; i < rows.length; i++) out[i] = lengths[rows[i]];
        return out;
    }

    /** True when every row holds as many tokens. */
    public boolean sameLengths() {
        for (int i = 1; i < rows.length; i++) if (lengths[rows[i]] != lengths[rows[0]]) return false;
        return true;
    }

    public int maxLength() { return maxLen; }

    /**
     * A view of rows {@code picked} of this cache, in that order: it shares the buffers and the lengths, so what is
     * fed through the view lands in those rows. A view owns nothing; release the cache it came from.
     */
    public KvCache rows(int... picked) {
        if (picked.length == 0) throw new IllegalArgumentException("kv cache: a view needs at least one row");
        int[] mapped = new int[picked.length];
        boolean[] taken = new boolean[lengths.length];
        for (int i = 0; i < picked.length; i++) {
            if (picked[i] < 0 || picked[i] >= rows.length) {
                throw new IndexOutOfBoundsException("kv cache: row " + picked[i] + " outside [0, " + rows.length + ")");
            }
            mapped[i] = rows[picked[i]];
            if (taken[mapped[i]]) throw new IllegalArgumentException("kv cache: row " + picked[i] + " picked twice in "
                    + Arrays.toString(picked));
            taken[mapped[i]] = true;
        }
        return new KvCache(this, mapped);
    }

    /**
     * Writes layer {@code layer}'s new keys and values k, v (B, Hkv, T, D) after each row's cached ones and returns
     * the causal attention (B, H, T, D) of q (B, H, T, D) over all of that row's keys, written into {@code out} when
     * it is not null. The cache length advances in {@link #advance}.
     */
    Tensor attend(int layer, Tensor q, Tensor k, Tensor v, Tensor out) {
        return attend(layer, q, k, v, out, Attention.Spec.of(q.size(3)));
    }

    /** As {@link #attend(int, Tensor, Tensor, Tensor, Tensor)} with the layer's scale, soft-cap and window. */
    Tensor attend(int layer, Tensor q, Tensor k, Tensor v, Tensor out, Attention.Spec spec) {
        int b = k.size(0), t = k.size(2);
        if (b != rows.length || q.size(0) != rows.length) {
            throw new IllegalArgumentException("kv cache: " + rows.length + " rows, but q has " + q.size(0) + " and k " + b);
        }
        for (int i = 0; i < rows.length; i++) {
            if (length(i) + t > maxLen) {
                throw new IllegalStateException("kv cache is full: row " + i + " holds " + length(i) + " cached + " + t
                        + " new > capacity " + maxLen);
            }
        }
        if (isWhole() && sameLengths()) {   // the whole cache, one length: one kernel call
            int len = lengths[0];
            keys[layer].narrow(2, len, t).copyFrom(k);
            values[layer].narrow(2, len, t).copyFrom(v);
            return Attention.forward(q, keys[layer].narrow(2, 0, len + t), values[layer].narrow(2, 0, len + t), spec, out).out();
        }
        if (out == null) out = Attention.newHeads(q.dtype().computeType(), q.size(0), q.size(1), t, q.size(3));
        for (int i = 0; i < rows.length; i++) {   // each row over its own keys: the kernel works per (row, head) anyway
            int r = rows[i], len = lengths[r];
            Tensor kr = keys[layer].narrow(0, r, 1), vr = values[layer].narrow(0, r, 1);
            kr.narrow(2, len, t).copyFrom(k.narrow(0, i, 1));
            vr.narrow(2, len, t).copyFrom(v.narrow(0, i, 1));
            Attention.forward(q.narrow(0, i, 1), kr.narrow(2, 0, len + t), vr.narrow(2, 0, len + t), spec, out.narrow(0, i, 1));
        }
        return out;
    }

    /** True when this cache's rows are all the buffers' rows, in order. */
    private boolean isWhole() {
        if (rows.length != lengths.length) return false;
        for (int i = 0; i < rows.length; i++) if (rows[i] != i) return false;
        return true;
    }

    /** Called by the model once every layer has appended {@code t} tokens to each row. */
    void advance(int t) { for (int r : rows) lengths[r] += t; }

    /** Forgets everything in this cache's rows (the buffers are kept). */
    public void clear() { for (int r : rows) lengths[r] = 0; }

    /** Releases the buffers, the same as {@link #close()}; a view refuses, as its buffers belong to the cache it came from. */
    public void release() {
        if (!owner) throw new IllegalStateException("kv cache: a view of rows owns no buffers; release the cache it came from");
        for (Tensor t : keys) t.storage().release();
        for (Tensor t : values) t.storage().release();
    }

    private static int[] identity(int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = i;
        return out;
    }

    /** Releases the buffers (the ledger falls at once); the cache must not be used afterwards. Idempotent. */
    @Override public void close() { release(); }
}
