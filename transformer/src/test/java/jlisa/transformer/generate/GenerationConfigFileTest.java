package jlisa.transformer.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenerationConfigFileTest {
    @TempDir Path dir;

    GenerationConfigFile write(String json) throws Exception {
        Files.writeString(dir.resolve(GenerationConfigFile.FILE), json);
        return GenerationConfigFile.fromModelDirectory(dir);
    }

    @Test
    void eosListAndSamplingFieldsApplyWhenDoSampleIsTrue() throws Exception {
        GenerationConfigFile f = write("{\"eos_token_id\": [2, 7], \"bos_token_id\": 1, \"do_sample\": true,"
                + " \"temperature\": 0.7, \"top_k\": 20, \"top_p\": 0.9, \"max_new_tokens\": 12, \"unknown\": {\"x\": 1}}");
        GenerationConfig c = f.applyTo(GenerationConfig.greedy(64), 5);
        assertThat(c.stopTokens()).containsExactlyInAnyOrder(2, 7);
        assertThat(f.bosTokenId()).isEqualTo(1);
        assertThat(c.temperature()).isEqualTo(0.7);
        assertThat(c.topK()).isEqualTo(20);
        assertThat(c.topP()).isEqualTo(0.9);
        assertThat(c.maxNewTokens()).isEqualTo(12);
    }

    @Test
    void withoutDoSampleItIsGreedyAndMaxLengthCountsThePrompt() throws Exception {
        GenerationConfig c = write("{\"eos_token_id\": 3, \"temperature\": 0.7, \"max_length\": 20}")
                .applyTo(GenerationConfig.sampling(64, 1.0, 1), 5);
        assertThat(c.isGreedy()).isTrue();
        assertThat(c.stopTokens()).containsExactly(3);
        assertThat(c.maxNewTokens()).isEqualTo(15);
    }

    @Test
    void missingFileSetsNothingAndMalformedValuesNameKeyAndFile() throws Exception {
        assertThat(GenerationConfigFile.fromModelDirectory(dir)).isEqualTo(GenerationConfigFile.none());
        assertThatThrownBy(() -> write("{\"top_k\": \"many\"}")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'top_k'").hasMessageContaining(GenerationConfigFile.FILE);
        assertThatThrownBy(() -> write("{\"eos_token_id\": [1, -2]}")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'eos_token_id'");
    }
}
