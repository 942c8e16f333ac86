package jlisa.transformer.generate;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The fields of a model directory's Hugging Face {@code generation_config.json} that generation uses; every field is
 * null when the file does not set it. Unknown keys are ignored; a malformed value is an error naming the key and the
 * file. Immutable, so safe to share between threads.
 *
 * @param eosTokenIds {@code eos_token_id} (an int or a list of ints): the stop tokens
 * @param bosTokenId {@code bos_token_id}
 * @param padTokenId {@code pad_token_id}
 * @param maxNewTokens {@code max_new_tokens}
 * @param maxLength {@code max_length}: prompt + new tokens; HF uses it only when max_new_tokens is not set
 * @param doSample {@code do_sample}: false (HF's default) means greedy, and temperature, top-k and top-p are unused
 * @param temperature {@code temperature}
 * @param topK {@code top_k}
 * @param topP {@code top_p}
 * @param repetitionPenalty {@code repetition_penalty}
 */
public record GenerationConfigFile(Set<Integer> eosTokenIds, Integer bosTokenId, Integer padTokenId, Integer maxNewTokens,
                                   Integer maxLength, Boolean doSample, Double temperature, Integer topK, Double topP,
                                   Double repetitionPenalty) {
    /** The file's name in a model directory. */
    public static final String FILE = "generation_config.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** An empty file: nothing set. */
    public static GenerationConfigFile none() {
        return new GenerationConfigFile(null, null, null, null, null, null, null, null, null, null);
    }

    /** {@code dir/generation_config.json}, or {@link #none()} when the directory has none. */
    public static GenerationConfigFile fromModelDirectory(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        return Files.isRegularFile(file) ? read(file) : none();
    }

    /** Reads a generation_config.json. */
    public static GenerationConfigFile read(Path file) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException(file + ": expected a JSON object");
        return new GenerationConfigFile(tokenIds(root, "eos_token_id", file), tokenId(root, "bos_token_id", file),
                tokenId(root, "pad_token_id", file), count(root, "max_new_tokens", file), count(root, "max_length", file),
                bool(root, "do_sample", file), number(root, "temperature", file), count(root, "top_k", file),
                number(root, "top_p", file), number(root, "repetition_penalty", file));
    }

    /**
     * {@code base} with what this file sets: stop tokens, the token budget (max_new_tokens, else max_length minus the
     * prompt's {@code promptLength} tokens, at least 0) and, as HF does, the sampling fields only when do_sample is
     * true; do_sample false or unset makes it greedy. The result's constructor checks the ranges.
     */
    public GenerationConfig applyTo(GenerationConfig base, int promptLength) {
        GenerationConfig c = base;
        if (eosTokenIds != null) c = c.withStopTokens(eosTokenIds.stream().mapToInt(Integer::intValue).toArray());
        if (maxNewTokens != null) c = c.withMaxNewTokens(maxNewTokens);
        else if (maxLength != null) c = c.withMaxNewTokens(Math.max(0, maxLength - promptLength));
        if (repetitionPenalty != null) c = c.withRepetitionPenalty(repetitionPenalty);
        if (Boolean.TRUE.equals(doSample)) {
            c = c.withTemperature(temperature != null ? temperature : 1.0);   // HF's default temperature
            if (topK != null) c = c.withTopK(topK);
            if (topP != null) c = c.withTopP(topP);
        } else {
            c = c.withTemperature(0.0);
        }
        return c;
    }

    private static JsonNode field(JsonNode root, String key) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? null : n;
    }

    private static IllegalArgumentException bad(Path file, String key, String expected, JsonNode got) {
        return new IllegalArgumentException(file + ": '" + key + "' must be " + expected + ", got " + got);
    }

    private static Integer count(JsonNode root, String key, Path file) {
        JsonNode n = field(root, key);
        if (n == null) return null;
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < 0) throw bad(file, key, "an integer ≥ 0", n);
        return n.intValue();
    }

    private static Integer tokenId(JsonNode root, String key, Path file) { return count(root, key, file); }

    private static Set<Integer> tokenIds(JsonNode root, String key, Path file) {
        JsonNode n = field(root, key);
        if (n == null) return null;
        Set<Integer> ids = new TreeSet<>();
        Iterator<JsonNode> items = n.isArray() ? n.elements() : java.util.List.of(n).iterator();
        while (items.hasNext()) {
            JsonNode id = items.next();
            if (!id.isIntegralNumber() || !id.canConvertToInt() || id.intValue() < 0) {
                throw bad(file, key, "a token id ≥ 0 or a list of them", n);
            }
            ids.add(id.intValue());
        }
        return Set.copyOf(ids);
    }

    private static Double number(JsonNode root, String key, Path file) {
        JsonNode n = field(root, key);
        if (n == null) return null;
        if (!n.isNumber()) throw bad(file, key, "a number", n);
        return n.doubleValue();
    }

    private static Boolean bool(JsonNode root, String key, Path file) {
        JsonNode n = field(root, key);
        if (n == null) return null;
        if (!n.isBoolean()) throw bad(file, key, "true or false", n);
        return n.booleanValue();
    }
}
