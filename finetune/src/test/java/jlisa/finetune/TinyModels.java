package jlisa.finetune;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import jlisa.tensor.Rng;
import jlisa.transformer.model.Llama;
import jlisa.transformer.model.Models;

/** A small random Llama saved as a model directory, and prompt/response data it can learn. */
final class TinyModels {
    private TinyModels() {}

    /** llama-tiny (256 byte-level ids, 4 layers) with random weights, saved to {@code dir}. */
    static Path llamaDirectory(Path dir) throws IOException { return familyDirectory(dir, "llama"); }

    /**
     * llama-tiny's sizes in family {@code modelType} (llama, qwen3, gemma, gemma2, gemma3_text: HF's defaults for that
     * family, so Gemma-2 soft-caps and slides a 4096 window on alternate layers) with random weights, saved to {@code dir}.
     */
    static Path familyDirectory(Path dir, String modelType) throws IOException {
        Llama.Config t = Llama.Config.preset("llama-tiny");
        Llama.Config c = new Llama.Config(t.vocabSize(), t.hiddenSize(), t.intermediateSize(), t.numLayers(), t.numHeads(),
                t.numKvHeads(), t.headDim(), t.rmsNormEps(), t.ropeTheta(), t.maxPositions(), t.tieWordEmbeddings(), t.qkvBias(), t.initStd(),
                jlisa.transformer.model.LlamaVariant.defaults(modelType, t.numLayers()));
        try (Llama lm = new Llama(c, new Rng(3))) {
            Models.save(lm, dir);
        }
        return dir;
    }

    /** {@code n} JSONL lines: a word and its reverse. */
    static Path reverseJsonl(Path file, int n) throws IOException {
        Rng rng = new Rng(5);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder w = new StringBuilder();
            for (int j = 0; j < 3 + i % 3; j++) w.append((char) ('a' + rng.nextInt(6)));
            lines.add("{\"prompt\": \"" + w + "=\", \"response\": \"" + new StringBuilder(w).reverse() + "\"}");
        }
        Files.write(file, lines);
        return file;
    }

    /** The chat template {@link #chatDirectory} gives its model: turns "<role>content|", generation prompt "<assistant>". */
    static final String CHAT_TEMPLATE =
            "{% for m in messages %}<{{ m.role }}>{{ m.content }}|{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";

    /** llama-tiny in {@code dir} with a tokenizer_config.json holding {@link #CHAT_TEMPLATE} (byte-level ids). */
    static Path chatDirectory(Path dir) throws IOException {
        llamaDirectory(dir);
        return withChatTemplate(dir);
    }

    /** {@link #familyDirectory} with {@link #CHAT_TEMPLATE}. */
    static Path chatDirectory(Path dir, String modelType) throws IOException {
        familyDirectory(dir, modelType);
        return withChatTemplate(dir);
    }

    private static Path withChatTemplate(Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"chat_template\": \"" + CHAT_TEMPLATE.replace("\"", "\\\"") + "\"}");
        return dir;
    }

    /** {@code n} chat JSONL lines: a system line, a word from the user and its reverse from the assistant. */
    static Path reverseChatJsonl(Path file, int n) throws IOException {
        Rng rng = new Rng(7);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder w = new StringBuilder();
            for (int j = 0; j < 3 + i % 3; j++) w.append((char) ('a' + rng.nextInt(6)));
            lines.add("{\"messages\": [{\"role\": \"system\", \"content\": \"rev\"}, {\"role\": \"user\", \"content\": \"" + w
                    + "\"}, {\"role\": \"assistant\", \"content\": \"" + new StringBuilder(w).reverse() + "\"}]}");
        }
        Files.write(file, lines);
        return file;
    }
}
