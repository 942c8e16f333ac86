package jlisa.finetune;

import java.util.List;
import java.util.Objects;

import jlisa.optim.Lisa.Sampling;
import jlisa.optim.Lisa.StatePolicy;

/**
 * Which parameters a fine-tune trains: all of them ({@link #full()}), low-rank adapters on a frozen base
 * ({@link #lora()}), or the embedding, the LM head and γ middle layers drawn every K steps ({@link #lisa()}).
 * Values are immutable and safe to share between threads; change a setting with its {@code with…} method:
 * <pre>{@code
 *   Method.lisa().withGamma(2).withPeriod(10)
 *   Method.lora().withRank(16).withTargets("q_proj", "v_proj")
 * }</pre>
 * The fine-tune's seed seeds LoRA's init and LISA's draws.
 */
public sealed interface Method {

    /** The name the CLI and the reports use: full, lora or lisa. */
    String name();

    /** Full fine-tuning: every parameter trains. */
    static Full full() { return new Full(); }

    /** LoRA with PEFT's defaults: r 8, alpha 16, no dropout, on every attention and MLP projection. */
    static Lora lora() { return new Lora(8, 16, 0, List.of()); }

    /** LISA with the paper's defaults: γ 2, K 20, state dropped when a layer leaves, uniform draws, no warm-up. */
    static Lisa lisa() { return new Lisa(2, 20, StatePolicy.DROP, new Sampling.Uniform(), 0); }

    /** Every parameter trains. */
    record Full() implements Method {
        @Override public String name() { return "full"; }
    }

    /**
     * Adapters of rank {@code rank} and scaling {@code alpha / rank} on the layers named by {@code targets}
     * (PEFT's target_modules; empty: every attention and MLP projection of the model), with
     * {@code dropout} on their input.
     */
    record Lora(int rank, double alpha, double dropout, List<String> targets) implements Method {
        public Lora {
            if (rank < 1) throw new IllegalArgumentException("LoRA: rank must be at least 1, got " + rank);
            if (!(alpha > 0) || Double.isInfinite(alpha)) throw new IllegalArgumentException("LoRA: alpha must be positive, got " + alpha);
            if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("LoRA: dropout must be in [0, 1), got " + dropout);
            targets = List.copyOf(targets);
        }

        @Override public String name() { return "lora"; }

        public Lora withRank(int r) { return new Lora(r, alpha, dropout, targets); }

        public Lora withAlpha(double a) { return new Lora(rank, a, dropout, targets); }

        public Lora withDropout(double p) { return new Lora(rank, alpha, p, targets); }

        public Lora withTargets(String... modules) { return new Lora(rank, alpha, dropout, List.of(modules)); }

        public Lora withTargets(List<String> modules) { return new Lora(rank, alpha, dropout, modules); }
    }

    /**
     * γ ({@code gamma}) middle layers train at a time, redrawn every {@code period} steps with {@code sampling};
     * {@code policy} says what happens to a leaving layer's optimizer state; {@code warmupSteps} ramps a joining
     * layer's learning rate (see {@link jlisa.optim.Lisa.Config}).
     */
    record Lisa(int gamma, int period, StatePolicy policy, Sampling sampling, int warmupSteps) implements Method {
        public Lisa {
            if (gamma < 1) throw new IllegalArgumentException("LISA: gamma must be >= 1, got " + gamma);
            if (period < 1) throw new IllegalArgumentException("LISA: period K must be >= 1, got " + period);
            Objects.requireNonNull(policy, "policy");
            Objects.requireNonNull(sampling, "sampling");
            if (warmupSteps < 0) throw new IllegalArgumentException("LISA: warm-up steps must be >= 0, got " + warmupSteps);
        }

        @Override public String name() { return "lisa"; }

        public Lisa withGamma(int layers) { return new Lisa(layers, period, policy, sampling, warmupSteps); }

        public Lisa withPeriod(int steps) { return new Lisa(gamma, steps, policy, sampling, warmupSteps); }

        public Lisa withPolicy(StatePolicy p) { return new Lisa(gamma, period, p, sampling, warmupSteps); }

        public Lisa withSampling(Sampling s) { return new Lisa(gamma, period, policy, s, warmupSteps); }

        public Lisa withWarmup(int steps) { return new Lisa(gamma, period, policy, sampling, steps); }

        /** The optimizer-level config with {@code seed}. */
        public jlisa.optim.Lisa.Config config(long seed) {
            return jlisa.optim.Lisa.Config.builder().gamma(gamma).period(period).policy(policy).sampling(sampling)
                    .warmupSteps(warmupSteps).seed(seed).build();
        }
    }
}
