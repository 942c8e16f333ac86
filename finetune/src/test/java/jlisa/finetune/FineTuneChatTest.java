package jlisa.finetune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jlisa.optim.data.Example;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Models;

class FineTuneChatTest {

    @Test
    void chatDataMasksExactlyTheAssistantTurnsAndLisaLowersTheLoss(@TempDir Path tmp) throws IOException {
        Path model = TinyModels.chatDirectory(tmp.resolve("model"));
        Path data = TinyModels.reverseChatJsonl(tmp.resolve("chat.jsonl"), 40);
        FineTune.Builder b = FineTune.builder().model(model).chat(data).method(Method.lisa().withGamma(1).withPeriod(4))
                .learningRate(2e-3).steps(12).batchSize(4).seed(1).logEvery(0);

        List<String> lines = Files.readAllLines(data);
        try (CausalLM lm = Models.load(model)) {
            List<Example> examples = b.build().examples(lm);
            assertThat(examples).hasSize(lines.size());
            for (Example e : examples) {
                StringBuilder all = new StringBuilder(), counted = new StringBuilder();
                for (int i = 0; i < e.length(); i++) {
                    all.append((char) e.ids()[i]);
                    if (e.lossMask()[i]) counted.append((char) e.ids()[i]);
                }
                // "<system>rev|<user>WORD|<assistant>DROW|": only the reply and its end-of-turn mark count.
                String text = all.toString();
                String reply = text.substring(text.indexOf("<assistant>") + "<assistant>".length());
                assertThat(text).startsWith("<system>rev|<user>").endsWith("|");
                assertThat(counted.toString()).isEqualTo(reply);
                assertThat(reply).endsWith("|").hasSizeBetween(4, 6);
            }
        }

        FineTuneResult r = b.build().run();
        assertThat(r.losses()).hasSize(12);
        double first = (r.losses().get(0) + r.losses().get(1)) / 2, last = (r.losses().get(10) + r.losses().get(11)) / 2;
        assertThat(last).as("loss falls").isLessThan(first);
    }

    /** Each family the issue names fine-tunes on chat data with LISA, its loss falling (three seeds, each must). */
    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma", "gemma2", "gemma3_text"})
    void everyFamilyFineTunesOnChatDataWithLisa(String family, @TempDir Path tmp) throws IOException {
        Path model = TinyModels.chatDirectory(tmp.resolve("model"), family);
        Path data = TinyModels.reverseChatJsonl(tmp.resolve("chat.jsonl"), 40);
        for (long seed = 1; seed <= 3; seed++) {
            FineTuneResult r = FineTune.builder().model(model).chat(data).method(Method.lisa().withGamma(1).withPeriod(4))
                    .learningRate(2e-3).steps(12).batchSize(4).seed(seed).logEvery(0).build().run();
            double first = (r.losses().get(0) + r.losses().get(1)) / 2, last = (r.losses().get(10) + r.losses().get(11)) / 2;
            assertThat(last).as("%s seed %d: loss falls from %.4f", family, seed, first).isLessThan(first);
        }
    }

    @Test
    void chatDataWithoutAChatTemplateSaysSo(@TempDir Path tmp) throws IOException {
        Path model = TinyModels.llamaDirectory(tmp.resolve("model"));
        Path data = TinyModels.reverseChatJsonl(tmp.resolve("chat.jsonl"), 4);
        assertThatThrownBy(() -> FineTune.builder().model(model).chat(data).steps(1).logEvery(0).build().run())
                .hasMessageContaining("has no chat template");
    }

    @Test
    void aPromptResponseLineInChatDataIsNamed(@TempDir Path tmp) throws IOException {
        Path model = TinyModels.chatDirectory(tmp.resolve("model"));
        Path data = Files.writeString(tmp.resolve("chat.jsonl"), "{\"prompt\": \"a\", \"response\": \"b\"}\n", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> FineTune.builder().model(model).chat(data).steps(1).logEvery(0).build().run())
                .hasMessageContaining(data + ":1: expected {\"messages\"");
    }
}
