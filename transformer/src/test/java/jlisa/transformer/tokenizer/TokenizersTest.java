package jlisa.transformer.tokenizer;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizersTest {
    @TempDir Path dir;

    @Test
    void aSentencePieceModelAloneIsRefusedAndAsksForTokenizerJson() throws Exception {
        Files.write(dir.resolve("tokenizer.model"), new byte[] {1, 2, 3});
        assertThatThrownBy(() -> Tokenizers.forModel(dir, 32000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tokenizer.model is not supported yet").hasMessageContaining("tokenizer.json is needed");
    }
}
