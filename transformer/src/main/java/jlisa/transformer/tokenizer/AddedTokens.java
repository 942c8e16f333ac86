package jlisa.transformer.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code added_tokens} of a tokenizer.json, found in raw text before normalization and
 * pre-tokenization: at each position the leftmost match wins, the longest among those
 * (HF's leftmost-longest Aho-Corasick). {@code single_word} tokens only match between
 * non-word characters; {@code lstrip}/{@code rstrip} tokens swallow whitespace on that side.
 *
 * <p>Simplification: HF matches {@code normalized: true} tokens against normalized text;
 * here all are matched in raw text, which is the same when the normalizer is null (GPT-2,
 * Llama 3, Qwen2, SmolLM) or NFC on NFC text.
 */
final class AddedTokens {

    record Token(int id, String content, boolean special, boolean singleWord, boolean lstrip, boolean rstrip) {}

    /** A piece of the input: either plain text to tokenize, or an added token (id ≥ 0). */
    record Section(String text, int addedId) {}

    private final Map<Character, Token[]> byFirstChar = new HashMap<>();
    private final Map<String, Token> byContent = new HashMap<>();

    AddedTokens(List<Token> tokens) {
        Map<Character, List<Token>> groups = new HashMap<>();
        for (Token t : tokens) {
            if (t.content().isEmpty()) continue;
            byContent.put(t.content(), t);
            groups.computeIfAbsent(t.content().charAt(0), c -> new ArrayList<>()).add(t);
        }
        groups.forEach((c, list) -> {
            Token[] a = list.toArray(Token[]::new);
            Arrays.sort(a, Comparator.comparingInt((Token t) -> t.content().length()).reversed());
            byFirstChar.put(c, a);
        });
    }

    Token byContent(String content) {
        return byContent.get(content);
    }

    boolean isEmpty() {
        return byContent.isEmpty();
    }

    /** Splits {@code text} into plain sections and added-token sections, in order. */
    List<Section> split(String text) {
        List<Section> out = new ArrayList<>();
        if (byContent.isEmpty()) {
            out.add(new Section(text, -1));
            return out;
        }
        int plainStart = 0;
        int i = 0;
        while (i < text.length()) {
            Token t = longestAt(text, i);
            if (t == null) {
                i++;
                continue;
            }
            int start = i, end = i + t.content().length();
            if (t.lstrip()) while (start > plainStart && isWhiteSpace(text.charAt(start - 1))) start--;
            if (t.rstrip()) while (end < text.length() && isWhiteSpace(text.charAt(end))) end++;
            if (start > plainStart) out.add(new Section(text.substring(plainStart, start), -1));
            out.add(new Section(t.content(), t.id()));
            plainStart = i = end;
        }
        if (plainStart < text.length()) out.add(new Section(text.substring(plainStart), -1));
        return out;
    }

    private Token longestAt(String text, int i) {
        Token[] candidates = byFirstChar.get(text.charAt(i));
        if (candidates == null) return null;
        for (Token t : candidates) {
            if (!text.startsWith(t.content(), i)) continue;
            if (t.singleWord()) {
                int end = i + t.content().length();
                boolean wordBefore = i > 0 && isWordChar(text.codePointBefore(i));
                boolean wordAfter = end < text.length() && isWordChar(text.codePointAt(end));
                if (wordBefore || wordAfter) return null;    // HF drops the match, no shorter retry
            }
            return t;
        }
        return null;
    }

    private static boolean isWordChar(int cp) {
        return Character.isLetterOrDigit(cp) || cp == '_';
    }

    /** Unicode White_Space, as Rust's char::is_whitespace (Java's isWhitespace omits NBSP). */
    static boolean isWhiteSpace(int cp) {
        return cp == 0x85 || Character.isSpaceChar(cp) || (Character.isWhitespace(cp) && (cp < 0x1C || cp > 0x1F));
    }
}
