package jlisa.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import jlisa.tensor.Rng;
import jlisa.transformer.generate.GenerationConfig;
import jlisa.transformer.generate.Generator;
import jlisa.transformer.generate.Generator.Generation;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.GPT2;
import jlisa.transformer.model.Llama;

/**
 * Tokens per second of greedy generation for {@code batch} prompts of different lengths, one after another with
 * {@link Generator#run} against all of them at once with {@link Generator#runBatch} (issue 15), on a freshly
 * initialised preset model in eval mode. The two run alternately, {@code rounds} rounds, so both see the same
 * machine noise; the first round is warm-up. Every row generates exactly {@code tokens} tokens (no stop tokens),
 * prefill included in the time. The batched tokens are checked against the one-by-one tokens.
 *
 * <p>{@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar jlisa.bench.BatchGeneration
 * [preset=llama-tiny] [batch=8] [tokens=64] [rounds=4]} (presets: llama-tiny, llama-thin, tiny, d6, gpt2-124M)
 *
 * <p>Not thread-safe: a main that owns its model.
 */
public final class BatchGeneration {
    private BatchGeneration() {}

    public static void main(String[] args) {
        String preset = args.length > 0 ? args[0] : "llama-tiny";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int tokens = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 4;
        CausalLM model = preset.startsWith("llama") ? new Llama(Llama.Config.preset(preset), new Rng(0))
                : new GPT2(GPT2.Config.preset(preset), new Rng(0));
        model.eval();
        Rng rng = new Rng(1);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            int[] p = new int[8 + 4 * i];   // lengths 8, 12, 16, …: the rows sit at different positions
            for (int t = 0; t < p.length; t++) p[t] = (int) (rng.nextDouble() * model.vocabSize());
            prompts.add(p);
        }
        GenerationConfig cfg = GenerationConfig.greedy(tokens);
        System.out.printf(Locale.ROOT, "%s, %d prompts of %d..%d tokens, %d new tokens each, %d threads%n", preset, batch,
                prompts.get(0).length, prompts.get(batch - 1).length, tokens, Runtime.getRuntime().availableProcessors());
        List<Double> ones = new ArrayList<>(), alls = new ArrayList<>(), ratios = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            long t0 = System.nanoTime();
            List<Generation> alone = new ArrayList<>();
            for (int[] p : prompts) alone.add(Generator.run(model, p, cfg, null));
            long t1 = System.nanoTime();
            List<Generation> together = Generator.runBatch(model, prompts, cfg);
            long t2 = System.nanoTime();
            int mismatched = 0;
            for (int i = 0; i < batch; i++) {
                if (!java.util.Arrays.equals(alone.get(i).tokens(), together.get(i).tokens())) mismatched++;
            }
            double n = (double) batch * tokens, one = n / ((t1 - t0) / 1e9), all = n / ((t2 - t1) / 1e9);
            System.out.printf(Locale.ROOT, "round %d%s: batch 1 %.1f tok/s, batch %d %.1f tok/s, ratio %.2f, rows differing %d%n",
                    round, round == 0 ? " (warm-up)" : "", one, batch, all, all / one, mismatched);
            if (round > 0) {
                ones.add(one);
                alls.add(all);
                ratios.add(all / one);
            }
        }
        if (!ones.isEmpty()) {
            System.out.printf(Locale.ROOT, "median of %d rounds: batch 1 %.1f tok/s, batch %d %.1f tok/s, ratio %.2f%n",
                    ones.size(), median(ones), batch, median(alls), median(ratios));
        }
    }

    static double median(List<Double> xs) { return GenerationTiming.median(xs.stream().mapToDouble(Double::doubleValue).toArray()); }
}
