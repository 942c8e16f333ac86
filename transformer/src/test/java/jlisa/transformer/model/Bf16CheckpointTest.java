package jlisa.transformer.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import jlisa.autograd.Parameter;
import jlisa.tensor.DType;
import jlisa.transformer.io.SafeTensors;
import jlisa.transformer.io.SafeTensorsDType;
import jlisa.transformer.io.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** BF16 checkpoints in and out: a BF16 model stays BF16 through load, training-style materialisation and save. */
class Bf16CheckpointTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void savingAsBf16WritesBf16TensorsAndTorchDtypeAndScoresLikeTheRoundedWeights(@TempDir Path dir) throws Exception {
        for (String name : List.of("llama-gqa", "gpt2-tiny")) {
            Path golden = GoldenModelTest.golden(name);
            List<int[]> lines = GoldenModelTest.tokenLines(golden.resolve("tokens.txt"));
            Path bf = dir.resolve(name + "-bf16"), back32 = dir.resolve(name + "-f32");
            double f32Loss;
            try (CausalLM m = Models.load(golden)) {
                assertThat(m.checkpointDType()).isEqualTo(DType.F32);
                f32Loss = Scoring.score(m, lines).loss();
                Models.save(m, bf, DType.BF16);
            }
            assertThat(JSON.readTree(bf.resolve("config.json").toFile()).get("torch_dtype").asText()).isEqualTo("bfloat16");
            try (TensorSource file = SafeTensors.openModel(bf)) {
                for (String t : file.names()) assertThat(file.info(t).dtype()).as(t).isEqualTo(SafeTensorsDType.BF16);
            }
            double bfLoss;
            try (CausalLM m = Models.load(bf)) {
                assertThat(m.checkpointDType()).isEqualTo(DType.BF16);
                bfLoss = Scoring.score(m, lines).loss();
                Models.save(m, back32, DType.F32);        // the rounded weights, widened exactly
            }
            assertThat(Math.abs(bfLoss - f32Loss) / f32Loss).as(name + ": bf16 rounding moves the loss a little").isLessThan(2e-2);
            assertThat(JSON.readTree(back32.resolve("config.json").toFile()).get("torch_dtype").asText()).isEqualTo("float32");
            try (CausalLM m = Models.load(back32)) {
                assertThat(m.checkpointDType()).isEqualTo(DType.F32);
                assertThat(Scoring.score(m, lines).loss()).as(name + ": BF16 weights compute as their F32 widening")
                        .isCloseTo(bfLoss, org.assertj.core.data.Percentage.withPercentage(1e-4));
            }
        }
    }

    @Test
    void aBf16ModelMadeWritableSavesAsBf16WithTheSameBits(@TempDir Path dir) throws Exception {
        Path bf = dir.resolve("bf16"), again = dir.resolve("again");
        try (CausalLM m = Models.load(GoldenModelTest.golden("llama-gqa"))) {
            Models.save(m, bf, DType.BF16);
        }
        try (CausalLM m = Models.load(bf)) {
            m.namedParameters().values().forEach(Parameter::materialize);   // what a fine-tune does before training
            assertThat(m.namedParameters().values()).allMatch(p -> p.data().dtype() == DType.F32);
            Models.save(m, again);                                            // the checkpoint's dtype by default
        }
        try (TensorSource a = SafeTensors.openModel(bf); TensorSource b = SafeTensors.openModel(again)) {
            assertThat(b.names()).isEqualTo(a.names());
            for (String t : a.names()) {
                assertThat(b.info(t).dtype()).as(t).isEqualTo(SafeTensorsDType.BF16);
                assertThat(b.tensor(t, jlisa.tensor.MemoryKind.OTHER).toFloatArray()).as(t)
                        .containsExactly(a.tensor(t, jlisa.tensor.MemoryKind.OTHER).toFloatArray());
            }
        }
    }

    @Test
    void onlyF32AndBf16CanBeWritten(@TempDir Path dir) throws Exception {
        try (CausalLM m = Models.load(GoldenModelTest.golden("qwen2-tied"))) {
            assertThatThrownBy(() -> Models.save(m, dir.resolve("x"), DType.F64))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F32 or BF16").hasMessageContaining("F64");
        }
        assertThat(Files.exists(dir.resolve("x"))).isFalse();
    }
}
