package jlisa.chat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Chat data for fine-tuning: JSONL with one conversation per line, {@code {"messages": [{"role": ..., "content":
 * ...}, ...]}} (blank lines skipped, other keys ignored), rendered with a model's chat template and tokenized with a
 * mask that counts the assistant turns only.
 *
 * <p>What the mask counts, exactly: for each assistant message at index {@code i}, the tokens between the render
 * of {@code messages[:i]} with {@code add_generation_prompt=true} (everything up to and including the assistant
 * header) and the render of {@code messages[:i+1]} without it: the reply's content, the template's end-of-turn
 * token and whatever the template writes after it within the turn (Qwen's {@code "<|im_end|>\n"} counts its
 * newline; Llama-3's {@code "<|eot_id|>"}, DeepSeek-V3's end-of-sentence). System and user turns, headers and
 * generation prompts never count. This is TRL's {@code assistant_only_loss} up to that trailing text.
 *
 * <p>Each of those renders is tokenized on its own and must be a token prefix of the next and of the whole
 * conversation's tokens; a template that renders an earlier turn differently once later turns follow (or a
 * tokenizer that merges across the boundary) breaks this, and reading fails naming the line and turn rather than
 * training on a misplaced mask.
 *
 * <p>Stateless; safe to call from any thread (with a thread-safe encoder).
 */
public final class ChatData {

    private ChatData() {}

    /**
     * One tokenized conversation.
     *
     * @param ids the rendered conversation's token ids
     * @param assistantMask per id, whether it belongs to an assistant turn (and so is a loss target)
     */
    public record Tokens(int[] ids, boolean[] assistantMask) {
        /** How many ids count. */
        public int assistantTokens() {
            int n = 0;
            for (boolean b : assistantMask) if (b) n++;
            return n;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One JSONL line; {@code where} (file:line) starts every error message. */
    static List<ChatMessage> parseLine(String line, String where) {
        JsonNode root;
        try {
            root = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(where + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject() || !root.has("messages")) {
            throw new IllegalArgumentException(where + ": expected {\"messages\": [{\"role\": ..., \"content\": ...}, ...]}, got "
                    + (root != null && root.isObject() ? "keys " + iterableToList(root.fieldNames()) : describe(root)));
        }
        JsonNode messages = root.get("messages");
        if (!messages.isArray() || messages.isEmpty()) {
            throw new IllegalArgumentException(where + ": \"messages\" must be a non-empty array, got " + describe(messages));
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int j = 0; j < messages.size(); j++) {
            JsonNode m = messages.get(j);
            JsonNode role = m.get("role"), content = m.get("content");
            if (!m.isObject() || role == null || !role.isTextual() || content == null || !content.isTextual()) {
                throw new IllegalArgumentException(where + ": message " + j + " must be {\"role\": string, \"content\": string}, got "
                        + m);
            }
            out.add(new ChatMessage(role.asText(), content.asText()));
        }
        return out;
    }

    /**
     * Renders and tokenizes one conversation ({@code encode} must not add BOS/EOS itself: the template writes them).
     *
     * @throws IllegalArgumentException when the conversation has no assistant turn, or the renders of its prefixes
     *     are not token prefixes of one another (see the class comment)
     * @throws ChatTemplateException when the template rejects the conversation
     */
    public static Tokens tokenize(List<ChatMessage> messages, ChatTemplate template, Function<String, int[]> encode) {
        Objects.requireNonNull(encode, "encode");
        int[] ids = encode.apply(template.render(messages, false));
        boolean[] mask = new boolean[ids.length];
        boolean anyAssistant = false;
        for (int i = 0; i < messages.size(); i++) {
            if (!messages.get(i).role().equals("assistant")) continue;
            anyAssistant = true;
            int[] before = encode.apply(template.render(messages.subList(0, i), true));
            int[] through = encode.apply(template.render(messages.subList(0, i + 1), false));
            if (!isPrefix(before, through) || !isPrefix(through, ids)) {
                throw new IllegalArgumentException("assistant message " + i + ": the chat template's render of the messages before it"
                        + " (with the generation prompt, " + before.length + " tokens), through it (" + through.length
                        + " tokens) and of the whole conversation (" + ids.length + " tokens) are not token prefixes of one another,"
                        + " so the turn's tokens cannot be told apart (a template that renders earlier turns differently once"
                        + " later ones follow cannot be masked this way)");
            }
            Arrays.fill(mask, before.length, through.length, true);
        }
        if (!anyAssistant) {
            throw new IllegalArgumentException("the conversation has no assistant message, so nothing would be trained on");
        }
        return new Tokens(ids, mask);
    }

    /** Every conversation of {@code file}, tokenized; errors name the file and line. */
    public static List<Tokens> read(Path file, ChatTemplate template, Function<String, int[]> encode) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        List<Tokens> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) continue;
            String where = file + ":" + (i + 1);
            List<ChatMessage> messages = parseLine(lines.get(i), where);
            try {
                out.add(tokenize(messages, template, encode));
            } catch (ChatTemplateException e) {
                throw new IllegalArgumentException(where + ": the chat template rejects this conversation: " + e.getMessage(), e);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    private static boolean isPrefix(int[] a, int[] b) {
        return a.length <= b.length && Arrays.equals(a, 0, a.length, b, 0, a.length);
    }

    private static String describe(JsonNode n) {
        return n == null ? "nothing" : n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT) + " " + n;
    }

    private static List<String> iterableToList(java.util.Iterator<String> it) {
        List<String> l = new ArrayList<>();
        it.forEachRemaining(l::add);
        return l;
    }
}
