package jlisa.optim.data;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A strict reader for exactly what instruction JSONL lines hold: one flat JSON object whose values
 * are strings. String values come back decoded (all JSON escapes, {@code \\uXXXX} and surrogate
 * pairs); numbers, {@code true}, {@code false} and {@code null} are accepted and come back as Java
 * {@code null} (present, but not a string); nested objects and arrays, duplicate keys, trailing
 * commas, trailing text and anything else that is not JSON are rejected with the column.
 * Not a general JSON parser: the core modules take no third-party dependencies, and this is all they need.
 */
final class FlatJson {
    private final String s;
    private int pos;

    private FlatJson(String s) { this.s = s; }

    /** Parses one object; throws {@link IllegalArgumentException} saying what was expected at which column (1-based). */
    static Map<String, String> parseObject(String text) {
        FlatJson p = new FlatJson(text);
        Map<String, String> fields = p.object();
        p.skipWhitespace();
        if (p.pos < p.s.length()) throw p.error("expected end of line after the object");
        return fields;
    }

    private Map<String, String> object() {
        skipWhitespace();
        expect('{', "expected '{' (a JSON object)");
        Map<String, String> fields = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}') {
            pos++;
            return fields;
        }
        while (true) {
            skipWhitespace();
            int keyAt = pos;
            if (peek() != '"') throw error("expected a string key");
            String key = string();
            if (fields.containsKey(key)) {
                pos = keyAt;
                throw error("duplicate key \"" + key + "\"");
            }
            skipWhitespace();
            expect(':', "expected ':' after key \"" + key + "\"");
            skipWhitespace();
            fields.put(key, value(key));
            skipWhitespace();
            int c = peek();
            if (c == ',') {
                pos++;
                continue;
            }
            if (c == '}') {
                pos++;
                return fields;
            }
            throw error("expected ',' or '}'");
        }
    }

    /** A string value, or null for a number / true / false / null. */
    private String value(String key) {
        int c = peek();
        if (c == '"') return string();
        if (c == '{' || c == '[') throw error("value of \"" + key + "\" is a nested object or array; only flat string fields are supported");
        if (s.startsWith("true", pos)) { pos += 4; return null; }
        if (s.startsWith("false", pos)) { pos += 5; return null; }
        if (s.startsWith("null", pos)) { pos += 4; return null; }
        if (c == '-' || (c >= '0' && c <= '9')) { number(); return null; }
        throw error("expected a value for \"" + key + "\"");
    }

    private void number() {
        if (peek() == '-') pos++;
        if (peek() == '0') pos++;
        else if (isDigit(peek())) while (isDigit(peek())) pos++;
        else throw error("expected a digit");
        if (peek() == '.') {
            pos++;
            if (!isDigit(peek())) throw error("expected a digit after '.'");
            while (isDigit(peek())) pos++;
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            if (peek() == '+' || peek() == '-') pos++;
            if (!isDigit(peek())) throw error("expected a digit in the exponent");
            while (isDigit(peek())) pos++;
        }
    }

    private String string() {
        expect('"', "expected '\"'");
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= s.length()) throw error("unterminated string");
            char c = s.charAt(pos++);
            if (c == '"') return sb.toString();
            if (c < 0x20) {
                pos--;
                throw error("control character U+%04X inside a string must be escaped".formatted((int) c));
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= s.length()) throw error("unterminated escape");
            char e = s.charAt(pos++);
            switch (e) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case '/' -> sb.append('/');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    char u = hex4();
                    if (Character.isHighSurrogate(u)) {
                        if (!s.startsWith("\\u", pos)) throw error("high surrogate \\u%04X must be followed by a \\u low surrogate".formatted((int) u));
                        pos += 2;
                        char low = hex4();
                        if (!Character.isLowSurrogate(low)) {
                            pos -= 6;
                            throw error("high surrogate \\u%04X followed by \\u%04X, not a low surrogate".formatted((int) u, (int) low));
                        }
                        sb.append(u).append(low);
                    } else if (Character.isLowSurrogate(u)) {
                        pos -= 6;
                        throw error("lone low surrogate \\u%04X".formatted((int) u));
                    } else {
                        sb.append(u);
                    }
                }
                default -> {
                    pos -= 2;
                    throw error("invalid escape '\\" + e + "'");
                }
            }
        }
    }

    private char hex4() {
        if (pos + 4 > s.length()) throw error("expected 4 hex digits after \\u");
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(s.charAt(pos), 16);
            if (d < 0) throw error("expected 4 hex digits after \\u");
            v = v * 16 + d;
            pos++;
        }
        return (char) v;
    }

    private void expect(char c, String message) {
        if (peek() != c) throw error(message);
        pos++;
    }

    private int peek() { return pos < s.length() ? s.charAt(pos) : -1; }

    private static boolean isDigit(int c) { return c >= '0' && c <= '9'; }

    private void skipWhitespace() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return;
            pos++;
        }
    }

    private IllegalArgumentException error(String message) {
        String found = pos >= s.length() ? "end of line" : "'" + s.charAt(pos) + "'";
        return new IllegalArgumentException("column " + (pos + 1) + ": " + message + ", found " + found);
    }
}
