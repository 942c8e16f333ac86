package jlisa.finetune;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * What a fine-tune did: the method's name, the step it started from (0, or where a resume picked up), the steps
 * in all, each step's loss from the start step on, the held-out loss after the last step (absent without an eval
 * split), milliseconds per step, the parameters that train at once (LISA: embedding, head and γ layers), the
 * run's peak host bytes by its own memory-ledger account, and where the result was saved. Immutable, so
 * thread-safe.
 *
 * <p>{@code peakBytes} counts only what this run allocated, whatever other runs in the JVM do meanwhile: with
 * {@link FineTune#run()} that includes loading the model; with {@link FineTune#run(jlisa.transformer.model.CausalLM)}
 * it leaves out the weights the caller had loaded (a full or LISA fine-tune's writable copies of them count).
 */
public record FineTuneResult(String method, long startStep, long steps, List<Double> losses, OptionalDouble evalLoss,
                             double msPerStep, long trainableParameters, long peakBytes, Optional<Path> savedTo) {
    public FineTuneResult {
        losses = List.copyOf(losses);
    }

    /** The loss of the last step run (NaN when no step ran). */
    public double finalLoss() { return losses.isEmpty() ? Double.NaN : losses.getLast(); }
}
