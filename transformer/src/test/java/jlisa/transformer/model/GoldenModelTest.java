package jlisa.transformer.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jlisa.autograd.GradMode;
import jlisa.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Losses and logits of tiny checkpoints against PyTorch (src/test/golden/make_golden.py, a line-by-line
 * port of HF's GPT2LMHeadModel and LlamaForCausalLM forward; HF transformers itself cannot be installed here).
 */
class GoldenModelTest {
    /** The golden token files: one sequence per line, ids separated by spaces. */
    static List<int[]> tokenLines(Path file) throws java.io.IOException {
        return java.nio.file.Files.readAllLines(file).stream().filter(l -> !l.isBlank())
                .map(l -> java.util.Arrays.stream(l.trim().split("\\s+")).mapToInt(Integer::parseInt).toArray()).toList();
    }

    static Path golden(String name) {
        return Path.of("src/test/resources/golden", name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "gpt2-noprefix", "llama-gqa", "qwen2-tied", "llama3-rope-scaling", "llama-linear-rope",
            "qwen3-tied", "gemma-tiny", "gemma2-tiny", "gemma3-tiny"})
    void scoreAndLogitsAgreeWithPyTorch(String name) throws Exception {
        JsonNode expected = new ObjectMapper().readTree(golden(name).resolve("expected.json").toFile());
        try (CausalLM model = Models.load(golden(name))) {
            List<int[]> lines = GoldenModelTest.tokenLines(golden(name).resolve("tokens.txt"));
            Scoring.Score s = Scoring.score(model, lines);
            assertThat(s.tokens()).isEqualTo(expected.get("tokens").asLong());
            double want = expected.get("loss").asDouble();
            assertThat(Math.abs(s.loss() - want) / want).as("loss %s vs PyTorch %s", s.loss(), want).isLessThan(1e-5);

            int[] line = lines.get(expected.get("logits_line").asInt());
            Tensor logits;
            try (var noGrad = GradMode.disabled()) {
                logits = model.forward(Tensor.of(line, 1, line.length)).data();
            }
            JsonNode rows = expected.get("logits");
            double worst = 0;
            for (int t = 0; t < line.length; t++) {
                for (int v = 0; v < model.vocabSize(); v++) {
                    worst = Math.max(worst, Math.abs(logits.get(0, t, v) - rows.get(t).get(v).asDouble()));
                }
            }
            assertThat(worst).as("max |logit − PyTorch|").isLessThan(2e-5);
        }
    }
}
