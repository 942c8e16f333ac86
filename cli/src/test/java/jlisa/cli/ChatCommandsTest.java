package jlisa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import jlisa.tensor.Rng;
import jlisa.transformer.generate.GenerationConfig;
import jlisa.transformer.generate.Generator;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Llama;
import jlisa.transformer.model.LlamaVariant;
import jlisa.transformer.model.Models;
import jlisa.transformer.tokenizer.Tokenizer;
import jlisa.transformer.tokenizer.Tokenizers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code generate --chat} and {@code finetune/compare --chat-jsonl} on a tiny byte-level model with a chat template. */
class ChatCommandsTest {
    @TempDir static Path dir;
    static Path chatModel, plainModel, chats;
    static final Tokenizer BYTES = Tokenizers.bytesFor(256, "test");
    static final String TEMPLATE =
            "{% for m in messages %}<{{ m.role }}>{{ m.content }}|{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";

    @BeforeAll
    static void models() throws Exception {
        chatModel = dir.resolve("chat");
        plainModel = dir.resolve("plain");
        Llama.Config c = new Llama.Config(256, 32, 64, 2, 4, 2, 8, 1e-6, 10000.0, 128, true, false, 0.02,
                LlamaVariant.defaults("qwen3", 2));
        try (Llama m = new Llama(c, new Rng(11))) {
            Models.save(m, chatModel);
            Models.save(m, plainModel);
        }
        Files.writeString(chatModel.resolve("tokenizer_config.json"),
                "{\"chat_template\": \"" + TEMPLATE.replace("\"", "\\\"") + "\"}", StandardCharsets.UTF_8);
        List<String> lines = new ArrayList<>();
        Rng rng = new Rng(5);
        for (int i = 0; i < 24; i++) {
            StringBuilder w = new StringBuilder();
            for (int j = 0; j < 3 + i % 3; j++) w.append((char) ('a' + rng.nextInt(5)));
            lines.add("{\"messages\": [{\"role\": \"user\", \"content\": \"" + w + "\"}, {\"role\": \"assistant\", \"content\": \""
                    + new StringBuilder(w).reverse() + "\"}]}");
        }
        chats = Files.write(dir.resolve("chats.jsonl"), lines);
    }

    static String[] run(String... args) { return MainTest.run(args); }

    @Test
    void generateChatRendersTheTemplateWithTheSystemMessageAndAGenerationPrompt() throws Exception {
        String[] r = run("generate", "--model", chatModel.toString(), "--chat", "--system", "be brief", "--prompt", "hello",
                "--max-tokens", "5", "--json");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        JsonNode row = MainTest.json(r).get("generations").get(0);
        String rendered = "<system>be brief|<user>hello|<assistant>";
        assertThat(row.get("prompt").asText()).isEqualTo("hello");
        assertThat(row.get("chat_prompt").asText()).isEqualTo(rendered);
        int[] ids = BYTES.encode(rendered);
        assertThat(GenerateCommandTest.ints(row.get("prompt_tokens"))).containsExactly(ids);
        int[] want;
        try (CausalLM m = Models.load(chatModel)) {
            want = Generator.run(m, ids, GenerationConfig.greedy(5), null).tokens();
        }
        assertThat(GenerateCommandTest.ints(row.get("tokens"))).containsExactly(want);

        r = run("generate", "--model", chatModel.toString(), "--chat", "--prompt", "hello", "--max-tokens", "5");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).as("the reply only, not the rendered prompt").doesNotContain("<user>");
    }

    @Test
    void chatWithoutATemplateOrSystemWithoutChatIsOneClearLine() {
        String[] r = run("generate", "--model", plainModel.toString(), "--chat", "--prompt", "hi");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("generate --chat").contains("chat template");
        r = run("generate", "--model", chatModel.toString(), "--system", "x", "--prompt", "hi");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("--system is for --chat");
        r = run("finetune", "--model", plainModel.toString(), "--chat-jsonl", chats.toString(), "--steps", "1");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("chat template");
        r = run("finetune", "--model", chatModel.toString(), "--chat-jsonl", chats.toString(), "--jsonl", chats.toString());
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("give exactly one of --tokens, --text, --jsonl and --chat-jsonl");
        r = run("finetune", "--preset", "llama-tiny", "--chat-jsonl", chats.toString());
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("--chat-jsonl needs a chat template");
    }

    @Test
    void finetuneWithLisaOnChatDataLowersTheLossOnEverySeed() {
        for (String seed : new String[] {"1", "2", "3"}) {
            String[] r = run("finetune", "--model", chatModel.toString(), "--chat-jsonl", chats.toString(), "--method", "lisa",
                    "--lisa-gamma", "1", "--lisa-period", "3", "--lr", "3e-3", "--steps", "12", "--batch-size", "4",
                    "--seed", seed, "--log-every", "1");
            assertThat(r[0]).as(r[2]).isEqualTo("0");
            List<Double> l = FinetuneCommandTest.losses(r[1]);
            assertThat(l).hasSize(12);
            assertThat((l.get(10) + l.get(11)) / 2).as("seed %s: %s", seed, l).isLessThan((l.get(0) + l.get(1)) / 2);
        }
    }

    @Test
    void compareTakesChatDataToo(@TempDir Path out) throws Exception {
        String[] r = run("compare", "--model", chatModel.toString(), "--chat-jsonl", chats.toString(), "--steps", "2",
                "--batch-size", "4", "--quiet", "--out", out.toString(), "--lisa-gamma", "1");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("| full |").contains("| lora |").contains("| lisa |");
    }
}
