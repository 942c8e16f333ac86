package jlisa.optim.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import org.junit.jupiter.api.Test;

class FlatJsonTest {
    @Test
    void readsFlatStringFieldsInOrder() {
        Map<String, String> m = FlatJson.parseObject(" { \"a\" : \"x\",\"b\":\"\" , \"c\":\"y z\" } ");
        assertThat(m).containsExactly(Map.entry("a", "x"), Map.entry("b", ""), Map.entry("c", "y z"));
        assertThat(FlatJson.parseObject("{}")).isEmpty();
    }

    @Test
    void decodesEveryEscapeIncludingSurrogatePairs() {
        Map<String, String> m = FlatJson.parseObject(
                "{\"s\": \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u4E2D \\ud83d\\ude00 raw é 😀\"}");
        assertThat(m.get("s")).isEqualTo("q\" b\\ s/ \b\f\n\r\t é 中 \uD83D\uDE00 raw é 😀");
        assertThat(FlatJson.parseObject("{\"k\\u0041\": \"v\"}")).containsKey("kA");
    }

    @Test
    void nonStringScalarsArePresentButNull() {
        Map<String, String> m = FlatJson.parseObject("{\"n\": -1.5e+3, \"z\": 0, \"t\": true, \"f\": false, \"u\": null, \"s\": \"ok\"}");
        assertThat(m).containsKeys("n", "z", "t", "f", "u");
        assertThat(m.get("n")).isNull();
        assertThat(m.get("u")).isNull();
        assertThat(m.get("s")).isEqualTo("ok");
    }

    @Test
    void rejectsWhatIsNotAFlatObjectWithTheColumn() {
        assertBad("[\"a\"]", "column 1: expected '{'");
        assertBad("{\"a\": {\"b\": \"c\"}}", "column 7: value of \"a\" is a nested object or array");
        assertBad("{\"a\": [1]}", "nested object or array");
        assertBad("{\"a\": \"x\",}", "column 11: expected a string key");
        assertBad("{\"a\": \"x\"", "expected ',' or '}', found end of line");
        assertBad("{\"a\": \"x\"} extra", "column 12: expected end of line after the object");
        assertBad("{\"a\": \"x\", \"a\": \"y\"}", "column 12: duplicate key \"a\"");
        assertBad("{a: \"x\"}", "expected a string key");
        assertBad("{\"a\" \"x\"}", "expected ':' after key \"a\"");
        assertBad("{\"a\": \"x}", "unterminated string");
        assertBad("{\"a\": \"\\x\"}", "column 8: invalid escape '\\x'");
        assertBad("{\"a\": \"\\u12G4\"}", "expected 4 hex digits after \\u");
        assertBad("{\"a\": \"\\ud83d\"}", "high surrogate \\uD83D must be followed by a \\u low surrogate");
        assertBad("{\"a\": \"\\ud83d\\u0041\"}", "followed by \\u0041, not a low surrogate");
        assertBad("{\"a\": \"\\ude00\"}", "lone low surrogate \\uDE00");
        assertBad("{\"a\": \"tab\there\"}", "control character U+0009");
        assertBad("{\"a\": tru}", "expected a value for \"a\"");
        assertBad("{\"a\": 01}", "expected ',' or '}'");
        assertBad("{\"a\": 1.}", "expected a digit after '.'");
        assertBad("", "column 1: expected '{' (a JSON object), found end of line");
    }

    private static void assertBad(String json, String message) {
        assertThatThrownBy(() -> FlatJson.parseObject(json))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }
}
