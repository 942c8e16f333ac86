package jlisa.finetune;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

import jlisa.optim.data.Example;

/**
 * What a fine-tune trains on. Text and JSONL go through the model directory's tokenizer (or the one given to
 * the builder). Immutable; safe to share between threads.
 */
public sealed interface Data {
    /** One sequence per line, token ids separated by spaces. */
    record TokenFile(Path file) implements Data {
        public TokenFile { Objects.requireNonNull(file, "file"); }
    }

    /** Plain text, one document per paragraph; each document ends with the tokenizer's end-of-text id. */
    record TextFile(Path file) implements Data {
        public TextFile { Objects.requireNonNull(file, "file"); }
    }

    /**
     * Instruction data, one JSON object per line: {@code {"prompt", "response"}} or
     * {@code {"instruction", "input", "output"}}; the loss counts the response's tokens only.
     */
    record JsonlFile(Path file) implements Data {
        public JsonlFile { Objects.requireNonNull(file, "file"); }
    }

    /**
     * Chat data, one conversation per line: {@code {"messages": [{"role": ..., "content": ...}, ...]}}, rendered with
     * the model's chat template (its {@code tokenizer_config.json}) and tokenized without added special tokens (the
     * template writes BOS itself); the loss counts the assistant turns only, each turn's content and its end-of-turn
     * token (exactly as {@link jlisa.chat.ChatData} says).
     */
    record ChatJsonlFile(Path file) implements Data {
        public ChatJsonlFile { Objects.requireNonNull(file, "file"); }
    }

    /** Examples already tokenized. */
    record Examples(List<Example> examples) implements Data {
        public Examples { examples = List.copyOf(examples); }
    }
}
