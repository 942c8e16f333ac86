package jlisa.transformer.generate;

import java.util.Arrays;
import java.util.BitSet;

import jlisa.transformer.model.CausalLM;

/**
 * Text generation with a KV cache, batch of 1. The prompt runs through the model once; after that each step feeds
 * only the token just picked, so a step costs one position, not the whole sequence. Everything runs without a
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
        if (prompt == null || prompt.length == 0) {
            throw new IllegalArgumentException("generate: the prompt must hold at least one token (there is no BOS default)");
        }
        int vocab = model.vocabSize(), maxPos = model.maxPositions();
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) {
                throw new IllegalArgumentException("generate: prompt token " + prompt[i] + " at index " + i
                        + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (prompt.length > maxPos) {
            throw new IllegalArgumentException("generate: the prompt has " + prompt.length + " tokens, more than the model's "
                    + maxPos + " positions");
        }
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
}
