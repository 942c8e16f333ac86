package jlisa.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import jlisa.transformer.generate.GenerationConfig;
import jlisa.transformer.generate.Generator;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Models;
import jlisa.transformer.tokenizer.BpeTokenizer;
import jlisa.transformer.tokenizer.ByteTokenizer;
import jlisa.transformer.tokenizer.StreamDecoder;
import jlisa.transformer.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jlisa generate}: streams a continuation of a prompt from a Hugging Face model directory. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Generate text from a model directory, streaming tokens as they come (KV cache).")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Hugging Face model directory") Path model;

    @Option(names = "--prompt", defaultValue = "", description = "the text to continue") String prompt;

    @Option(names = "--tokenizer", description = "tokenizer.json (default: the model dir's; else UTF-8 bytes)") Path tokenizer;

    @Option(names = "--max-tokens", defaultValue = "64") int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default)") double temperature;

    @Option(names = "--top-k", defaultValue = "0") int topK;

    @Option(names = "--top-p", defaultValue = "1.0") double topP;

    @Option(names = "--seed", defaultValue = "0") long seed;

    @Override public Integer call() throws Exception {
        try (CausalLM lm = Models.load(model)) {
            Tokenizer tok = tokenizer(lm);
            int[] ids = tok.encode(prompt, true);
            if (ids.length == 0) {
                if (tok.bosId().isEmpty() && tok.eosId().isEmpty()) {
                    throw new IllegalArgumentException("generate: the prompt is empty and the tokenizer has no BOS/EOS to start from");
                }
                ids = new int[] {tok.bosId().orElse(tok.eosId().getAsInt())};
            }
            GenerationConfig cfg = GenerationConfig.greedy(maxTokens).withTemperature(temperature).withTopK(topK).withTopP(topP)
                    .withSeed(seed);
            if (tok.eosId().isPresent()) cfg = cfg.withStopTokens(tok.eosId().getAsInt());
            StreamDecoder decoder = tok.streamDecoder();
            System.out.print(prompt);
            Generator.generate(lm, ids, cfg, id -> {
                if (!tok.isSpecial(id)) System.out.print(decoder.next(id));
                System.out.flush();
                return true;
            });
            System.out.println(decoder.flush());
        }
        return 0;
    }

    private Tokenizer tokenizer(CausalLM lm) throws java.io.IOException {
        Path file = tokenizer != null ? tokenizer : model.resolve("tokenizer.json");
        if (Files.isRegularFile(file)) return BpeTokenizer.load(file);
        if (tokenizer != null) throw new IllegalArgumentException("generate: no tokenizer file at " + tokenizer);
        if (lm.vocabSize() < 256) {
            throw new IllegalArgumentException("generate: " + model + " has no tokenizer.json and a vocabulary of "
                    + lm.vocabSize() + " (< 256), so bytes cannot stand in");
        }
        return lm.vocabSize() > 256 ? ByteTokenizer.withEndOfText() : ByteTokenizer.plain();
    }
}
