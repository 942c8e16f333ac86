package jlisa.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import jlisa.optim.data.Datasets;
import jlisa.optim.data.Example;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Models;
import jlisa.transformer.model.Scoring;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jlisa score}: the reference contract anyone can check against PyTorch / HF transformers. */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Mean next-token cross-entropy of token sequences under a Hugging Face checkpoint; prints "
                + "loss=<6 decimals> tokens=<count>.")
final class ScoreCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "directory with config.json and model.safetensors")
    Path model;

    @Option(names = "--tokens", required = true,
            description = "one sequence per line, token ids separated by spaces (a line of L ids gives L-1 predictions)")
    Path tokens;

    @Option(names = "--json", description = "print {\"loss\": …, \"tokens\": …} instead") boolean json;

    @Override public Integer call() throws Exception {
        try (CausalLM m = Models.load(model)) {
            Scoring.Score s = Scoring.score(m, Datasets.readTokens(tokens).stream().map(Example::ids).toList());
            if (json) JsonOut.print(JsonOut.number(JsonOut.object(), "loss", s.loss()).put("tokens", s.tokens()));
            else System.out.printf(Locale.ROOT, "loss=%.6f tokens=%d%n", s.loss(), s.tokens());
        }
        return 0;
    }
}
