package jlisa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jlisa.tensor.Rng;
import jlisa.transformer.generate.GenerationConfig;
import jlisa.transformer.generate.Generator;
import jlisa.transformer.generate.Generator.Generation;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Llama;
import jlisa.transformer.model.Models;
import jlisa.transformer.tokenizer.Tokenizer;
import jlisa.transformer.tokenizer.Tokenizers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** {@code jlisa generate} with one prompt (streamed) and several (one batch), as text and as --json. */
class GenerateCommandTest {
    /** A random LLaMA over the 256 byte ids (no tokenizer.json: UTF-8 bytes stand in, no BOS/EOS), 64 positions. */
    @TempDir static Path dir;
    static final Tokenizer BYTES = Tokenizers.bytesFor(256, "test");

    @BeforeAll
    static void saveModel() throws Exception {
        Llama m = new Llama(Llama.Config.of(256, 32, 64, 2, 4, 2, 64), new Rng(11));
        Models.save(m, dir);
    }

    static String[] run(String... args) { return MainTest.run(args); }

    /** What Generator.run gives for {@code prompt} alone on the saved model: the reference the command must match. */
    static Generation alone(String prompt, GenerationConfig cfg) {
        try (CausalLM m = Models.load(dir)) {
            m.eval();
            return Generator.run(m, BYTES.encode(prompt), cfg, null);
        }
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }

    @Test
    void jsonHasEveryPromptInOrderWithTheTokensRunGivesIt() throws Exception {
        String[] r = run("generate", "--model", dir.toString(), "--prompt", "hello", "--prompt", "ab", "--max-tokens", "6",
                "--json");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        JsonNode doc = new ObjectMapper().readTree(r[1]);
        JsonNode rows = doc.get("generations");
        assertThat(rows).hasSize(2);
        List<String> prompts = List.of("hello", "ab");
        for (int i = 0; i < 2; i++) {
            Generation want = alone(prompts.get(i), GenerationConfig.greedy(6));
            JsonNode row = rows.get(i);
            assertThat(row.get("prompt").asText()).isEqualTo(prompts.get(i));
            assertThat(ints(row.get("prompt_tokens"))).containsExactly(BYTES.encode(prompts.get(i)));
            assertThat(ints(row.get("tokens"))).as("row %d", i).containsExactly(want.tokens());
            assertThat(row.get("completion").asText()).isEqualTo(BYTES.decode(want.tokens()));
            assertThat(row.get("stop_reason").asText()).isEqualTo("max_new_tokens");
        }
        assertThat(doc.get("new_tokens").asInt()).isEqualTo(12);
        assertThat(doc.get("tokens_per_second").asDouble()).isPositive();
        assertThat(doc.get("tokens_per_second").asDouble() * doc.get("seconds").asDouble()).isCloseTo(12.0,
                org.assertj.core.data.Offset.offset(1e-6));

        r = run("generate", "--model", dir.toString(), "--prompt", "ab", "--max-tokens", "6", "--json");   // one prompt: no stream
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        JsonNode one = new ObjectMapper().readTree(r[1]).get("generations");
        assertThat(one).hasSize(1);
        assertThat(ints(one.get(0).get("tokens"))).containsExactly(alone("ab", GenerationConfig.greedy(6)).tokens());
    }

    @Test
    void promptsFileLinesFollowThePromptOptionsAndEmptyLinesAreSkipped() throws Exception {
        Path file = dir.resolve("prompts.txt");
        Files.writeString(file, "hello\n\nxyz abc\n", StandardCharsets.UTF_8);
        String[] r = run("generate", "--model", dir.toString(), "--prompt", "ab", "--prompts-file", file.toString(),
                "--max-tokens", "100", "--json");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        JsonNode rows = new ObjectMapper().readTree(r[1]).get("generations");
        assertThat(rows).extracting(n -> n.get("prompt").asText()).containsExactly("ab", "hello", "xyz abc");
        for (JsonNode row : rows) {
            Generation want = alone(row.get("prompt").asText(), GenerationConfig.greedy(100));
            assertThat(ints(row.get("tokens"))).containsExactly(want.tokens());
            assertThat(row.get("stop_reason").asText()).as("64 positions fill before 100 tokens").isEqualTo("context_full");
            assertThat(row.get("tokens")).hasSize(64 - row.get("prompt").asText().length());
        }
    }

    @Test
    void oneTextPromptStreamsAndSeveralPrintOneContinuationEach() {
        String[] r = run("generate", "--model", dir.toString(), "--prompt", "hi", "--max-tokens", "5");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).isEqualTo("hi" + BYTES.decode(alone("hi", GenerationConfig.greedy(5)).tokens()) + System.lineSeparator());

        r = run("generate", "--model", dir.toString(), "--prompt", "hi", "--prompt", "yo", "--max-tokens", "5",
                "--temperature", "1.0", "--seed", "7");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        String hi = "hi" + BYTES.decode(alone("hi", GenerationConfig.sampling(5, 1.0, 7)).tokens());
        String yo = "yo" + BYTES.decode(alone("yo", GenerationConfig.sampling(5, 1.0, 8)).tokens());   // row 1: seed + 1
        String nl = System.lineSeparator();
        assertThat(r[1]).isEqualTo(hi + nl + nl + yo + nl);
    }

    @Test
    void badPromptsGiveOneLineAndExitCode2() throws Exception {
        String[] r = run("generate", "--model", dir.toString(), "--prompts-file", dir.resolve("none.txt").toString());
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("--prompts-file").contains("none.txt").contains("no such file");
        Path blank = dir.resolve("blank.txt");
        Files.writeString(blank, "\n\n");
        r = run("generate", "--model", dir.toString(), "--prompts-file", blank.toString());
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("holds no prompt");
        r = run("generate", "--model", dir.toString(), "--prompt", "a", "--prompt", "");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("prompt 1 is empty and the tokenizer has no BOS/EOS");
    }

    @Test
    void everyOptionSaysWhatItDoesAndItsDefault() {
        List<String> missing = new ArrayList<>();
        for (OptionSpec o : new CommandLine(new GenerateCommand()).getCommandSpec().options()) {
            if (o.usageHelp() || o.versionHelp()) continue;
            String d = String.join(" ", o.description());
            // picocli has already put the default in place of ${DEFAULT-VALUE}
            boolean shown = o.defaultValue() != null ? d.contains("(default: " + o.defaultValue() + ")")
                    : d.contains("(default: ") || o.required();
            if (d.isBlank() || !shown) missing.add(o.longestName() + ": '" + d + "'");
        }
        assertThat(missing).as("options without a description or a default").isEmpty();
    }
}
