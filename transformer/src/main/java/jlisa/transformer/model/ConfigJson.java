package jlisa.transformer.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** Reading Hugging Face {@code config.json} fields with clear errors. */
final class ConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final JsonNode root;
    private final String source;

    private ConfigJson(JsonNode root, String source) {
        this.root = root;
        this.source = source;
    }

    static ConfigJson read(Path file) {
        try {
            JsonNode n = JSON.readTree(Files.readString(file));
            if (n == null || !n.isObject()) throw new IllegalArgumentException(file + ": expected a JSON object");
            return new ConfigJson(n, file.toString());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read config.json: " + e.getMessage(), e);
        }
    }

    static ConfigJson parse(String json, String source) {
        try {
            return new ConfigJson(JSON.readTree(json), source);
        } catch (IOException e) {
            throw new IllegalArgumentException(source + ": config does not parse: " + e.getMessage(), e);
        }
    }

    String string(String key, String dflt) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? dflt : n.asText();
    }

    boolean has(String key) { return root.hasNonNull(key); }

    JsonNode node(String key) { return root.get(key); }

    int integer(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) throw new IllegalArgumentException(source + ": config field '" + key + "' is missing");
        if (!n.canConvertToInt()) throw new IllegalArgumentException(source + ": config field '" + key + "' must be an integer, got " + n);
        return n.asInt();
    }

    int integer(String key, int dflt) { return has(key) ? integer(key) : dflt; }

    double number(String key, double dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isNumber()) throw new IllegalArgumentException(source + ": config field '" + key + "' must be a number, got " + n);
        return n.asDouble();
    }

    boolean bool(String key, boolean dflt) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? dflt : n.asBoolean();
    }

    String source() { return source; }
}
