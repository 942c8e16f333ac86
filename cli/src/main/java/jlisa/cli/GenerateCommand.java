package jlisa.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jlisa.chat.ChatMessage;
import jlisa.chat.ChatTemplate;
import jlisa.chat.ChatTemplateException;
import jlisa.transformer.generate.GenerationConfig;
import jlisa.transformer.generate.GenerationConfigFile;
import jlisa.transformer.generate.Generator;
import jlisa.transformer.generate.Generator.Generation;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Models;
import jlisa.transformer.tokenizer.BpeTokenizer;
import jlisa.transformer.tokenizer.StreamDecoder;
import jlisa.transformer.tokenizer.Tokenizer;
import jlisa.transformer.tokenizer.TokenizerConfig;
import jlisa.transformer.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jlisa generate}: continues one prompt (streamed) or several (one batch) from a Hugging Face model directory.
 * Not thread-safe: one run per instance, as picocli makes one per command line.
 */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate text from a model directory with a KV cache. One prompt streams its tokens as they come; "
                + "several prompts (repeat --prompt, or --prompts-file) run together as one batch and print when done.",
                "With several prompts, generation_config.json's max_length counts from the longest prompt, as a padded "
                + "Hugging Face batch does, and prompt i samples with seed + i."})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Hugging Face model directory (required)") Path model;

    @Option(names = "--prompt", description = "a text to continue; repeat it for a batch "
            + "(default: one empty prompt, which starts from the tokenizer's BOS, else its EOS)")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--prompts-file", description = "a UTF-8 file with one prompt per line, empty lines skipped, "
            + "run after the --prompt ones (default: none)")
    Path promptsFile;

    @Option(names = "--tokenizer", description = "tokenizer.json (default: the model dir's; else UTF-8 bytes)") Path tokenizer;

    // no defaults here: unset flags take the model's generation_config.json, then greedy 64 tokens
    @Option(names = "--max-tokens", description = "new tokens per prompt (default: generation_config.json, else 64)")
    Integer maxTokens;

    @Option(names = "--temperature", description = "0 = greedy (default: generation_config.json, else greedy)") Double temperature;

    @Option(names = "--top-k", description = "0 = off (default: generation_config.json, else off)") Integer topK;

    @Option(names = "--top-p", description = "1.0 = off (default: generation_config.json, else off)") Double topP;

    @Option(names = "--seed", defaultValue = "0", description = "sampling seed; prompt i of a batch uses seed + i "
            + "(default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--json", description = "print one JSON document instead of the text: per prompt the prompt, "
            + "completion, token ids and stop reason, and tokens/s (default: off)")
    boolean json;

    @Option(names = "--chat", description = "each prompt is a user message, rendered with the model's chat template "
            + "(tokenizer_config.json) and its generation prompt; stops at the end-of-turn/EOS tokens and prints the "
            + "reply only (default: off, the prompt is plain text)")
    boolean chat;

    @Option(names = "--system", description = "with --chat: a system message before each prompt (default: none)")
    String system;

    @Override public Integer call() throws Exception {
        if (system != null && !chat) throw new IllegalArgumentException("generate: --system is for --chat");
        List<String> texts = allPrompts();
        ChatTemplate template = chat ? chatTemplate() : null;
        try (CausalLM lm = Models.load(model)) {
            Tokenizer tok = tokenizer(lm);
            List<int[]> ids = new ArrayList<>();
            List<String> rendered = chat ? new ArrayList<>() : null;
            int longest = 0;
            for (int i = 0; i < texts.size(); i++) {
                String which = texts.size() == 1 ? "the prompt" : "prompt " + i;
                if (chat) {
                    rendered.add(render(template, texts.get(i)));
                    ids.add(encodeChat(tok, rendered.get(i), which));
                } else {
                    ids.add(encode(tok, texts.get(i), which));
                }
                longest = Math.max(longest, ids.get(i).length);
            }
            GenerationConfig cfg = GenerationConfig.greedy(64).withSeed(seed);
            if (tok.eosId().isPresent()) cfg = cfg.withStopTokens(tok.eosId().getAsInt());
            cfg = GenerationConfigFile.fromModelDirectory(model).applyTo(cfg, longest);
            if (chat) cfg = withEndOfTurn(cfg, tok);
            if (maxTokens != null) cfg = cfg.withMaxNewTokens(maxTokens);
            if (temperature != null) cfg = cfg.withTemperature(temperature);
            if (topK != null) cfg = cfg.withTopK(topK);
            if (topP != null) cfg = cfg.withTopP(topP);

            if (texts.size() == 1 && !json) {
                stream(lm, tok, chat ? "" : texts.get(0), ids.get(0), cfg);
                return 0;
            }
            long start = System.nanoTime();
            List<Generation> out = Generator.runBatch(lm, ids, cfg);
            double seconds = (System.nanoTime() - start) / 1e9;
            if (json) {
                System.out.println(json(tok, texts, rendered, ids, out, seconds));
            } else {
                for (int i = 0; i < out.size(); i++) {
                    if (i > 0) System.out.println();
                    System.out.println((chat ? "" : texts.get(i)) + text(tok, out.get(i).tokens()));
                }
            }
        }
        return 0;
    }

    /** The --prompt texts, then the lines of --prompts-file; one empty prompt when there are none. */
    private List<String> allPrompts() throws IOException {
        List<String> all = new ArrayList<>(prompts);
        if (promptsFile != null) {
            if (!Files.isRegularFile(promptsFile)) {
                throw new IllegalArgumentException("generate: --prompts-file " + promptsFile + ": no such file");
            }
            int before = all.size();
            for (String line : Files.readAllLines(promptsFile, StandardCharsets.UTF_8)) if (!line.isEmpty()) all.add(line);
            if (all.size() == before) {
                throw new IllegalArgumentException("generate: --prompts-file " + promptsFile + " holds no prompt (every line is empty)");
            }
        }
        if (all.isEmpty()) all.add("");
        return all;
    }

    /** The prompt's ids; an empty prompt starts from BOS (else EOS), as there is nothing else to condition on. */
    private static int[] encode(Tokenizer tok, String text, String which) {
        int[] ids = tok.encode(text, true);
        if (ids.length > 0) return ids;
        if (tok.bosId().isEmpty() && tok.eosId().isEmpty()) {
            throw new IllegalArgumentException("generate: " + which + " is empty and the tokenizer has no BOS/EOS to start from");
        }
        return new int[] {tok.bosId().orElse(tok.eosId().getAsInt())};
    }

    /** The model directory's chat template, or a one-line error naming the tokenizer_config.json that lacks it. */
    private ChatTemplate chatTemplate() {
        try {
            return ChatTemplate.forModel(model);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("generate --chat: " + e.getMessage(), e);
        }
    }

    /** [--system,] the prompt as the user's message, up to where the assistant's reply starts. */
    private String render(ChatTemplate template, String prompt) {
        List<ChatMessage> messages = new ArrayList<>();
        if (system != null) messages.add(ChatMessage.system(system));
        messages.add(ChatMessage.user(prompt));
        try {
            return template.render(messages, true);
        } catch (ChatTemplateException e) {
            throw new IllegalArgumentException("generate --chat: " + e.getMessage(), e);
        }
    }

    /**
     * A rendered chat's ids without added special tokens: the template writes BOS itself when the model wants one,
     * as Hugging Face's apply_chat_template(tokenize=True) adds none on top.
     */
    private static int[] encodeChat(Tokenizer tok, String rendered, String which) {
        int[] ids = tok.encode(rendered, false);
        if (ids.length == 0) throw new IllegalArgumentException("generate --chat: the chat template renders " + which + " as no text");
        return ids;
    }

    /**
     * Also stops at tokenizer_config.json's eos_token: chat models name their end-of-turn token there (Llama-3's
     * {@code <|eot_id|>}, Qwen's {@code <|im_end|>}) while generation_config.json may list only the base EOS.
     */
    private GenerationConfig withEndOfTurn(GenerationConfig cfg, Tokenizer tok) {
        java.util.Optional<String> eosToken = TokenizerConfig.forModel(model).eosToken();
        java.util.OptionalInt eos = eosToken.isPresent() ? tok.id(eosToken.get()) : java.util.OptionalInt.empty();
        if (eos.isEmpty() || cfg.stopTokens().contains(eos.getAsInt())) return cfg;
        Set<Integer> stops = new TreeSet<>(cfg.stopTokens());
        stops.add(eos.getAsInt());
        return cfg.withStopTokens(stops.stream().mapToInt(Integer::intValue).toArray());
    }

    /** One prompt, printed token by token as it comes. */
    private static void stream(CausalLM lm, Tokenizer tok, String text, int[] ids, GenerationConfig cfg) {
        StreamDecoder decoder = tok.streamDecoder();
        System.out.print(text);
        Generator.generate(lm, ids, cfg, id -> {
            if (!tok.isSpecial(id)) System.out.print(decoder.next(id));
            System.out.flush();
            return true;
        });
        System.out.println(decoder.flush());
    }

    /** The text of generated ids, special tokens (EOS) left out as the stream leaves them out. */
    static String text(Tokenizer tok, int[] ids) {
        return tok.decode(Arrays.stream(ids).filter(id -> !tok.isSpecial(id)).toArray());
    }

    /**
     * The --json document: {@code generations} in prompt order, each with prompt, prompt_tokens, completion, tokens
     * and stop_reason (stop_token, max_new_tokens, context_full), with --chat also chat_prompt (the rendered template
     * that prompt_tokens encode); {@code new_tokens}, {@code seconds} (the batch's wall
     * time, prefill included, model loading not) and {@code tokens_per_second} = new_tokens / seconds.
     */
    static String json(Tokenizer tok, List<String> texts, List<String> rendered, List<int[]> ids, List<Generation> out,
            double seconds) {
        ObjectNode root = JsonOut.object();
        ArrayNode rows = root.putArray("generations");
        long newTokens = 0;
        for (int i = 0; i < out.size(); i++) {
            Generation g = out.get(i);
            ObjectNode row = rows.addObject();
            row.put("prompt", texts.get(i));
            if (rendered != null) row.put("chat_prompt", rendered.get(i));
            ArrayNode promptIds = row.putArray("prompt_tokens");
            for (int id : ids.get(i)) promptIds.add(id);
            row.put("completion", text(tok, g.tokens()));
            ArrayNode tokens = row.putArray("tokens");
            for (int id : g.tokens()) tokens.add(id);
            row.put("stop_reason", g.stopReason().name().toLowerCase(Locale.ROOT));
            newTokens += g.tokens().length;
        }
        root.put("new_tokens", newTokens);
        root.put("seconds", seconds);
        root.put("tokens_per_second", seconds > 0 ? newTokens / seconds : 0.0);
        return root.toString();
    }

    private Tokenizer tokenizer(CausalLM lm) throws IOException {
        if (tokenizer == null) return Tokenizers.forModel(model, lm.vocabSize());
        if (!Files.isRegularFile(tokenizer)) throw new IllegalArgumentException("generate: no tokenizer file at " + tokenizer);
        return BpeTokenizer.load(tokenizer);
    }
}
