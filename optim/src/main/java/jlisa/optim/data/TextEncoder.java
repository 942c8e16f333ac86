package jlisa.optim.data;

/**
 * Text to token ids, without BOS/EOS or other special tokens. optim cannot see the transformer
 * module's tokenizers, so the caller passes one in as a method reference: {@code tokenizer::encode}.
 */
@FunctionalInterface
public interface TextEncoder {
    int[] encode(String text);
}
