package jlisa.transformer.model;

import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;

/**
 * Keys and values of every layer for the tokens seen so far, so generation feeds one new token per
 * step instead of the whole sequence. One (B, Hkv, maxLen, D) buffer per layer for keys and one for
 * values, allocated once (counted as ACTIVATION, in the account of the model that made it). Closing it gives the
 * buffers back. Not thread-safe: one generation at a time per cache.
 */
public final class KvCache implements AutoCloseable {
    private final Tensor[] keys, values;
    private final int maxLen;
    private int length;

    public KvCache(int layers, int batch, int kvHeads, int maxLen, int headDim) {
        if (maxLen < 1) throw new IllegalArgumentException("kv cache: maxLen must be ≥ 1, got " + maxLen);
        keys = new Tensor[layers];
        values = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            keys[l] = Tensor.zeros(DType.F32, MemoryKind.ACTIVATION, batch, kvHeads, maxLen, headDim);
            values[l] = Tensor.zeros(DType.F32, MemoryKind.ACTIVATION, batch, kvHeads, maxLen, headDim);
        }
        this.maxLen = maxLen;
    }

    /** Tokens cached so far (the position of the next token). */
    public int length() { return length; }

    public int maxLength() { return maxLen; }

    /**
     * Writes layer {@code layer}'s new keys and values (B, Hkv, T, D) after the cached ones and returns
     * views of all of them (B, Hkv, length + T, D). The cache length advances in {@link #advance}.
     */
    Tensor[] append(int layer, Tensor k, Tensor v) {
        int t = k.size(2);
        if (length + t > maxLen) {
            throw new IllegalStateException("kv cache is full: " + length + " cached + " + t + " new > capacity " + maxLen);
        }
        keys[layer].narrow(2, length, t).copyFrom(k);
        values[layer].narrow(2, length, t).copyFrom(v);
        return new Tensor[] {keys[layer].narrow(2, 0, length + t), values[layer].narrow(2, 0, length + t)};
    }

    /** Called by the model once every layer has appended {@code t} tokens. */
    void advance(int t) { length += t; }

    /** Forgets everything (the buffers are kept). */
    public void clear() { length = 0; }

    /** Releases the buffers; the same as {@link #close()}. */
    public void release() {
        for (Tensor t : keys) t.storage().release();
        for (Tensor t : values) t.storage().release();
    }

    /** Releases the buffers (the ledger falls at once); the cache must not be used afterwards. Idempotent. */
    @Override public void close() { release(); }
}
