package jlisa.transformer.tokenizer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
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
    private final AddedTokens added;
    private final UnaryOperator<String> normalizer;
    private final PreTokenizer preTokenizer;
    private final BpeModel model;
    private final int[] prefix, suffix;     // post-processor ids around a single sequence
    private final int mergeCount;

    private BpeTokenizer(Map<String, Integer> vocab, String[] tokens, byte[][] tokenBytes, boolean[] special,
            AddedTokens added, UnaryOperator<String> normalizer, PreTokenizer preTokenizer, BpeModel model,
            int[] prefix, int[] suffix, int mergeCount) {
        this.vocab = vocab;
        this.tokens = tokens;
        this.tokenBytes = tokenBytes;
        this.special = special;
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
        try {
            root = JSON.readTree(in);
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

    private static BpeTokenizer fromTree(JsonNode root, String name) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(name + " must hold a JSON object, got " + (root == null ? "nothing" : root.getNodeType()));
        }
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
        vocab.forEach((token, id) -> {
            tokens[id] = token;
            byte[] b = ByteLevel.decode(token);
            bytes[id] = b != null ? b : token.getBytes(StandardCharsets.UTF_8);   // HF: not byte-level -> raw
        });
        for (AddedTokens.Token t : addedList) {
            tokens[t.id()] = t.content();
            bytes[t.id()] = t.content().getBytes(StandardCharsets.UTF_8);
            special[t.id()] = t.special();
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
        BpeModel model = new BpeModel(vocab, merges, unkId, m.path("ignore_merges").asBoolean(false));

        PreTokenizer pre = PreTokenizer.parse(root.get("pre_tokenizer"));
        if (pre.byteLevelSteps() != 1) {
            throw new IllegalArgumentException("pre_tokenizer has " + pre.byteLevelSteps()
                    + " ByteLevel steps; byte-level BPE needs exactly one");
        }
        checkDecoder(root.get("decoder"));
        UnaryOperator<String> normalizer = normalizer(root.get("normalizer"));

        IntList pre_ = new IntList(), post = new IntList();
        postProcessor(root.get("post_processor"), vocab, addedList, pre_, post);
        return new BpeTokenizer(vocab, tokens, bytes, special, new AddedTokens(addedList), normalizer, pre, model,
                pre_.toArray(), post.toArray(), rank);
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
            case "Sequence" -> {
                UnaryOperator<String> all = UnaryOperator.identity();
                for (JsonNode step : n.path("normalizers")) {
                    UnaryOperator<String> before = all, next = normalizer(step);
                    all = s -> next.apply(before.apply(s));
                }
                yield all;
            }
            default -> throw new IllegalArgumentException("normalizer type '" + type
                    + "' is not supported (supported: null, NFC, NFD, NFKC, NFKD, Lowercase, Sequence)");
        };
    }

    private static void checkDecoder(JsonNode d) {
        if (d == null || d.isNull()) return;              // decoded as byte-level all the same
        String type = d.path("type").asText("");
        if (type.equals("ByteLevel")) return;
        if (type.equals("Sequence")) {
            for (JsonNode step : d.path("decoders")) checkDecoder(step);
            return;
        }
        throw new IllegalArgumentException("decoder type '" + type + "' is not supported (supported: ByteLevel)");
    }

    /** Collects the ids a post-processor puts before and after a single sequence. */
    private static void postProcessor(JsonNode p, Map<String, Integer> vocab, List<AddedTokens.Token> added,
            IntList before, IntList after) {
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
                    postProcessor(step, vocab, added, b, a);
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
        for (AddedTokens.Section section : added.split(text)) {
            if (section.addedId() >= 0) {
                out.add(section.addedId());
                continue;
            }
            pieces.clear();
            preTokenizer.split(normalizer.apply(section.text()), pieces);
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

    /** Like {@link #decode(int[])}; with {@code skipSpecialTokens} special tokens are left out. */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            checkId(id, i);
            if (tokenBytes[id] == null) throw new IllegalArgumentException("decode: id " + id + " at position " + i
                    + " has no token (a gap in the vocabulary)");
            if (!(skipSpecialTokens && special[id])) out.writeBytes(tokenBytes[id]);
        }
        return out.toString(StandardCharsets.UTF_8);
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
        return firstPresent("<|end_of_text|>", "<|endoftext|>", "</s>", "<eos>");
    }

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
