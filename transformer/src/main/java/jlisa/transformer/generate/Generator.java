package jlisa.transformer.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

import jlisa.tensor.Tensor;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.KvCache;

/**
 * Text generation with a KV cache, one prompt ({@link #run}) or a batch of them ({@link #runBatch}). The prompt
 * runs through the model once; after that each step feeds only the token just picked, so a step costs one
 * position, not the whole sequence. Everything runs without a
 * graph (no grad). Put the model in eval mode first: dropout in training mode would make the output random.
 *
 * <p>Generation stops, in this order of precedence, when
 * <ol>
 *   <li>a stop token is picked: it is emitted, passed to the listener and returned (HF emits EOS too);</li>
 *   <li>the listener returns false: the token it was given is kept;</li>
 *   <li>{@code maxNewTokens} tokens have been generated;</li>
 *   <li>the model's positions are full: prompt + output never exceed {@link CausalLM#maxPositions()}, so a prompt
 *       of exactly maxPositions tokens yields no tokens (a clean stop, not an error); a longer prompt is an error.</li>
 * </ol>
 *
 * <p>Thread-safe as a class (stateless), but a model runs one generation at a time: do not share a model between
 * threads that generate at once.
 */
public final class Generator {
    private Generator() {}

    /** Why generation ended. */
    public enum StopReason { STOP_TOKEN, LISTENER, MAX_NEW_TOKENS, CONTEXT_FULL }

    /** The generated ids (the prompt not included) and why generation ended. */
    public record Generation(int[] tokens, StopReason stopReason) {}

    /** The generated token ids (not the prompt); see {@link #run} for the stop reason. */
    public static int[] generate(CausalLM model, int[] prompt, GenerationConfig config, TokenListener onToken) {
        return run(model, prompt, config, onToken).tokens();
    }

    /** {@link #generate} without a listener. */
    public static int[] generate(CausalLM model, int[] prompt, GenerationConfig config) {
        return generate(model, prompt, config, TokenListener.NONE);
    }

    /** Generates after {@code prompt} (non-empty ids in the vocabulary) and says why it stopped. */
    public static Generation run(CausalLM model, int[] prompt, GenerationConfig config, TokenListener onToken) {
        if (model == null || config == null) throw new IllegalArgumentException("generate: model and config must not be null");
        if (onToken == null) onToken = TokenListener.NONE;
        checkPrompt(prompt, model, "");
        int maxPos = model.maxPositions(), vocab = model.vocabSize();
        int room = Math.min(config.maxNewTokens(), maxPos - prompt.length);   // tokens that can be emitted
        if (room == 0) {
            return new Generation(new int[0], config.maxNewTokens() == 0 ? StopReason.MAX_NEW_TOKENS : StopReason.CONTEXT_FULL);
        }
        int[] out = new int[room];
        int n = 0;
        BitSet seen = new BitSet(vocab);
        for (int id : prompt) seen.set(id);
        Sampler sampler = new Sampler(config);
        // the last token emitted is never fed, so the cache needs prompt + room − 1 positions
        try (Decoder decoder = new Decoder(model, prompt.length + room - 1)) {
            double[] logits = decoder.feed(prompt);
            while (true) {
                int token = sampler.next(logits, seen);
                out[n++] = token;
                seen.set(token);
                StopReason reason = null;
                if (config.stopTokens().contains(token)) reason = StopReason.STOP_TOKEN;
                boolean more = onToken.onToken(token);
                if (reason == null && !more) reason = StopReason.LISTENER;
                if (reason == null && n == config.maxNewTokens()) reason = StopReason.MAX_NEW_TOKENS;
                if (reason == null && n == room) reason = StopReason.CONTEXT_FULL;
                if (reason != null) return new Generation(Arrays.copyOf(out, n), reason);
                logits = decoder.feed(token);
            }
        }
    }

    /**
     * Generates after each of {@code prompts} (of any lengths) as one batch and returns one {@link Generation} per
     * prompt, in order. Each row's tokens, stop reason and stop rules are those {@link #run} gives for that prompt
     * alone with no listener (the same bits under greedy decoding, up to float rounding of the batched matmuls).
     *
     * <p>How the rows run together: each prompt is first fed alone into its own row of one KV cache (prompts of
     * different lengths would need padding to share a forward pass, and a prompt's T tokens already fill the
     * matmuls). After that every decode step is one forward pass over the rows still generating, one token each,
     * so the projections, the MLPs and the LM head multiply B rows at once. Rows keep their own cache lengths
     * (no padding, no mask: see {@link KvCache}); a row that stops leaves the batch, and the batch ends when every
     * row has stopped.
     *
     * <p>Seeds: row i samples with its own {@link Sampler} seeded {@code config.seed() + i}, so row 0 draws what
     * {@link #run} draws and the rows never share a random stream.
     */
    public static List<Generation> runBatch(CausalLM model, List<int[]> prompts, GenerationConfig config) {
        if (model == null || config == null) throw new IllegalArgumentException("generate: model and config must not be null");
        if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("generate: the batch holds no prompts");
        int B = prompts.size(), maxPos = model.maxPositions(), vocab = model.vocabSize();
        for (int i = 0; i < B; i++) checkPrompt(prompts.get(i), model, "prompt " + i + " of the batch: ");

        Row[] rows = new Row[B];
        int capacity = 0;
        for (int i = 0; i < B; i++) {
            int[] prompt = prompts.get(i);
            rows[i] = new Row(prompt, Math.min(config.maxNewTokens(), maxPos - prompt.length), config.withSeed(config.seed() + i), vocab);
            if (rows[i].room == 0) rows[i].stop = config.maxNewTokens() == 0 ? StopReason.MAX_NEW_TOKENS : StopReason.CONTEXT_FULL;
            else capacity = Math.max(capacity, prompt.length + rows[i].room - 1);   // the last token is never fed
        }
        if (capacity > 0) {
            KvCache cache = model.newCache(B, capacity);
            try {
                decodeBatch(model, cache, rows, config);
            } finally {
                cache.release();
            }
        }
        List<Generation> out = new ArrayList<>(B);
        for (Row r : rows) out.add(new Generation(Arrays.copyOf(r.out, r.n), r.stop));
        return out;
    }

    /** One prompt's state in a batch: its output so far, its sampler and its stop reason once it stopped. */
    private static final class Row {
        final int[] prompt, out;
        final int room;
        final Sampler sampler;
        final BitSet seen;
        int n;
        StopReason stop;
        double[] logits;

        Row(int[] prompt, int room, GenerationConfig config, int vocab) {
            this.prompt = prompt;
            this.room = room;
            this.out = new int[room];
            this.sampler = new Sampler(config);
            this.seen = new BitSet(vocab);
            for (int id : prompt) seen.set(id);
        }
    }

    private static void decodeBatch(CausalLM model, KvCache cache, Row[] rows, GenerationConfig config) {
        for (int i = 0; i < rows.length; i++) {
            if (rows[i].stop != null) continue;
            int[] p = rows[i].prompt;
            rows[i].logits = model.lastLogitsNoGrad(Tensor.of(p.clone(), 1, p.length), cache.rows(i)).toDoubleArray();
        }
        while (true) {
            int[] active = new int[rows.length];
            int a = 0;
            for (int i = 0; i < rows.length; i++) {
                Row r = rows[i];
                if (r.stop != null) continue;
                int token = r.sampler.next(r.logits, r.seen);
                r.out[r.n++] = token;
                r.seen.set(token);
                if (config.stopTokens().contains(token)) r.stop = StopReason.STOP_TOKEN;
                else if (r.n == config.maxNewTokens()) r.stop = StopReason.MAX_NEW_TOKENS;
                else if (r.n == r.room) r.stop = StopReason.CONTEXT_FULL;
                if (r.stop == null) active[a++] = i;
            }
            if (a == 0) return;
            int[] picked = Arrays.copyOf(active, a), next = new int[a];
            for (int j = 0; j < a; j++) next[j] = rows[picked[j]].out[rows[picked[j]].n - 1];
            Tensor logits = model.lastLogitsNoGrad(Tensor.of(next, a, 1), cache.rows(picked));   // (a, V): one step of all rows
            for (int j = 0; j < a; j++) rows[picked[j]].logits = logits.narrow(0, j, 1).toDoubleArray();
        }
    }

    /** A prompt must hold at least one token, all in the vocabulary, and fit the model's positions. */
    private static void checkPrompt(int[] prompt, CausalLM model, String which) {
        if (prompt == null || prompt.length == 0) {
            throw new IllegalArgumentException("generate: " + which + "the prompt must hold at least one token (there is no BOS default)");
        }
        int vocab = model.vocabSize(), maxPos = model.maxPositions();
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) {
                throw new IllegalArgumentException("generate: " + which + "prompt token " + prompt[i] + " at index " + i
                        + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (prompt.length > maxPos) {
            throw new IllegalArgumentException("generate: " + which + "the prompt has " + prompt.length
                    + " tokens, more than the model's " + maxPos + " positions");
        }
    }
}
