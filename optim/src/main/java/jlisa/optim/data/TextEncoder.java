package jlisa.optim.data;

/**
 * Text to token ids, without BOS/EOS or other special tokens. optim cannot see the transformer
 * module's tokenizers, so the caller passes one in as a method reference: {@code tokenizer::encode}.
 *
 * <p>Implementations say whether they are thread-safe; jlisa's tokenizers are.
 */
@FunctionalInterface
public interface TextEncoder {
    int[] encode(String text);
}
