package jlisa.transformer.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Decodes ids one at a time for streaming generation. A byte-level token can end in the
 * middle of a UTF-8 character (an emoji is often two or three tokens), so the trailing bytes
 * of an incomplete character are held back until the next token completes them.
 * {@link #flush()} releases whatever is held, with U+FFFD for an unfinished character.
 *
 * <p>For valid UTF-8 the concatenation of all returned strings equals
 * {@link Tokenizer#decode(int[])} of the same ids. Not thread-safe: one per stream.
 */
public final class StreamDecoder {
    private final Tokenizer tokenizer;
    private byte[] pending = new byte[0];
    private int position;

    public StreamDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** The text that {@code id} completes; empty when it only started a character. */
    public String next(int id) {
        tokenizer.checkId(id, position++);
        byte[] b = tokenizer.bytes(id);
        byte[] all = Arrays.copyOf(pending, pending.length + b.length);
        System.arraycopy(b, 0, all, pending.length, b.length);
        int complete = completePrefix(all);
        pending = Arrays.copyOfRange(all, complete, all.length);
        return new String(all, 0, complete, StandardCharsets.UTF_8);
    }

    /** Text of {@code ids} in order, as if {@link #next(int)} was called for each. */
    public String next(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(next(id));
        return sb.toString();
    }

    /** Releases held-back bytes (U+FFFD for an incomplete character) and resets. */
    public String flush() {
        String rest = new String(pending, StandardCharsets.UTF_8);
        pending = new byte[0];
        return rest;
    }

    /** Whether bytes are held back waiting for the rest of a character. */
    public boolean hasPending() {
        return pending.length > 0;
    }

    /**
     * Length of the prefix that ends on a character boundary: everything except a trailing
     * lead byte plus fewer continuation bytes than it announces. Invalid bytes are not held.
     */
    static int completePrefix(byte[] b) {
        int n = b.length;
        // Look back at most 3 bytes for the lead byte of the last character.
        for (int back = 1; back <= Math.min(3, n); back++) {
            int v = b[n - back] & 0xFF;
            if ((v & 0xC0) == 0x80) continue;          // continuation byte: keep looking
            int need = v >= 0xF0 && v <= 0xF4 ? 4 : v >= 0xE0 && v <= 0xEF ? 3 : v >= 0xC2 && v <= 0xDF ? 2 : 1;
            return need > back ? n - back : n;
        }
        return n;
    }
}
