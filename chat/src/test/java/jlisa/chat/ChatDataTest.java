package jlisa.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChatDataTest {

    /** One id per character, so a masked span reads back as the text it covers. */
    private static final Function<String, int[]> CHARS = s -> s.chars().toArray();

    private static final ChatTemplate TURNS = ChatTemplate.of(
            "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}<end>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
            Map.of("bos_token", "^"));

    private static String masked(ChatData.Tokens t) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < t.ids().length; i++) if (t.assistantMask()[i]) sb.append((char) t.ids()[i]); else sb.append('.');
        return sb.toString();
    }

    @Test
    void maskCountsAssistantContentAndItsEndOfTurnOnly() {
        ChatData.Tokens t = ChatData.tokenize(List.of(ChatMessage.system("S"), ChatMessage.user("Q1"), ChatMessage.assistant("A1"),
                ChatMessage.user("Q2"), ChatMessage.assistant("A2")), TURNS, CHARS);
        assertThat(new String(t.ids(), 0, t.ids().length)).isEqualTo("^<system>S<end><user>Q1<end><assistant>A1<end><user>Q2<end><assistant>A2<end>");
        String before1 = "^<system>S<end><user>Q1<end><assistant>", before2 = "<user>Q2<end><assistant>";
        assertThat(masked(t)).isEqualTo(".".repeat(before1.length()) + "A1<end>" + ".".repeat(before2.length()) + "A2<end>");
        assertThat(t.assistantTokens()).isEqualTo(2 * "A1<end>".length());
    }

    @Test
    void templateThatRewritesEarlierTurnsIsRefused() {
        // Earlier assistant turns lose their content once a later turn follows (as reasoning templates do with <think>).
        ChatTemplate rewriting = ChatTemplate.of("{% for m in messages %}{% if m.role == 'assistant' and not loop.last %}<a><end>"
                + "{% else %}<{{ m.role }}>{{ m.content }}<end>{% endif %}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}", Map.of());
        assertThatThrownBy(() -> ChatData.tokenize(List.of(ChatMessage.user("q"), ChatMessage.assistant("a"), ChatMessage.user("q2"),
                ChatMessage.assistant("b")), rewriting, CHARS))
                .hasMessageContaining("assistant message 1").hasMessageContaining("not token prefixes");
    }

    @Test
    void badLinesAreNamed(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("chat.jsonl");
        Files.writeString(f, "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n\n"
                + "{\"prompt\": \"p\", \"response\": \"r\"}\n");
        assertThatThrownBy(() -> ChatData.read(f, TURNS, CHARS)).hasMessageStartingWith(f + ":3: expected {\"messages\"")
                .hasMessageContaining("got keys [prompt, response]");
        Files.writeString(f, "{\"messages\": [{\"role\": \"user\", \"content\": 3}]}\n");
        assertThatThrownBy(() -> ChatData.read(f, TURNS, CHARS)).hasMessageContaining(":1: message 0 must be {\"role\": string, \"content\": string}");
        Files.writeString(f, "{\"messages\": [{\"role\": \"user\", \"content\": \"only a question\"}]}\n");
        assertThatThrownBy(() -> ChatData.read(f, TURNS, CHARS)).hasMessageContaining(":1: the conversation has no assistant message");
        ChatTemplate strict = ChatTemplate.of("{% if messages[0].role != 'user' %}{{ raise_exception('first must be user') }}{% endif %}", Map.of());
        Files.writeString(f, "{\"messages\": [{\"role\": \"assistant\", \"content\": \"a\"}]}\n");
        assertThatThrownBy(() -> ChatData.read(f, strict, CHARS)).hasMessage(f + ":1: the chat template rejects this conversation: first must be user");
    }
}
