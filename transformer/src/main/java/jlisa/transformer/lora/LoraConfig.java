package jlisa.transformer.lora;

import java.util.List;

/**
 * What {@link Lora#apply} adds, in PEFT's terms: rank {@code r}, {@code lora_alpha} (scaling =
 * alpha / r), {@code lora_dropout}, and {@code target_modules} — a layer is adapted when its dotted
 * path equals a target or ends with "." + target (so {@code q_proj} matches
 * {@code model.layers.0.self_attn.q_proj}, as PEFT's list form does). {@code seed} draws A's init and
 * the dropout masks. Immutable; safe to share between threads.
 */
public record LoraConfig(int r, double alpha, double dropout, List<String> targetModules, long seed) {
    public LoraConfig {
        if (r < 1) throw new IllegalArgumentException("LoRA config: r must be at least 1, got " + r);
        if (!(alpha > 0) || Double.isInfinite(alpha)) throw new IllegalArgumentException("LoRA config: lora_alpha must be positive, got " + alpha);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("LoRA config: lora_dropout must be in [0, 1), got " + dropout);
        if (targetModules == null || targetModules.isEmpty()) {
            throw new IllegalArgumentException("LoRA config: target_modules is empty (e.g. [q_proj, v_proj] for LLaMA, [c_attn] for GPT-2)");
        }
        for (String t : targetModules) {
            if (t == null || t.isBlank()) throw new IllegalArgumentException("LoRA config: target_modules has a blank entry: " + targetModules);
        }
        targetModules = List.copyOf(targetModules);
    }

    /** r, alpha, no dropout, seed 0. */
    public static LoraConfig of(int r, double alpha, String... targetModules) {
        return new LoraConfig(r, alpha, 0.0, List.of(targetModules), 0);
    }

    /** A builder with PEFT's defaults: r 8, alpha 16, no dropout, seed 0; the targets must be given. */
    public static Builder builder() { return new Builder(); }

    /** Named settings of a {@link LoraConfig}; {@link #build} checks them. Not thread-safe. */
    public static final class Builder {
        private int r = 8;
        private double alpha = 16, dropout;
        private List<String> targets = List.of();
        private long seed;

        private Builder() {}

        /** The adapters' rank r (default 8). */
        public Builder rank(int r) { this.r = r; return this; }

        /** lora_alpha; the update is scaled by alpha / r (default 16). */
        public Builder alpha(double alpha) { this.alpha = alpha; return this; }

        /** lora_dropout on the adapter's input (default 0). */
        public Builder dropout(double p) { this.dropout = p; return this; }

        /** target_modules: layer names or dotted suffixes (e.g. q_proj, v_proj). */
        public Builder targets(String... modules) { this.targets = List.of(modules); return this; }

        /** target_modules as a list. */
        public Builder targets(List<String> modules) { this.targets = List.copyOf(modules); return this; }

        /** Seeds A's init and the dropout masks (default 0). */
        public Builder seed(long seed) { this.seed = seed; return this; }

        public LoraConfig build() { return new LoraConfig(r, alpha, dropout, targets, seed); }
    }

    /** PEFT's scaling, alpha / r. */
    public double scaling() { return alpha / r; }

    /** True when the layer at {@code path} is one of the targets. */
    public boolean matches(String path) {
        for (String t : targetModules) if (path.equals(t) || path.endsWith("." + t)) return true;
        return false;
    }
}
