package jlisa.transformer.generate;

import jlisa.tensor.Tensor;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.KvCache;

/**
 * Incremental next-token logits over a KV cache, batch of 1: {@link #feed} runs only the new tokens through the
 * model (no grad) and returns the logits of the last of them, which predict the token after it. Close it to
 * release the cache.
 *
 * <p>Not thread-safe: one decoder, its cache and its model serve one thread.
 */
public final class Decoder implements AutoCloseable {
    private final CausalLM model;
    private final KvCache cache;
    private boolean closed;

    /** A decoder able to hold {@code capacity} tokens (at most the model's positions; more is capped). */
    public Decoder(CausalLM model, int capacity) {
        if (model == null) throw new IllegalArgumentException("decoder: model must not be null");
        if (capacity < 1) throw new IllegalArgumentException("decoder: capacity must be ≥ 1, got " + capacity);
        this.model = model;
        this.cache = model.newCache(1, Math.min(capacity, model.maxPositions()));
    }

    /** Tokens fed so far: the position of the next token fed. */
    public int position() { return cache.length(); }

    /** How many tokens the cache holds in all. */
    public int capacity() { return cache.maxLength(); }

    /** Feeds {@code tokens} at positions position() … and returns the last one's next-token logits (V), as doubles. */
    public double[] feed(int... tokens) {
        if (closed) throw new IllegalStateException("decoder: used after close()");
        if (tokens.length == 0) throw new IllegalArgumentException("decoder: feed needs at least one token");
        int vocab = model.vocabSize();
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new IllegalArgumentException("decoder: token id " + tokens[i] + " at index " + i
                        + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (cache.length() + tokens.length > cache.maxLength()) {
            throw new IllegalStateException("decoder: " + cache.length() + " cached + " + tokens.length
                    + " new tokens exceed the capacity " + cache.maxLength() + " (model positions " + model.maxPositions() + ")");
        }
        // the head multiplies the last position only: the others' logits would be thrown away
        return model.lastLogitsNoGrad(Tensor.of(tokens.clone(), 1, tokens.length), cache).toDoubleArray();
    }

    /** Releases the cache; a second call does nothing. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        cache.release();
    }
}
