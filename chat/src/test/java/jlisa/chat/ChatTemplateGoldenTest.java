package jlisa.chat;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Every case of golden/chat_templates.json (real templates × conversations, rendered by @huggingface/jinja with
 * chat/src/test/golden/render_golden.mjs) renders byte for byte the same here, and a case the reference rejects
 * with raise_exception is rejected with the same message.
 */
class ChatTemplateGoldenTest {

    @Test
    void everyReferenceRenderingIsReproducedExactly() throws Exception {
        JsonNode root;
        try (InputStream in = getClass().getResourceAsStream("/golden/chat_templates.json")) {
            root = new ObjectMapper().readTree(in);
        }
        Map<String, ChatTemplate> templates = new HashMap<>();
        root.get("templates").properties().forEach(e -> {
            Map<String, Object> special = new HashMap<>();
            e.getValue().get("special_tokens").properties().forEach(t -> {
                if (!t.getValue().isNull()) special.put(t.getKey(), t.getValue().asText());
            });
            templates.put(e.getKey(), ChatTemplate.of(e.getKey(), e.getValue().get("chat_template").asText(), special));
        });
        List<String> mismatches = new ArrayList<>();
        int cases = 0;
        for (JsonNode c : root.get("cases")) {
            cases++;
            List<ChatMessage> messages = new ArrayList<>();
            for (JsonNode m : c.get("messages")) {
                messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
            }
            String id = c.get("template").asText() + "/" + c.get("conversation").asText() + "/agp="
                    + c.get("add_generation_prompt").asBoolean();
            ChatTemplate template = templates.get(c.get("template").asText());
            String got;
            try {
                got = template.render(messages, c.get("add_generation_prompt").asBoolean());
            } catch (ChatTemplateException e) {
                if (!c.has("error") || !e.raisedByTemplate() || !e.getMessage().equals(c.get("error").asText())) {
                    mismatches.add(id + ": threw " + e.getMessage() + (c.has("error") ? ", expected error " + c.get("error") : ""));
                }
                continue;
            }
            if (c.has("error")) {
                mismatches.add(id + ": expected error " + c.get("error") + ", rendered " + quote(got));
            } else if (!got.equals(c.get("expected").asText())) {
                mismatches.add(id + ":\n  expected " + quote(c.get("expected").asText()) + "\n  got      " + quote(got));
            }
        }
        assertThat(cases).isEqualTo(72);
        assertThat(mismatches).as("%d of %d cases differ", mismatches.size(), cases).isEmpty();
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "\"";
    }
}
