package jlisa.transformer.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import jlisa.tensor.Rng;
import jlisa.transformer.tokenizer.Tokenizer;
import jlisa.transformer.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuxiliaryFilesTest {
    @TempDir Path tmp;

    @Test
    void aSavedDirectoryLoadsBackWithTheSourceTokenizer() throws Exception {
        Path source = tmp.resolve("source");
        Files.createDirectories(source);
        Files.copy(Path.of("src/test/resources/tokenizer/tiny-llama3-style.tokenizer.json"), source.resolve("tokenizer.json"));
        Files.writeString(source.resolve("generation_config.json"), "{\"eos_token_id\": 3}");
        Path saved = tmp.resolve("saved");
        try (CausalLM model = new GPT2(GPT2.Config.of(61, 16, 32, 1, 4), new Rng(1))) {
            Models.save(model, saved);
        }
        var copied = Models.copyAuxiliaryFiles(source, saved);
        assertThat(copied).containsExactly("tokenizer.json", "generation_config.json");
        for (String name : copied) assertThat(saved.resolve(name)).hasSameBinaryContentAs(source.resolve(name));
        Tokenizer original = Tokenizers.forModel(source, 1000), reloaded = Tokenizers.forModel(saved, 1000);
        assertThat(reloaded.encode("hello world", false)).containsExactly(original.encode("hello world", false));
        try (CausalLM back = Models.load(saved)) {
            assertThat(back.vocabSize()).isEqualTo(61);
        }
    }
}
