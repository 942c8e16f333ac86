package jlisa.transformer.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * One step of a Hugging Face {@code pre_tokenizer}: splits each piece of text into smaller
 * pieces. The {@link ByteLevelStep} also rewrites pieces into GPT-2's byte-level alphabet,
 * which the BPE vocabulary is spelled in.
 *
 * <p>Regexes come from Oniguruma/Rust (the HF library) and run here on java.util.regex with
 * {@code UNICODE_CHARACTER_CLASS}, so {@code \s} is Unicode White_Space as it is there.
 * The patterns GPT-2, Llama 3, Qwen2 and SmolLM ship ({@code \p{L}}, {@code \p{N}},
 * {@code (?i:...)}, lookahead, possessive quantifiers) mean the same in both; Oniguruma-only
 * syntax such as POSIX brackets {@code [[:alpha:]]} or {@code \h} = hex digit would not.
 */
sealed interface PreTokenizer {

    /** GPT-2's pattern, used by ByteLevel with {@code use_regex: true}. */
    String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /** Splits {@code piece}, appending the non-empty results to {@code out}. */
    void split(String piece, List<String> out);

    /**
     * Like {@link #split(String, List)}; {@code firstSection} says the piece starts the text (no added token
     * before it), which Metaspace's {@code prepend_scheme: "first"} needs.
     */
    default void split(String piece, boolean firstSection, List<String> out) {
        split(piece, out);
    }

    /** Number of ByteLevel steps in this pre-tokenizer (byte-level BPE needs exactly one). */
    int byteLevelSteps();

    static PreTokenizer parse(JsonNode node) {
        if (node == null || node.isNull()) return new Sequence(List.of());   // Llama 2 style: the normalizer did it all
        String type = node.path("type").asText("");
        return switch (type) {
            case "ByteLevel" -> new ByteLevelStep(node.path("add_prefix_space").asBoolean(false),
                    node.path("use_regex").asBoolean(true));
            case "Split" -> Split.parse(node);
            case "Digits" -> new Digits(node.path("individual_digits").asBoolean(false));
            case "Metaspace" -> Metaspace.parse(node);
            case "Sequence" -> {
                List<PreTokenizer> steps = new ArrayList<>();
                for (JsonNode step : node.path("pretokenizers")) steps.add(parse(step));
                yield new Sequence(List.copyOf(steps));
            }
            default -> throw new IllegalArgumentException("tokenizer.json: pre_tokenizer type '" + type
                    + "' is not supported (supported: ByteLevel, Metaspace, Split, Digits, Sequence)");
        };
    }

    /** Compiles an HF regex for java.util.regex, naming the pattern if it does not compile. */
    static Pattern compile(String regex) {
        try {
            return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("tokenizer.json: pre_tokenizer regex does not compile in "
                    + "java.util.regex: " + regex + " (" + e.getDescription() + ")", e);
        }
    }

    /** Sequence: each step splits every piece the previous step produced. */
    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        @Override public void split(String piece, List<String> out) {
            split(piece, false, out);
        }

        @Override public void split(String piece, boolean firstSection, List<String> out) {
            List<String> pieces = List.of(piece);
            for (PreTokenizer step : steps) {
                List<String> next = new ArrayList<>();
                for (int i = 0; i < pieces.size(); i++) step.split(pieces.get(i), firstSection && i == 0, next);
                pieces = next;
            }
            out.addAll(pieces);
        }

        @Override public int byteLevelSteps() {
            return steps.stream().mapToInt(PreTokenizer::byteLevelSteps).sum();
        }
    }

    /**
     * ByteLevel: optionally a leading space (per piece, as HF does), optionally GPT-2's regex
     * split, then each piece's UTF-8 bytes written in the byte-level alphabet.
     */
    record ByteLevelStep(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        private static final Pattern GPT2 = PreTokenizer.compile(GPT2_PATTERN);

        @Override public void split(String piece, List<String> out) {
            String s = addPrefixSpace && !piece.startsWith(" ") ? " " + piece : piece;
            if (!useRegex) {
                if (!s.isEmpty()) out.add(ByteLevel.encode(s));
                return;
            }
            Matcher m = GPT2.matcher(s);
            int prev = 0;
            while (m.find()) {
                if (m.start() > prev) out.add(ByteLevel.encode(s.substring(prev, m.start())));
                if (m.end() > m.start()) out.add(ByteLevel.encode(m.group()));
                prev = m.end();
            }
            if (prev < s.length()) out.add(ByteLevel.encode(s.substring(prev)));
        }

        @Override public int byteLevelSteps() {
            return 1;
        }
    }

    /**
     * Metaspace (SentencePiece): spaces become {@code replacement} (▁), a ▁ is prepended per
     * {@code prepend_scheme} (always; first: only where the text starts; never; older files say
     * {@code add_prefix_space}), and with {@code split} the piece is cut before each ▁.
     */
    record Metaspace(char replacement, String prependScheme, boolean splitOnReplacement) implements PreTokenizer {
        static Metaspace parse(JsonNode node) {
            String r = node.path("replacement").asText("\u2581");
            if (r.length() != 1) throw new IllegalArgumentException("tokenizer.json: Metaspace replacement must be one "
                    + "character, got '" + r + "'");
            String scheme = node.has("prepend_scheme") ? node.get("prepend_scheme").asText()
                    : node.path("add_prefix_space").asBoolean(true) ? "always" : "never";
            if (!scheme.equals("always") && !scheme.equals("first") && !scheme.equals("never")) {
                throw new IllegalArgumentException("tokenizer.json: Metaspace prepend_scheme must be always, first or "
                        + "never, got '" + scheme + "'");
            }
            return new Metaspace(r.charAt(0), scheme, node.path("split").asBoolean(true));
        }

        @Override public void split(String piece, List<String> out) {
            split(piece, false, out);
        }

        @Override public void split(String piece, boolean firstSection, List<String> out) {
            String s = piece.replace(' ', replacement);
            boolean prepend = prependScheme.equals("always") || (prependScheme.equals("first") && firstSection);
            if (prepend && !s.isEmpty() && s.charAt(0) != replacement) s = replacement + s;
            if (!splitOnReplacement) {
                if (!s.isEmpty()) out.add(s);
                return;
            }
            int start = 0;      // MergedWithNext: each ▁ starts a new piece
            for (int i = 1; i < s.length(); i++) {
                if (s.charAt(i) == replacement) {
                    out.add(s.substring(start, i));
                    start = i;
                }
            }
            if (start < s.length()) out.add(s.substring(start));
        }

        @Override public int byteLevelSteps() {
            return 0;
        }
    }

    /** What a Split does with the matched delimiters (HF's SplitDelimiterBehavior). */
    enum Behavior { REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS }

    /** Split on a regex or literal; with {@code invert} the matches are the pieces instead. */
    record Split(Pattern pattern, Behavior behavior, boolean invert) implements PreTokenizer {
        static Split parse(JsonNode node) {
            JsonNode p = node.path("pattern");
            Pattern pattern;
            if (p.has("Regex")) pattern = PreTokenizer.compile(p.get("Regex").asText());
            else if (p.has("String")) pattern = Pattern.compile(Pattern.quote(p.get("String").asText()));
            else throw new IllegalArgumentException("tokenizer.json: Split pattern must be {\"Regex\": …} or "
                    + "{\"String\": …}, got " + p);
            String b = node.path("behavior").asText("");
            Behavior behavior = switch (b) {
                case "Removed" -> Behavior.REMOVED;
                case "Isolated" -> Behavior.ISOLATED;
                case "MergedWithPrevious" -> Behavior.MERGED_WITH_PREVIOUS;
                case "MergedWithNext" -> Behavior.MERGED_WITH_NEXT;
                case "Contiguous" -> Behavior.CONTIGUOUS;
                default -> throw new IllegalArgumentException("tokenizer.json: Split behavior '" + b
                        + "' is unknown (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)");
            };
            return new Split(pattern, behavior, node.path("invert").asBoolean(false));
        }

        @Override public void split(String piece, List<String> out) {
            // Segments [start, end) covering the piece, each a match or not (HF find_matches).
            List<int[]> segments = new ArrayList<>();
            Matcher m = pattern.matcher(piece);
            int prev = 0;
            while (m.find()) {
                if (m.start() > prev) segments.add(new int[] {prev, m.start(), 0});
                segments.add(new int[] {m.start(), m.end(), 1});
                prev = m.end();
            }
            if (prev < piece.length()) segments.add(new int[] {prev, piece.length(), 0});
            if (invert) for (int[] s : segments) s[2] ^= 1;
            emit(piece, mergeDelimiters(segments, behavior), out);
        }

        @Override public int byteLevelSteps() {
            return 0;
        }
    }

    /** Applies a delimiter behavior to match/non-match segments; results are plain segments. */
    static List<int[]> mergeDelimiters(List<int[]> segments, Behavior behavior) {
        List<int[]> out = new ArrayList<>();
        switch (behavior) {
            case ISOLATED -> out.addAll(segments);
            case REMOVED -> { for (int[] s : segments) if (s[2] == 0) out.add(s); }
            case MERGED_WITH_PREVIOUS -> {
                boolean previousMatch = false;
                for (int[] s : segments) {
                    if (s[2] == 1 && !previousMatch && !out.isEmpty()) out.getLast()[1] = s[1];
                    else out.add(s.clone());
                    previousMatch = s[2] == 1;
                }
            }
            case MERGED_WITH_NEXT -> {
                boolean previousMatch = false;
                for (int[] s : segments.reversed()) {
                    if (s[2] == 1 && !previousMatch && !out.isEmpty()) out.getLast()[0] = s[0];
                    else out.add(s.clone());
                    previousMatch = s[2] == 1;
                }
                java.util.Collections.reverse(out);
            }
            case CONTIGUOUS -> {
                boolean previousMatch = false;
                for (int[] s : segments) {
                    if (s[2] == (previousMatch ? 1 : 0) && !out.isEmpty()) out.getLast()[1] = s[1];
                    else out.add(s.clone());
                    previousMatch = s[2] == 1;
                }
            }
        }
        return out;
    }

    private static void emit(String piece, List<int[]> segments, List<String> out) {
        for (int[] s : segments) if (s[1] > s[0]) out.add(piece.substring(s[0], s[1]));
    }

    /** Digits: numeric characters split off, one by one or as contiguous runs. */
    record Digits(boolean individual) implements PreTokenizer {
        @Override public void split(String piece, List<String> out) {
            List<int[]> segments = new ArrayList<>();
            for (int i = 0; i < piece.length(); ) {
                int cp = piece.codePointAt(i);
                int n = Character.charCount(cp);
                segments.add(new int[] {i, i + n, isNumeric(cp) ? 1 : 0});
                i += n;
            }
            // Non-digits always join their neighbours; digits isolated or joined in runs.
            List<int[]> merged = new ArrayList<>();
            for (int[] s : segments) {
                int[] last = merged.isEmpty() ? null : merged.getLast();
                boolean join = last != null && last[2] == s[2] && (s[2] == 0 || !individual);
                if (join) last[1] = s[1];
                else merged.add(s);
            }
            emit(piece, merged, out);
        }

        @Override public int byteLevelSteps() {
            return 0;
        }

        /** Rust's char::is_numeric: general categories Nd, Nl, No. */
        private static boolean isNumeric(int cp) {
            int t = Character.getType(cp);
            return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
        }
    }
}
