package jlisa.transformer.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The tokenizer that goes with a model directory, as Hugging Face's {@code AutoTokenizer} picks it: the directory's
 * {@code tokenizer.json}, adjusted by its {@code tokenizer_config.json} when there is one
 * (add_bos_token/add_eos_token, eos_token, clean_up_tokenization_spaces: see {@link BpeTokenizer#withConfig}); without one, UTF-8 bytes when the model's vocabulary can hold them (256 ids, or 257 with
 * an end-of-text id). Stateless; safe to call from any thread.
 */
public final class Tokenizers {
    private Tokenizers() {}

    /** The tokenizer of {@code modelDir} for a model with {@code vocabSize} ids (see the class comment). */
    public static Tokenizer forModel(Path modelDir, int vocabSize) throws IOException {
        Path file = modelDir.resolve("tokenizer.json");
        if (Files.isRegularFile(file)) return BpeTokenizer.load(file).withConfig(TokenizerConfig.forModel(modelDir));
        if (Files.isRegularFile(modelDir.resolve("tokenizer.model"))) {
            // a SentencePiece protobuf: bytes would silently give the wrong ids, so refuse instead of falling back
            throw new IllegalArgumentException(modelDir + " has a SentencePiece tokenizer.model but no tokenizer.json; "
                    + "tokenizer.model is not supported yet: a tokenizer.json is needed (HF's tokenizer.save_pretrained writes one)");
        }
        return bytesFor(vocabSize, modelDir + " has no tokenizer.json");
    }

    /** Byte tokens for a model with {@code vocabSize} ids; {@code why} says why bytes stand in (for the error). */
    public static Tokenizer bytesFor(int vocabSize, String why) {
        if (vocabSize < 256) {
            throw new IllegalArgumentException(why + ", and the model's vocabulary of " + vocabSize
                    + " ids (< 256) is too small for UTF-8 bytes to stand in");
        }
        return vocabSize > 256 ? ByteTokenizer.withEndOfText() : ByteTokenizer.plain();
    }
}
