package jlisa.transformer.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The simplest tokenizer: id = byte value of the UTF-8 encoding (0–255), so any string
 * round-trips. Special tokens, if any, get ids 256, 257, … in the order given; they are
 * never produced by {@link #encode(String)} (text that spells {@code <|endoftext|>} stays
 * bytes, so training text cannot inject control tokens) and are appended by the caller.
 *
 * <p>{@link #withEndOfText()} is the tokenizer of the built-in demo corpus:
 * 257 ids, {@code <|endoftext|>} = 256 is the EOS id. Immutable and thread-safe.
 */
public final class ByteTokenizer implements Tokenizer {
    /** Content of the end-of-text special token. */
    public static final String END_OF_TEXT = "<|endoftext|>";

    private final List<String> specials;
    private final Map<String, Integer> specialIds = new HashMap<>();

    /** Byte ids 0–255, then {@code specials} from 256 on. */
    public ByteTokenizer(List<String> specials) {
        this.specials = List.copyOf(specials);
        for (int i = 0; i < this.specials.size(); i++) {
            String s = this.specials.get(i);
            if (specialIds.putIfAbsent(s, 256 + i) != null) {
                throw new IllegalArgumentException("ByteTokenizer: special token " + s + " given twice");
            }
        }
    }

    /** 256 byte ids, no special tokens. */
    public static ByteTokenizer plain() {
        return new ByteTokenizer(List.of());
    }

    /** 256 byte ids plus {@code <|endoftext|>} = 256 (EOS). */
    public static ByteTokenizer withEndOfText() {
        return new ByteTokenizer(List.of(END_OF_TEXT));
    }

    @Override public int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xFF;
        return ids;
    }

    @Override public byte[] bytes(int id) {
        checkId(id, 0);
        return id < 256 ? new byte[] {(byte) id} : specials.get(id - 256).getBytes(StandardCharsets.UTF_8);
    }

    @Override public int vocabSize() {
        return 256 + specials.size();
    }

    /** Bytes as GPT-2's byte-level characters (printable), special tokens as their content. */
    @Override public String token(int id) {
        checkId(id, 0);
        return id < 256 ? ByteLevel.encode(new byte[] {(byte) id}, 0, 1) : specials.get(id - 256);
    }

    @Override public OptionalInt id(String token) {
        Integer special = specialIds.get(token);
        if (special != null) return OptionalInt.of(special);
        byte[] b = token.length() == 1 ? ByteLevel.decode(token) : null;
        return b == null ? OptionalInt.empty() : OptionalInt.of(b[0] & 0xFF);
    }

    @Override public OptionalInt bosId() {
        return OptionalInt.empty();
    }

    @Override public OptionalInt eosId() {
        Integer id = specialIds.get(END_OF_TEXT);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override public boolean isSpecial(int id) {
        checkId(id, 0);
        return id >= 256;
    }

    @Override public String toString() {
        return "ByteTokenizer(256 bytes + " + specials + ")";
    }
}
