package jlisa.transformer.tokenizer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What a Hugging Face {@code tokenizer_config.json} says about a tokenizer: its special tokens
 * ({@code bos_token}, {@code eos_token}, {@code pad_token}, {@code unk_token}: a string or an
 * AddedToken object {@code {"content": ...}}), whether encoding with special tokens adds BOS/EOS
 * ({@code add_bos_token}, {@code add_eos_token}), whether decoding cleans up tokenization spaces,
 * the chat templates and {@code model_max_length}. Fields this class does not model are ignored.
 *
 * <p>Absent fields stay empty rather than taking a guessed value, so callers can tell "the file
 * says false" from "the file says nothing" (for {@code add_bos_token} the tokenizer.json
 * post-processor then decides). The exception is {@link #cleanUpTokenizationSpaces()}, which
 * takes transformers' default.
 *
 * <p>Immutable, and therefore safe to share between threads.
 */
public final class TokenizerConfig {
    /** The file name in a model directory. */
    public static final String FILE_NAME = "tokenizer_config.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private static final TokenizerConfig EMPTY = new TokenizerConfig(null, null, null, null, null, null, null,
            Map.of(), null);

    private final String bosToken, eosToken, padToken, unkToken;
    private final Boolean addBosToken, addEosToken, cleanUpTokenizationSpaces;
    private final Map<String, String> chatTemplates;   // name -> template; the default one is named "default"
    private final Integer modelMaxLength;

    private TokenizerConfig(String bosToken, String eosToken, String padToken, String unkToken, Boolean addBosToken,
            Boolean addEosToken, Boolean cleanUpTokenizationSpaces, Map<String, String> chatTemplates,
            Integer modelMaxLength) {
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.padToken = padToken;
        this.unkToken = unkToken;
        this.addBosToken = addBosToken;
        this.addEosToken = addEosToken;
        this.cleanUpTokenizationSpaces = cleanUpTokenizationSpaces;
        this.chatTemplates = chatTemplates;
        this.modelMaxLength = modelMaxLength;
    }

    /** A config that says nothing: what a model directory without {@code tokenizer_config.json} has. */
    public static TokenizerConfig empty() {
        return EMPTY;
    }

    /**
     * The {@code tokenizer_config.json} of {@code modelDir}, or {@link #empty()} when the directory has none.
     *
     * @throws IllegalArgumentException when the file is there but malformed (see {@link #read(Path)})
     */
    public static TokenizerConfig forModel(Path modelDir) {
        Path file = modelDir.resolve(FILE_NAME);
        return Files.isRegularFile(file) ? read(file) : EMPTY;
    }

    /**
     * Reads {@code file}.
     *
     * @throws IllegalArgumentException naming the file and the field when the JSON is invalid or a field has the
     *     wrong type (e.g. {@code add_bos_token} that is not a boolean)
     * @throws UncheckedIOException when the file cannot be read
     */
    public static TokenizerConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return parse(text, file.toString());
    }

    /** Parses {@code tokenizer_config.json} content; {@code name} says where it came from in any error. */
    public static TokenizerConfig parse(String json, String name) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new IllegalArgumentException(name + " is not valid JSON: " + e.getOriginalMessage()
                    + " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(name + " must hold a JSON object, got "
                    + (root == null ? "nothing" : root.getNodeType()));
        }
        return new TokenizerConfig(
                token(root, "bos_token", name), token(root, "eos_token", name),
                token(root, "pad_token", name), token(root, "unk_token", name),
                bool(root, "add_bos_token", name), bool(root, "add_eos_token", name),
                bool(root, "clean_up_tokenization_spaces", name),
                chatTemplates(root.get("chat_template"), name),
                maxLength(root.get("model_max_length"), name));
    }

    /** A special token field: null/absent, a string, or an AddedToken object whose {@code content} is the string. */
    private static String token(JsonNode root, String field, String name) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        if (n.isObject() && n.path("content").isTextual()) return n.get("content").asText();
        throw new IllegalArgumentException(name + ": " + field + " must be a string or an object with a string "
                + "\"content\", got " + n);
    }

    private static Boolean bool(JsonNode root, String field, String name) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) return null;
        if (!n.isBoolean()) throw new IllegalArgumentException(name + ": " + field + " must be true or false, got " + n);
        return n.asBoolean();
    }

    /** {@code chat_template}: one template string, or a list of {"name", "template"} objects. */
    private static Map<String, String> chatTemplates(JsonNode n, String name) {
        if (n == null || n.isNull()) return Map.of();
        if (n.isTextual()) return Map.of("default", n.asText());
        if (!n.isArray()) {
            throw new IllegalArgumentException(name + ": chat_template must be a string or a list of "
                    + "{\"name\", \"template\"} objects, got " + n.getNodeType());
        }
        Map<String, String> templates = new LinkedHashMap<>();
        for (int i = 0; i < n.size(); i++) {
            JsonNode t = n.get(i);
            if (!t.path("name").isTextual() || !t.path("template").isTextual()) {
                throw new IllegalArgumentException(name + ": chat_template[" + i + "] must be an object with string "
                        + "\"name\" and \"template\", got " + t);
            }
            if (templates.putIfAbsent(t.get("name").asText(), t.get("template").asText()) != null) {
                throw new IllegalArgumentException(name + ": chat_template[" + i + "] repeats the name '"
                        + t.get("name").asText() + "'");
            }
        }
        return Collections.unmodifiableMap(templates);
    }

    private static Integer maxLength(JsonNode n, String name) {
        if (n == null || n.isNull()) return null;
        if (!n.isIntegralNumber() && !(n.isFloatingPointNumber() && n.asDouble() == Math.rint(n.asDouble()))) {
            throw new IllegalArgumentException(name + ": model_max_length must be an integer, got " + n);
        }
        BigInteger v = n.isIntegralNumber() ? n.bigIntegerValue() : n.decimalValue().toBigInteger();
        if (v.signum() <= 0) throw new IllegalArgumentException(name + ": model_max_length must be positive, got " + n);
        // transformers writes int(1e30) (VERY_LARGE_INTEGER) for "no limit"; nothing past int range is a usable limit
        if (v.bitLength() > 31) return null;
        return v.intValue();
    }

    /** {@code bos_token}, if the file names one. */
    public Optional<String> bosToken() {
        return Optional.ofNullable(bosToken);
    }

    /** {@code eos_token}, if the file names one. */
    public Optional<String> eosToken() {
        return Optional.ofNullable(eosToken);
    }

    /** {@code pad_token}, if the file names one. */
    public Optional<String> padToken() {
        return Optional.ofNullable(padToken);
    }

    /** {@code unk_token}, if the file names one. */
    public Optional<String> unkToken() {
        return Optional.ofNullable(unkToken);
    }

    /** {@code add_bos_token}: whether encoding with special tokens prepends BOS; empty when the file does not say. */
    public Optional<Boolean> addBosToken() {
        return Optional.ofNullable(addBosToken);
    }

    /** {@code add_eos_token}: whether encoding with special tokens appends EOS; empty when the file does not say. */
    public Optional<Boolean> addEosToken() {
        return Optional.ofNullable(addEosToken);
    }

    /**
     * {@code clean_up_tokenization_spaces}: whether decoding removes the space before punctuation and contractions
     * ({@code " ."} → {@code "."}, {@code " 's"} → {@code "'s"}). When the file does not say, {@code false}: Python
     * transformers' {@code PreTrainedTokenizerBase} defaults it to {@code False} (since 4.45; earlier releases
     * defaulted to {@code True} with a deprecation warning), and the slow/fast Llama and Gemma tokenizers write it
     * explicitly in their files anyway.
     */
    public boolean cleanUpTokenizationSpaces() {
        return cleanUpTokenizationSpaces != null && cleanUpTokenizationSpaces;
    }

    /** The {@code clean_up_tokenization_spaces} field as written; empty when the file does not say. */
    public Optional<Boolean> cleanUpTokenizationSpacesField() {
        return Optional.ofNullable(cleanUpTokenizationSpaces);
    }

    /** The default chat template: {@code chat_template} when it is a string, else the entry named "default". */
    public Optional<String> chatTemplate() {
        return chatTemplate("default");
    }

    /** The chat template called {@code name} (a plain string {@code chat_template} is called "default"). */
    public Optional<String> chatTemplate(String name) {
        return Optional.ofNullable(chatTemplates.get(Objects.requireNonNull(name, "name")));
    }

    /** Every chat template by name, in file order (unmodifiable; a plain string template is named "default"). */
    public Map<String, String> chatTemplates() {
        return chatTemplates;
    }

    /** {@code model_max_length}; empty when absent or when it is transformers' "no limit" sentinel {@code int(1e30)}. */
    public OptionalInt modelMaxLength() {
        return modelMaxLength == null ? OptionalInt.empty() : OptionalInt.of(modelMaxLength);
    }

    @Override public boolean equals(Object o) {
        return o instanceof TokenizerConfig c && Objects.equals(bosToken, c.bosToken)
                && Objects.equals(eosToken, c.eosToken) && Objects.equals(padToken, c.padToken)
                && Objects.equals(unkToken, c.unkToken) && Objects.equals(addBosToken, c.addBosToken)
                && Objects.equals(addEosToken, c.addEosToken)
                && Objects.equals(cleanUpTokenizationSpaces, c.cleanUpTokenizationSpaces)
                && chatTemplates.equals(c.chatTemplates) && Objects.equals(modelMaxLength, c.modelMaxLength);
    }

    @Override public int hashCode() {
        return Objects.hash(bosToken, eosToken, padToken, unkToken, addBosToken, addEosToken,
                cleanUpTokenizationSpaces, chatTemplates, modelMaxLength);
    }

    @Override public String toString() {
        return "TokenizerConfig(bos=" + bosToken + ", eos=" + eosToken + ", pad=" + padToken + ", unk=" + unkToken
                + ", addBos=" + addBosToken + ", addEos=" + addEosToken + ", cleanUp=" + cleanUpTokenizationSpaces
                + ", chatTemplates=" + chatTemplates.keySet() + ", modelMaxLength=" + modelMaxLength + ")";
    }
}
