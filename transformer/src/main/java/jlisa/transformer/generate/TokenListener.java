package jlisa.transformer.generate;

/**
 * Receives each generated token id as soon as it is picked (streaming); returning false stops generation after it.
 *
 * <p>Called on the generating thread, one token at a time.
 */
@FunctionalInterface
public interface TokenListener {
    boolean onToken(int tokenId);

    /** A listener that never stops generation. */
    TokenListener NONE = id -> true;
}
