package jlisa.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What {@code --json} prints: one JSON document on stdout and nothing else there (bars and logs go to stderr).
 * Numbers that are not finite (a NaN loss, an absent figure) are null, since JSON has no NaN.
 */
final class JsonOut {
    private JsonOut() {}

    static ObjectNode object() { return JsonNodeFactory.instance.objectNode(); }

    /** Puts {@code v}, or null when it is NaN or infinite. */
    static ObjectNode number(ObjectNode o, String name, double v) {
        if (Double.isFinite(v)) o.put(name, v);
        else o.putNull(name);
        return o;
    }

    static void print(JsonNode document) { System.out.println(document.toString()); }

    /** The {@code --json} option, as a mixin for commands whose fields are otherwise their own. */
    static final class Flag {
        @picocli.CommandLine.Option(names = "--json",
                description = "print one JSON object with the figures instead of the text (progress goes to stderr)")
        boolean on;
    }
}
