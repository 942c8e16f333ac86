package jlisa.transformer.tokenizer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.function.UnaryOperator;
import jlisa.transformer.tokenizer.BpeModel.IntList;
import jlisa.transformer.tokenizer.BpeModel.LongLongMap;

/**
 * Byte-level BPE from a Hugging Face {@code tokenizer.json}, as GPT-2, Llama 3, Qwen2 and
 * SmolLM ship it. Encoding runs HF's pipeline:
 *
 * <ol>
 *   <li>{@code added_tokens} are cut out of the raw text (leftmost-longest; special or not);</li>
 *   <li>each remaining section is normalized ({@code null}, NFC/NFD/NFKC/NFKD, Lowercase, Sequence);</li>
 *   <li>the {@code pre_tokenizer} splits it ({@code ByteLevel} with GPT-2's regex, or a
 *       {@code Sequence} of {@code Split}/{@code Digits} steps then {@code ByteLevel}) and
 *       rewrites each piece in GPT-2's byte-level alphabet;</li>
 *   <li>the {@code BPE} model merges each piece by merge rank ({@code ignore_merges}: a piece
 *       that is itself in the vocabulary is one token);</li>
 *   <li>with {@code addSpecialTokens}, the {@code post_processor} (TemplateProcessing,
 *       Roberta/Bert, ByteLevel, Sequence) adds its BOS/EOS ids.</li>
 * </ol>
 *
 * Decoding concatenates each token's bytes (special tokens: their content) and reads UTF-8.
 * Immutable and thread-safe (the word cache is concurrent).
 */
public final class BpeTokenizer implements Tokenizer {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, Integer> vocab;
    private final String[] tokens;          // id -> token string (added tokens: content)
    private final byte[][] tokenBytes;      // id -> bytes it decodes to
    private final boolean[] special;
    private final boolean[] byteToken;      // SentencePiece-style <0xAB> tokens (ByteFallback); null when byte-level
    private final AddedTokens added;
    private final UnaryOperator<String> normalizer;
    private final PreTokenizer preTokenizer;
    private final BpeModel model;
    private final int[] prefix, suffix;     // post-processor ids around a single sequence
    private final int mergeCount;
    private final int stripLeadingSpaces;   // decoder Strip / Metaspace: spaces removed from the start of a decode
    private final boolean cleanUpSpaces;    // tokenizer_config.json clean_up_tokenization_spaces
    private final int configEosId;          // tokenizer_config.json eos_token, -1 when it names none

    private BpeTokenizer(Map<String, Integer> vocab, String[] tokens, byte[][] tokenBytes, boolean[] special,
            boolean[] byteToken, AddedTokens added, UnaryOperator<String> normalizer, PreTokenizer preTokenizer, BpeModel model,
            int[] prefix, int[] suffix, int mergeCount, int stripLeadingSpaces, boolean cleanUpSpaces, int configEosId) {
        this.stripLeadingSpaces = stripLeadingSpaces;
        this.cleanUpSpaces = cleanUpSpaces;
        this.configEosId = configEosId;
        this.vocab = vocab;
        this.tokens = tokens;
        this.tokenBytes = tokenBytes;
        this.special = special;
        this.byteToken = byteToken;
        this.added = added;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.prefix = prefix;
        this.suffix = suffix;
        this.mergeCount = mergeCount;
    }

    /** Loads a {@code tokenizer.json}; the path appears in any error. */
    public static BpeTokenizer load(Path tokenizerJson) throws IOException {
        try (InputStream in = Files.newInputStream(tokenizerJson)) {
            return parse(in, tokenizerJson.toString());
        }
    }

    /** Loads {@code tokenizer.json} content from a stream (not closed). */
    public static BpeTokenizer load(InputStream in) throws IOException {
        return parse(in, "tokenizer.json");
    }

    /** Loads {@code tokenizer.json} content from a string. */
    public static BpeTokenizer fromJson(String json) {
        try {
            return fromTree(JSON.readTree(json), "tokenizer.json");
        } catch (JacksonException e) {
            throw new IllegalArgumentException("tokenizer.json is not valid JSON: " + e.getOriginalMessage()
                    + " at " + e.getLocation(), e);
        }
    }

    private static BpeTokenizer parse(InputStream in, String name) throws IOException {
        JsonNode root;
        try (JsonParser p = JSON.createParser(in)) {
            // Field by field, so an unsupported pipeline is reported before the (large) model is parsed:
            // HF writes "model" last, after normalizer, pre_tokenizer, post_processor and decoder.
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException(name + " must hold a JSON object, got " + p.currentToken());
            }
            ObjectNode tree = JSON.createObjectNode();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (field.equals("model")) {
                    try {
                        checkPipeline(tree);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
                    }
                }
                tree.set(field, p.readValueAsTree());
            }
            root = tree;
        } catch (JacksonException e) {
            throw new IllegalArgumentException(name + " is not valid JSON: " + e.getOriginalMessage()
                    + " at " + e.getLocation(), e);
        }
        try {
            return fromTree(root, name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
        }
    }

    /** Parses the pipeline parts present in {@code root} for their errors alone (unsupported types). */
    private static void checkPipeline(JsonNode root) {
        normalizer(root.get("normalizer"));
        PreTokenizer pre = PreTokenizer.parse(root.get("pre_tokenizer"));
        if (pre.byteLevelSteps() > 1) {
            throw new IllegalArgumentException("pre_tokenizer has " + pre.byteLevelSteps() + " ByteLevel steps; "
                    + "byte-level BPE needs exactly one");
        }
        decoderStrip(root.get("decoder"));
        if (pre.byteLevelSteps() == 0 && hasByteLevelDecoder(root.get("decoder"))) {
            // a byte-level vocabulary (Ġ for space) read as SentencePiece would give wrong ids silently
            throw new IllegalArgumentException("pre_tokenizer has 0 ByteLevel steps but the decoder is ByteLevel; "
                    + "byte-level BPE needs exactly one");
        }
        postProcessor(root.get("post_processor"), new IntList(), new IntList());
    }

    private static BpeTokenizer fromTree(JsonNode root, String name) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(name + " must hold a JSON object, got " + (root == null ? "nothing" : root.getNodeType()));
        }
        checkPipeline(root);
        PreTokenizer pre = PreTokenizer.parse(root.get("pre_tokenizer"));
        // No ByteLevel step: a SentencePiece-style vocabulary (▁ for space, <0xAB> byte tokens)
        boolean byteLevel = pre.byteLevelSteps() == 1;
        JsonNode m = root.path("model");
        String type = m.path("type").asText(m.has("merges") ? "BPE" : "");
        if (!type.equals("BPE")) {
            throw new IllegalArgumentException("model type '" + type + "' is not supported (only byte-level BPE)");
        }
        if (!m.path("continuing_subword_prefix").asText("").isEmpty() || !m.path("end_of_word_suffix").asText("").isEmpty()) {
            throw new IllegalArgumentException("BPE with continuing_subword_prefix/end_of_word_suffix is not supported "
                    + "(only byte-level BPE)");
        }
        if (!m.path("vocab").isObject()) throw new IllegalArgumentException("model.vocab must be an object of token → id");

        // Vocabulary, then added tokens (which may reuse vocabulary ids or extend them).
        Map<String, Integer> vocab = new HashMap<>(m.path("vocab").size() * 2);
        int maxId = -1;
        for (Map.Entry<String, JsonNode> e : m.path("vocab").properties()) {
            int id = e.getValue().asInt(-1);
            if (!e.getValue().canConvertToInt() || id < 0) {
                throw new IllegalArgumentException("model.vocab: id of '" + e.getKey() + "' must be a non-negative int, got " + e.getValue());
            }
            vocab.put(e.getKey(), id);
            maxId = Math.max(maxId, id);
        }
        List<AddedTokens.Token> addedList = new ArrayList<>();
        for (JsonNode t : root.path("added_tokens")) {
            int id = t.path("id").asInt(-1);
            String content = t.path("content").asText(null);
            if (id < 0 || content == null) throw new IllegalArgumentException("added_tokens: entry needs an id and a content, got " + t);
            addedList.add(new AddedTokens.Token(id, content, t.path("special").asBoolean(false),
                    t.path("single_word").asBoolean(false), t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false)));
            maxId = Math.max(maxId, id);
        }
        String[] tokens = new String[maxId + 1];
        byte[][] bytes = new byte[maxId + 1][];
        boolean[] special = new boolean[maxId + 1];
        boolean[] byteToken = byteLevel ? null : new boolean[maxId + 1];
        vocab.forEach((token, id) -> {
            tokens[id] = token;
            bytes[id] = byteLevel ? byteLevelBytes(token) : sentencePieceBytes(token);
            if (!byteLevel) byteToken[id] = isByteToken(token);
        });
        for (AddedTokens.Token t : addedList) {
            tokens[t.id()] = t.content();
            // HF runs added tokens through the decoder too: SentencePiece-style, Gemma's "▁▁" decodes to two spaces
            bytes[t.id()] = (byteLevel ? t.content() : t.content().replace('\u2581', ' ')).getBytes(StandardCharsets.UTF_8);
            special[t.id()] = t.special();
            if (!byteLevel) byteToken[t.id()] = false;
        }

        // Merges: "a b" strings (older files) or ["a", "b"] pairs (tokenizers ≥ 0.20).
        JsonNode mergesNode = m.path("merges");
        LongLongMap merges = new LongLongMap(Math.max(16, mergesNode.size()));
        int rank = 0;
        for (JsonNode mergeNode : mergesNode) {
            String a, b;
            if (mergeNode.isTextual()) {
                String[] parts = mergeNode.asText().split(" ", -1);
                if (parts.length != 2) throw new IllegalArgumentException("model.merges[" + rank + "]: '" + mergeNode.asText()
                        + "' is not two tokens separated by one space");
                a = parts[0];
                b = parts[1];
            } else if (mergeNode.isArray() && mergeNode.size() == 2) {
                a = mergeNode.get(0).asText();
                b = mergeNode.get(1).asText();
            } else {
                throw new IllegalArgumentException("model.merges[" + rank + "]: expected \"a b\" or [\"a\", \"b\"], got " + mergeNode);
            }
            Integer ia = vocab.get(a), ib = vocab.get(b), merged = vocab.get(a + b);
            if (ia == null || ib == null || merged == null) {
                String missing = ia == null ? a : ib == null ? b : a + b;
                throw new IllegalArgumentException("model.merges[" + rank + "] (" + a + " " + b + "): '" + missing
                        + "' is not in the vocabulary");
            }
            merges.putIfAbsent(BpeModel.pair(ia, ib), ((long) rank << 32) | merged);
            rank++;
        }
        int unkId = -1;
        if (m.hasNonNull("unk_token")) {
            Integer u = vocab.get(m.get("unk_token").asText());
            if (u == null) throw new IllegalArgumentException("model.unk_token '" + m.get("unk_token").asText() + "' is not in the vocabulary");
            unkId = u;
        }
        BpeModel model = new BpeModel(vocab, merges, unkId, m.path("ignore_merges").asBoolean(false), byteLevel,
                m.path("byte_fallback").asBoolean(false), m.path("fuse_unk").asBoolean(false));
        UnaryOperator<String> normalizer = normalizer(root.get("normalizer"));

        IntList pre_ = new IntList(), post = new IntList();
        postProcessor(root.get("post_processor"), pre_, post);
        return new BpeTokenizer(vocab, tokens, bytes, special, byteToken, new AddedTokens(addedList), normalizer, pre, model,
                pre_.toArray(), post.toArray(), rank, decoderStrip(root.get("decoder")), false, -1);
    }

    private static byte[] byteLevelBytes(String token) {
        byte[] b = ByteLevel.decode(token);
        return b != null ? b : token.getBytes(StandardCharsets.UTF_8);   // HF: not byte-level -> raw
    }

    /** {@code <0xAB>} is byte 0xAB (the ByteFallback decoder); otherwise ▁ reads as a space. */
    private static byte[] sentencePieceBytes(String token) {
        if (isByteToken(token)) {
            return new byte[] {(byte) (Character.digit(token.charAt(3), 16) * 16 + Character.digit(token.charAt(4), 16))};
        }
        return token.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
    }

    private static boolean isByteToken(String token) {
        return token.length() == 6 && token.startsWith("<0x") && token.endsWith(">")
                && Character.digit(token.charAt(3), 16) >= 0 && Character.digit(token.charAt(4), 16) >= 0;
    }

    /**
     * This tokenizer as {@code tokenizer_config.json} adjusts it, as transformers' Llama/Gemma fast tokenizers do:
     * when the config says {@code add_bos_token} or {@code add_eos_token}, encoding with special tokens adds exactly
     * those (BOS/EOS named by the config, else by this tokenizer); {@code clean_up_tokenization_spaces} applies to
     * {@link #decode}; the config's {@code eos_token} becomes {@link #eosId()}.
     *
     * @throws IllegalArgumentException when the config names a BOS/EOS token the vocabulary lacks
     */
    public BpeTokenizer withConfig(TokenizerConfig config) {
        int bos = configToken(config.bosToken().orElse(null), "bos_token", bosId());
        int eos = configToken(config.eosToken().orElse(null), "eos_token", firstPresent(EOS_NAMES));
        int[] newPrefix = prefix, newSuffix = suffix;
        if (config.addBosToken().isPresent() || config.addEosToken().isPresent()) {
            boolean addBos = config.addBosToken().orElse(false), addEos = config.addEosToken().orElse(false);
            if (addBos && bos < 0) throw new IllegalArgumentException("tokenizer_config.json: add_bos_token is true "
                    + "but there is no BOS token (bos_token unset and none in the vocabulary)");
            if (addEos && eos < 0) throw new IllegalArgumentException("tokenizer_config.json: add_eos_token is true "
                    + "but there is no EOS token (eos_token unset and none in the vocabulary)");
            newPrefix = addBos ? new int[] {bos} : new int[0];
            newSuffix = addEos ? new int[] {eos} : new int[0];
        }
        return new BpeTokenizer(vocab, tokens, tokenBytes, special, byteToken, added, normalizer, preTokenizer, model, newPrefix,
                newSuffix, mergeCount, stripLeadingSpaces, config.cleanUpTokenizationSpaces(),
                config.eosToken().isPresent() ? eos : -1);
    }

    private int configToken(String content, String field, OptionalInt fallback) {
        if (content == null) return fallback.orElse(-1);
        OptionalInt id = id(content);
        if (id.isEmpty()) throw new IllegalArgumentException("tokenizer_config.json: " + field + " '" + content
                + "' is not a token of tokenizer.json");
        return id.getAsInt();
    }

    private static UnaryOperator<String> normalizer(JsonNode n) {
        if (n == null || n.isNull()) return UnaryOperator.identity();
        String type = n.path("type").asText("");
        return switch (type) {
            case "NFC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFC);
            case "NFD" -> s -> Normalizer.normalize(s, Normalizer.Form.NFD);
            case "NFKC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFKC);
            case "NFKD" -> s -> Normalizer.normalize(s, Normalizer.Form.NFKD);
            case "Lowercase" -> s -> s.toLowerCase(Locale.ROOT);
            case "Prepend" -> {
                String p = n.path("prepend").asText("");
                yield s -> s.isEmpty() ? s : p + s;      // HF prepends only to non-empty text
            }
            case "Replace" -> {
                String content = n.path("content").asText("");
                JsonNode pat = n.path("pattern");
                if (pat.has("String")) {
                    String lit = pat.get("String").asText();
                    yield s -> s.replace(lit, content);
                }
                if (pat.has("Regex")) {
                    java.util.regex.Pattern re = PreTokenizer.compile(pat.get("Regex").asText());
                    String quoted = java.util.regex.Matcher.quoteReplacement(content);
                    yield s -> re.matcher(s).replaceAll(quoted);
                }
                throw new IllegalArgumentException("normalizer Replace pattern must be {\"String\": …} or "
                        + "{\"Regex\": …}, got " + pat);
            }
            case "Strip" -> {
                boolean left = n.path("strip_left").asBoolean(false), right = n.path("strip_right").asBoolean(false);
                yield s -> {
                    int a = 0, b = s.length();
                    while (left && a < b && AddedTokens.isWhiteSpace(s.codePointAt(a))) a += Character.charCount(s.codePointAt(a));
                    while (right && b > a && AddedTokens.isWhiteSpace(s.codePointBefore(b))) b -= Character.charCount(s.codePointBefore(b));
                    return s.substring(a, b);
                };
            }
            case "Sequence" -> {
                UnaryOperator<String> all = UnaryOperator.identity();
                for (JsonNode step : n.path("normalizers")) {
                    UnaryOperator<String> before = all, next = normalizer(step);
                    all = s -> next.apply(before.apply(s));
                }
                yield all;
            }
            default -> throw new IllegalArgumentException("normalizer type '" + type
                    + "' is not supported (supported: null, NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence)");
        };
    }

    private static boolean hasByteLevelDecoder(JsonNode d) {
        if (d == null || d.isNull()) return false;
        if (d.path("type").asText("").equals("ByteLevel")) return true;
        for (JsonNode step : d.path("decoders")) if (hasByteLevelDecoder(step)) return true;
        return false;
    }

    /**
     * Checks the decoder and returns how many leading spaces it strips from a decoded text. Token bytes already
     * hold what ByteLevel, ByteFallback, Replace(▁ → space) and Metaspace make of a token, and Fuse only joins.
     */
    private static int decoderStrip(JsonNode d) {
        if (d == null || d.isNull()) return 0;            // decoded by token bytes all the same
        String type = d.path("type").asText("");
        return switch (type) {
            case "ByteLevel", "ByteFallback", "Fuse" -> 0;
            case "Replace" -> {
                JsonNode pat = d.path("pattern");
                if (!pat.path("String").asText("").equals("\u2581") || !d.path("content").asText("").equals(" ")) {
                    throw new IllegalArgumentException("decoder Replace is only supported from \"\u2581\" to \" \", got "
                            + pat + " → " + d.path("content"));
                }
                yield 0;
            }
            case "Strip" -> {
                if (!d.path("content").asText("").equals(" ") || d.path("stop").asInt(0) != 0) {
                    throw new IllegalArgumentException("decoder Strip is only supported for leading spaces, got " + d);
                }
                yield d.path("start").asInt(0);
            }
            case "Metaspace" -> {
                if (!d.path("replacement").asText("\u2581").equals("\u2581")) {
                    throw new IllegalArgumentException("decoder Metaspace replacement must be \u2581, got " + d.path("replacement"));
                }
                boolean prepends = d.has("prepend_scheme") ? !d.get("prepend_scheme").asText().equals("never")
                        : d.path("add_prefix_space").asBoolean(true);
                yield prepends ? 1 : 0;
            }
            case "Sequence" -> {
                int strip = 0;
                for (JsonNode step : d.path("decoders")) strip += decoderStrip(step);
                yield strip;
            }
            default -> throw new IllegalArgumentException("decoder type '" + type + "' is not supported (supported: "
                    + "ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, Sequence)");
        };
    }

    /** Collects the ids a post-processor puts before and after a single sequence. */
    private static void postProcessor(JsonNode p, IntList before, IntList after) {
        if (p == null || p.isNull()) return;
        String type = p.path("type").asText("");
        switch (type) {
            case "ByteLevel" -> { }                            // offsets only
            case "TemplateProcessing" -> {
                boolean seenSequence = false;
                for (JsonNode item : p.path("single")) {
                    if (item.has("Sequence")) {
                        seenSequence = true;
                    } else if (item.has("SpecialToken")) {
                        String key = item.get("SpecialToken").path("id").asText();
                        JsonNode st = p.path("special_tokens").path(key);
                        if (!st.path("ids").isArray()) {
                            throw new IllegalArgumentException("post_processor: template token '" + key + "' has no ids in special_tokens");
                        }
                        for (JsonNode id : st.get("ids")) (seenSequence ? after : before).add(id.asInt());
                    } else {
                        throw new IllegalArgumentException("post_processor: unknown template item " + item);
                    }
                }
            }
            case "RobertaProcessing", "BertProcessing" -> {
                before.add(p.path("cls").path(1).asInt());
                after.add(p.path("sep").path(1).asInt());
            }
            case "Sequence" -> {
                // Each processor wraps what the previous one produced.
                for (JsonNode step : p.path("processors")) {
                    IntList b = new IntList(), a = new IntList();
                    postProcessor(step, b, a);
                    int[] old = before.toArray();
                    before.clear();
                    before.addAll(b.toArray());
                    before.addAll(old);
                    after.addAll(a.toArray());
                }
            }
            default -> throw new IllegalArgumentException("post_processor type '" + type
                    + "' is not supported (supported: TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence)");
        }
    }

    @Override public int[] encode(String text) {
        return encode(text, false);
    }

    @Override public int[] encode(String text, boolean addSpecialTokens) {
        IntList out = new IntList();
        if (addSpecialTokens) out.addAll(prefix);
        List<String> pieces = new ArrayList<>();
        boolean first = true;
        for (AddedTokens.Section section : added.split(text)) {
            if (section.addedId() >= 0) {
                out.add(section.addedId());
                first = false;
                continue;
            }
            pieces.clear();
            preTokenizer.split(normalizer.apply(section.text()), first, pieces);
            first = false;
            for (String piece : pieces) model.tokenize(piece, out);
        }
        if (addSpecialTokens) out.addAll(suffix);
        return out.toArray();
    }

    @Override public byte[] bytes(int id) {
        checkId(id, 0);
        byte[] b = tokenBytes[id];
        if (b == null) throw new IllegalArgumentException("id " + id + " has no token (a gap in the vocabulary)");
        return b.clone();
    }

    @Override public String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * Like {@link #decode(int[])}; with {@code skipSpecialTokens} special tokens are left out.
     *
     * <p>Byte-level: all tokens' bytes read as UTF-8, each malformed sequence one U+FFFD. SentencePiece-style, as HF's
     * ByteFallback decoder: each run of {@code <0xAB>} tokens is one piece of UTF-8, and a run that is not valid
     * UTF-8 becomes one U+FFFD per byte token (so {@code <0xE4><0xB8><0xAD><0xFF>} is four, not "中" and one).
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        ByteArrayOutputStream run = new ByteArrayOutputStream();   // SentencePiece-style: the current byte-token run
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            checkId(id, i);
            if (tokenBytes[id] == null) throw new IllegalArgumentException("decode: id " + id + " at position " + i
                    + " has no token (a gap in the vocabulary)");
            if (skipSpecialTokens && special[id]) continue;
            if (byteToken != null && byteToken[id]) {
                run.writeBytes(tokenBytes[id]);
                continue;
            }
            flushByteRun(run, out);
            out.writeBytes(tokenBytes[id]);
        }
        flushByteRun(run, out);
        String text = out.toString(StandardCharsets.UTF_8);
        int strip = 0;
        while (strip < stripLeadingSpaces && strip < text.length() && text.charAt(strip) == ' ') strip++;
        text = text.substring(strip);
        return cleanUpSpaces ? cleanUpTokenizationSpaces(text) : text;
    }

    /** Moves a byte-token run to {@code out}: as it is when valid UTF-8, else one U+FFFD per byte (HF's ByteFallback). */
    private static void flushByteRun(ByteArrayOutputStream run, ByteArrayOutputStream out) {
        if (run.size() == 0) return;
        byte[] bytes = run.toByteArray();
        run.reset();
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes));
            out.writeBytes(bytes);
        } catch (CharacterCodingException e) {
            out.writeBytes(REPLACEMENT.repeat(bytes.length).getBytes(StandardCharsets.UTF_8));
        }
    }

    private static final String REPLACEMENT = "\uFFFD";

    /** transformers' {@code clean_up_tokenization}: no space before punctuation and English contractions. */
    static String cleanUpTokenizationSpaces(String text) {
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    @Override public int vocabSize() {
        return tokens.length;
    }

    @Override public String token(int id) {
        checkId(id, 0);
        if (tokens[id] == null) throw new IllegalArgumentException("id " + id + " has no token (a gap in the vocabulary)");
        return tokens[id];
    }

    @Override public OptionalInt id(String token) {
        AddedTokens.Token t = added.byContent(token);
        if (t != null) return OptionalInt.of(t.id());
        Integer id = vocab.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The post-processor's first prefix id, else {@code <|begin_of_text|>}, {@code <s>} or {@code <bos>} if present. */
    @Override public OptionalInt bosId() {
        if (prefix.length > 0) return OptionalInt.of(prefix[0]);
        return firstPresent("<|begin_of_text|>", "<s>", "<bos>");
    }

    /**
     * {@code <|end_of_text|>} (Llama 3), {@code <|endoftext|>} (GPT-2, Qwen2, SmolLM), {@code </s>} or
     * {@code <eos>}, the first present. tokenizer.json does not record the EOS of chat models
     * ({@code <|eot_id|>}, {@code <|im_end|>}: see generation_config.json); look those up with {@link #id(String)}.
     */
    @Override public OptionalInt eosId() {
        if (configEosId >= 0) return OptionalInt.of(configEosId);
        return firstPresent(EOS_NAMES);
    }

    private static final String[] EOS_NAMES = {"<|end_of_text|>", "<|endoftext|>", "</s>", "<eos>"};

    private OptionalInt firstPresent(String... names) {
        for (String n : names) {
            OptionalInt id = id(n);
            if (id.isPresent()) return id;
        }
        return OptionalInt.empty();
    }

    @Override public boolean isSpecial(int id) {
        checkId(id, 0);
        return special[id];
    }

    /** Number of merge rules. */
    public int mergeCount() {
        return mergeCount;
    }

    @Override public String toString() {
        return "BpeTokenizer(" + vocabSize() + " ids, " + mergeCount + " merges)";
    }
}
