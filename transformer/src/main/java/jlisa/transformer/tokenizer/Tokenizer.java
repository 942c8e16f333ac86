package jlisa.transformer.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/**
 * Text ↔ token ids. Every token id stands for a fixed byte string ({@link #bytes(int)}), so
 * decoding is "concatenate the bytes, read them as UTF-8"; a token may hold half a character,
 * which is why streaming output goes through {@link #streamDecoder()}.
 *
 * <p>{@link #encode(String)} adds no special tokens; {@link #encode(String, boolean)} with
 * {@code true} applies the tokenizer's post-processor (Llama 3 prepends
 * {@code <|begin_of_text|>}), as Hugging Face's {@code add_special_tokens=True} does. Prompts
 * for generation want the latter; training text usually wants the former plus explicit EOS.
 *
 * <p>Implementations in jlisa are immutable and safe to use from several threads at once; a
 * {@link StreamDecoder} is not (one per stream).
 */
public interface Tokenizer {

    /** Ids of {@code text}, without BOS/EOS or other post-processor additions. */
    int[] encode(String text);

    /** Ids of {@code text}; with {@code addSpecialTokens} the post-processor's BOS/EOS are added. */
    default int[] encode(String text, boolean addSpecialTokens) {
        return encode(text);
    }

    /** The byte string token {@code id} stands for (special tokens: their content in UTF-8). */
    byte[] bytes(int id);

    /**
     * The text of {@code ids}: their bytes concatenated and read as UTF-8, with U+FFFD for
     * byte sequences that are not valid UTF-8 (as Hugging Face's lossy decode does).
     */
    default String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        for (int i = 0; i < ids.length; i++) {
            checkId(ids[i], i);
            out.writeBytes(bytes(ids[i]));
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Number of ids: every id in [0, vocabSize()) is valid. */
    int vocabSize();

    /** The token's string as the vocabulary spells it (byte-level BPE: "Ġhello" for " hello"). */
    String token(int id);

    /** The id of a vocabulary string, spelled as {@link #token(int)} returns it. */
    OptionalInt id(String token);

    /** Beginning-of-sequence id, if this tokenizer has one. */
    OptionalInt bosId();

    /** End-of-sequence / end-of-text id, if this tokenizer has one. */
    OptionalInt eosId();

    /** Whether {@code id} is a special token (control token, not text). */
    boolean isSpecial(int id);

    /** A decoder that turns ids into text one at a time, holding back incomplete UTF-8. */
    default StreamDecoder streamDecoder() {
        return new StreamDecoder(this);
    }

    /** Throws if {@code id} is not in [0, vocabSize()); {@code position} names it in the message. */
    default void checkId(int id, int position) {
        if (id < 0 || id >= vocabSize()) {
            throw new IllegalArgumentException("decode: id " + id + " at position " + position
                    + " is outside the vocabulary [0, " + vocabSize() + ")");
        }
    }
}
