package jlisa.cli;

import java.util.List;
import java.util.Locale;

import jlisa.finetune.Method;
import picocli.CommandLine.Option;

/** LoRA's and LISA's settings (a picocli mixin of finetune and compare). */
final class MethodOptions {
    @Option(names = "--lora-r", defaultValue = "8", description = "LoRA rank (default: ${DEFAULT-VALUE})")
    int loraR;

    @Option(names = "--lora-alpha", defaultValue = "16", description = "LoRA alpha; the update is scaled by alpha/r (default: ${DEFAULT-VALUE})")
    double loraAlpha;

    @Option(names = "--lora-dropout", defaultValue = "0", description = "dropout on the adapters' input (default: ${DEFAULT-VALUE})")
    double loraDropout;

    @Option(names = "--lora-targets", description = "comma-separated layer names (default: every attention and MLP projection)")
    String loraTargets;

    @Option(names = "--lisa-gamma", defaultValue = "2", description = "LISA: middle layers that train at a time (default: ${DEFAULT-VALUE})")
    int lisaGamma;

    @Option(names = "--lisa-period", defaultValue = "20", description = "LISA: steps between two draws, K (default: ${DEFAULT-VALUE})")
    int lisaPeriod;

    @Option(names = "--lisa-policy", defaultValue = "drop",
            description = "LISA: a leaving layer's optimizer state is dropped, parked in host memory, or kept (default: ${DEFAULT-VALUE})")
    String lisaPolicy;

    @Option(names = "--lisa-sampling", defaultValue = "uniform",
            description = "LISA: uniform, weight-norm, or one comma-separated weight per middle layer (default: ${DEFAULT-VALUE})")
    String lisaSampling;

    @Option(names = "--lisa-warmup", defaultValue = "0",
            description = "LISA: steps over which a newly drawn layer's learning rate ramps up after a draw under drop, so its "
                    + "first AdamW steps (about lr·sign(g) from zero moments) are smaller (0 = none; default: ${DEFAULT-VALUE})")
    int lisaWarmup;

    /** The method named {@code name} (full, lora or lisa) with these settings. */
    Method method(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "full" -> Method.full();
            case "lora" -> Method.lora().withRank(loraR).withAlpha(loraAlpha).withDropout(loraDropout)
                    .withTargets(loraTargets == null ? List.of() : List.of(loraTargets.split("\\s*,\\s*")));
            // explicit weights are checked against the model's layer count when LISA is built
            case "lisa" -> Method.lisa().withGamma(lisaGamma).withPeriod(lisaPeriod).withPolicy(LisaArgs.policy(lisaPolicy))
                    .withSampling(LisaArgs.sampling(lisaSampling)).withWarmup(lisaWarmup);
            default -> throw new IllegalArgumentException("--method must be full, lora or lisa, got '" + name + "'");
        };
    }
}
