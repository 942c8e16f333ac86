package jlisa.chat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;

import jlisa.transformer.tokenizer.TokenizerConfig;

/**
 * A model's chat template (the Jinja {@code chat_template} of its {@code tokenizer_config.json}) rendered as
 * Hugging Face's {@code apply_chat_template(messages, tokenize=False, add_generation_prompt=...)} renders it: the
 * template sees {@code messages} (dicts with {@code role} and {@code content}), {@code add_generation_prompt},
 * {@code bos_token}, {@code eos_token}, {@code pad_token}, {@code unk_token} and any extra variables given to
 * {@link #render(List, boolean, Map)} (for example {@code tools}); Jinja2's {@code trim_blocks} and
 * {@code lstrip_blocks} are on, as in transformers. Output is checked byte for byte against
 * {@code @huggingface/jinja} on the real templates of Llama-3, Qwen3, DeepSeek-V3 and Gemma-3 (ChatTemplateGoldenTest).
 *
 * <p>Immutable and thread-safe: one instance may render on many threads at once (each render gets its own
 * Jinjava interpreter).
 */
public final class ChatTemplate {

    private final String name;
    private final String source;
    private final String adaptedSource;
    private final Map<String, Object> specialTokens;
    private final Jinjava jinjava;

    private ChatTemplate(String name, String source, Map<String, ?> specialTokens) {
        this.name = Objects.requireNonNull(name, "name");
        this.source = Objects.requireNonNull(source, "source");
        this.adaptedSource = JinjaExtensions.adaptSource(source);
        this.specialTokens = new HashMap<>(specialTokens);
        this.jinjava = JinjaExtensions.newJinjava();
    }

    /**
     * A template from its Jinja source; {@code specialTokens} are the variables such as {@code bos_token} the
     * template may use (a missing one is undefined in the template, as in transformers when the tokenizer has none).
     */
    public static ChatTemplate of(String source, Map<String, ?> specialTokens) {
        return new ChatTemplate("chat template", source, specialTokens);
    }

    /** As {@link #of(String, Map)}, with {@code name} (a file, a model) saying where the template came from in errors. */
    public static ChatTemplate of(String name, String source, Map<String, ?> specialTokens) {
        return new ChatTemplate(name, source, specialTokens);
    }

    /**
     * The default chat template of a model directory, from its {@code tokenizer_config.json}, with that file's
     * bos/eos/pad/unk tokens.
     *
     * @throws IllegalArgumentException when the directory has no {@code tokenizer_config.json} or the file has no
     *     {@code chat_template}
     */
    public static ChatTemplate forModel(Path modelDir) {
        Path file = modelDir.resolve(TokenizerConfig.FILE_NAME);
        TokenizerConfig config = TokenizerConfig.forModel(modelDir);
        String template = config.chatTemplate().orElseThrow(() -> new IllegalArgumentException(
                modelDir + " has no chat template: expected a \"chat_template\" in " + file
                        + (java.nio.file.Files.isRegularFile(file) ? ", the file has none" : ", there is no such file")));
        Map<String, Object> special = new LinkedHashMap<>();
        config.bosToken().ifPresent(t -> special.put("bos_token", t));
        config.eosToken().ifPresent(t -> special.put("eos_token", t));
        config.padToken().ifPresent(t -> special.put("pad_token", t));
        config.unkToken().ifPresent(t -> special.put("unk_token", t));
        return new ChatTemplate(file.toString(), template, special);
    }

    /** Renders {@code messages}; with {@code addGenerationPrompt} the text ends where the assistant's reply starts. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders {@code messages} with extra template variables ({@code extra} wins over the special tokens).
     *
     * @throws ChatTemplateException naming the template and line when it fails, or with the template's own message
     *     when it calls {@code raise_exception}
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> extra) {
        List<Object> messageValues = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            messageValues.add(m.toTemplateValue());
        }
        Map<String, Object> bindings = new HashMap<>(specialTokens);
        bindings.put("messages", messageValues);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        bindings.putAll(extra);
        RenderResult result = jinjava.renderForResult(adaptedSource, bindings);
        for (TemplateError error : result.getErrors()) {
            for (Throwable t = error.getException(); t != null; t = t.getCause()) {
                if (t instanceof JinjaExtensions.RaisedByTemplate raised) {
                    throw new ChatTemplateException(raised.getMessage(), true, null);
                }
            }
            if (error.getMessage() != null && error.getMessage().contains(JinjaExtensions.RaisedByTemplate.class.getName())) {
                throw new ChatTemplateException(error.getMessage(), true, null);
            }
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new ChatTemplateException(name + ", line " + error.getLineno() + ": " + error.getMessage(),
                        false, error.getException());
            }
        }
        return result.getOutput();
    }

    /** Where the template came from (a file, or "chat template"). */
    public String name() {
        return name;
    }

    /** The template's Jinja source. */
    public String source() {
        return source;
    }

    @Override public String toString() {
        return "ChatTemplate[" + name + "]";
    }
}
