package jlisa.transformer.generate;

/** Receives each generated token id as soon as it is picked (streaming); returning false stops generation after it. */
@FunctionalInterface
public interface TokenListener {
    boolean onToken(int tokenId);

    /** A listener that never stops generation. */
    TokenListener NONE = id -> true;
}
