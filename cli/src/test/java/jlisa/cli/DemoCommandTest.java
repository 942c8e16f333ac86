package jlisa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo end to end on its reduced configuration: files, and figures that agree with the ledger's arithmetic. */
class DemoCommandTest {

    @Test
    void quickDemoWritesTheReportAndConsistentFigures(@TempDir Path tmp) throws Exception {
        String[] r = FinetuneCommandTest.run("demo", "--quick", "--quiet", "--out", tmp.toString(),
                "--pretrain-steps", "6", "--finetune-steps", "4");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("| full |").contains("| lora |").contains("| lisa |");
        Path run;
        try (var s = Files.list(tmp)) {
            run = s.findFirst().orElseThrow();
        }
        for (String f : List.of("report.md", "summary.json", "loss.png", "memory.png")) assertThat(run.resolve(f)).exists();
        assertThat(run.resolve("full-model/model.safetensors")).exists();
        assertThat(run.resolve("lisa-model/config.json")).exists();
        assertThat(run.resolve("lora-adapter/adapter_config.json")).exists();

        JsonNode methods = new ObjectMapper().readTree(run.resolve("summary.json").toFile()).get("methods");
        assertThat(methods).hasSize(3);
        JsonNode full = methods.get(0), lora = methods.get(1), lisa = methods.get(2);
        assertThat(full.get("name").asText()).isEqualTo("full");
        for (JsonNode m : methods) {
            JsonNode p = m.get("peak_bytes");
            long parts = p.get("parameter").asLong() + p.get("gradient").asLong() + p.get("optimizer_state").asLong()
                    + p.get("activation").asLong() + p.get("other").asLong() + p.path("parked_state").asLong(0);
            assertThat(p.get("total").asLong()).as(m.get("name").asText()).isPositive().isLessThanOrEqualTo(parts);
            // AdamW holds two moments of everything that trained: its state peak is twice the gradient peak
            assertThat(p.get("optimizer_state").asLong()).isEqualTo(2 * p.get("gradient").asLong());
            assertThat(m.get("ms_per_step").asDouble()).isPositive();
            assertThat(m.get("accuracy").asDouble()).isBetween(0.0, 1.0);
            assertThat(m.get("eval_loss").asDouble()).isPositive();
        }
        // full fine-tuning's gradients are 4 bytes per parameter; LISA (1 of 4 layers + embedding + head) and LoRA hold less
        assertThat(full.get("peak_bytes").get("gradient").asLong()).isEqualTo(4 * full.get("trainable_params").asLong());
        assertThat(lisa.get("peak_bytes").get("gradient").asLong()).isEqualTo(4 * lisa.get("trainable_params").asLong())
                .isLessThan(full.get("peak_bytes").get("gradient").asLong());
        assertThat(lora.get("peak_bytes").get("gradient").asLong()).isEqualTo(4 * lora.get("trainable_params").asLong());
        assertThat(Files.readString(run.resolve("report.md"))).contains("loss.png").contains("memory.png").contains("| lisa |");
    }
}
