package jlisa.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import jlisa.transformer.generate.GenerationConfig;
import jlisa.transformer.generate.GenerationConfigFile;
import jlisa.transformer.generate.Generator;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Models;
import jlisa.transformer.tokenizer.BpeTokenizer;
import jlisa.transformer.tokenizer.StreamDecoder;
import jlisa.transformer.tokenizer.Tokenizer;
import jlisa.transformer.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jlisa generate}: streams a continuation of a prompt from a Hugging Face model directory. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Generate text from a model directory, streaming tokens as they come (KV cache).")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Hugging Face model directory") Path model;

    @Option(names = "--prompt", defaultValue = "", description = "the text to continue (default: empty, which starts from BOS)") String prompt;

    @Option(names = "--tokenizer", description = "tokenizer.json (default: the model dir's; else UTF-8 bytes)") Path tokenizer;

    // no defaults here: unset flags take the model's generation_config.json, then greedy 64 tokens
    @Option(names = "--max-tokens", description = "new tokens (default: generation_config.json, else 64)") Integer maxTokens;

    @Option(names = "--temperature", description = "0 = greedy (default: generation_config.json, else greedy)") Double temperature;

    @Option(names = "--top-k", description = "0 = off (default: generation_config.json, else off)") Integer topK;

    @Option(names = "--top-p", description = "1.0 = off (default: generation_config.json, else off)") Double topP;

    @Option(names = "--seed", defaultValue = "0", description = "sampling seed (default ${DEFAULT-VALUE})") long seed;

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
            GenerationConfig cfg = GenerationConfig.greedy(64).withSeed(seed);
            if (tok.eosId().isPresent()) cfg = cfg.withStopTokens(tok.eosId().getAsInt());
            cfg = GenerationConfigFile.fromModelDirectory(model).applyTo(cfg, ids.length);
            if (maxTokens != null) cfg = cfg.withMaxNewTokens(maxTokens);
            if (temperature != null) cfg = cfg.withTemperature(temperature);
            if (topK != null) cfg = cfg.withTopK(topK);
            if (topP != null) cfg = cfg.withTopP(topP);
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
        if (tokenizer == null) return Tokenizers.forModel(model, lm.vocabSize());
        if (!Files.isRegularFile(tokenizer)) throw new IllegalArgumentException("generate: no tokenizer file at " + tokenizer);
        return BpeTokenizer.load(tokenizer);
    }
}
