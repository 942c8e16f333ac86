package jlisa.transformer.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerConfigTest {
    @TempDir Path dir;

    private TokenizerConfig write(String json) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), json);
        return TokenizerConfig.read(dir.resolve("tokenizer_config.json"));
    }

    @Test
    void llama2StyleConfigWithAddedTokenObjects() throws Exception {
        // shape of meta-llama/Llama-2-7b-hf's tokenizer_config.json
        TokenizerConfig c = write("""
                {"add_bos_token": true, "add_eos_token": false,
                 "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false, "normalized": false,
                               "rstrip": false, "single_word": false},
                 "clean_up_tokenization_spaces": false,
                 "eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": false, "normalized": false,
                               "rstrip": false, "single_word": false},
                 "legacy": false, "model_max_length": 1000000000000000019884624838656, "pad_token": null,
                 "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer",
                 "unk_token": {"__type": "AddedToken", "content": "<unk>"}}
                """);
        assertThat(c.bosToken()).contains("<s>");
        assertThat(c.eosToken()).contains("</s>");
        assertThat(c.unkToken()).contains("<unk>");
        assertThat(c.padToken()).isEmpty();
        assertThat(c.addBosToken()).contains(true);
        assertThat(c.addEosToken()).contains(false);
        assertThat(c.cleanUpTokenizationSpaces()).isFalse();
        assertThat(c.modelMaxLength()).as("HF's 'no limit' sentinel").isEmpty();
        assertThat(c.chatTemplate()).isEmpty();
        assertThat(c.chatTemplates()).isEmpty();
    }

    @Test
    void plainStringTokensAndStringTemplate() throws Exception {
        TokenizerConfig c = write("""
                {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "model_max_length": 8192,
                 "clean_up_tokenization_spaces": true, "chat_template": "{{ bos_token }}{% for m in messages %}{% endfor %}"}
                """);
        assertThat(c.bosToken()).contains("<bos>");
        assertThat(c.padToken()).contains("<pad>");
        assertThat(c.modelMaxLength()).hasValue(8192);
        assertThat(c.cleanUpTokenizationSpaces()).isTrue();
        assertThat(c.chatTemplate()).contains("{{ bos_token }}{% for m in messages %}{% endfor %}");
        assertThat(c.chatTemplate("default")).isEqualTo(c.chatTemplate());
        assertThat(c.chatTemplates()).containsOnlyKeys("default");
    }

    @Test
    void namedTemplateListKeepsOrderAndPicksDefault() throws Exception {
        TokenizerConfig c = write("""
                {"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"},
                                   {"name": "rag", "template": "R"}]}
                """);
        assertThat(c.chatTemplate()).contains("D");
        assertThat(c.chatTemplate("rag")).contains("R");
        assertThat(c.chatTemplate("missing")).isEmpty();
        assertThat(List.copyOf(c.chatTemplates().keySet())).containsExactly("tool_use", "default", "rag");
        assertThatThrownBy(() -> c.chatTemplates().put("x", "y")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void absentFieldsStayEmptyAndCleanUpDefaultsToFalse() throws Exception {
        TokenizerConfig c = write("{}");
        assertThat(c.addBosToken()).isEmpty();
        assertThat(c.addEosToken()).isEmpty();
        assertThat(c.bosToken()).isEmpty();
        assertThat(c.cleanUpTokenizationSpaces()).isFalse();
        assertThat(c.cleanUpTokenizationSpacesField()).isEmpty();
        assertThat(c.modelMaxLength()).isEmpty();
        assertThat(c).isEqualTo(TokenizerConfig.empty());
    }

    @Test
    void missingFileGivesTheEmptyConfig() {
        assertThat(TokenizerConfig.forModel(dir)).isEqualTo(TokenizerConfig.empty());
    }

    @Test
    void forModelReadsTheDirectorysFile() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"add_bos_token\": false}");
        assertThat(TokenizerConfig.forModel(dir).addBosToken()).contains(false);
    }

    @Test
    void malformedFieldsNameTheFileAndTheField() throws Exception {
        Map<String, String> cases = Map.of(
                "{\"add_bos_token\": \"yes\"}", "add_bos_token must be true or false, got \"yes\"",
                "{\"eos_token\": 2}", "eos_token must be a string or an object with a string \"content\", got 2",
                "{\"bos_token\": {\"id\": 1}}", "bos_token must be a string",
                "{\"chat_template\": 3}", "chat_template must be a string or a list",
                "{\"chat_template\": [{\"name\": \"a\"}]}", "chat_template[0] must be an object with string",
                "{\"chat_template\": [{\"name\": \"a\", \"template\": \"x\"}, {\"name\": \"a\", \"template\": \"y\"}]}",
                "chat_template[1] repeats the name 'a'",
                "{\"model_max_length\": \"big\"}", "model_max_length must be an integer",
                "{\"model_max_length\": -1}", "model_max_length must be positive",
                "[1, 2]", "must hold a JSON object, got ARRAY",
                "{\"add_bos_token\": tru", "is not valid JSON");
        for (Map.Entry<String, String> e : cases.entrySet()) {
            Path file = dir.resolve("tokenizer_config.json");
            Files.writeString(file, e.getKey());
            assertThatThrownBy(() -> TokenizerConfig.read(file)).as(e.getKey())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(file.toString()).hasMessageContaining(e.getValue());
        }
    }
}
