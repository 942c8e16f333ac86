package jlisa.finetune;

import java.time.Duration;

/**
 * Where a fine-tune stands after a step: {@code step} of {@code totalSteps} (counting steps done before a resume),
 * that step's loss (before its update), the learning rate it used, the time since this run started and the time
 * left at the pace so far ({@link Duration#ZERO} when done). Immutable.
 *
 * <p>Immutable; safe to share between threads.
 */
public record Progress(long step, long totalSteps, double loss, double learningRate, Duration elapsed, Duration eta) {

    /** The share of the steps done, in [0, 1]. */
    public double fraction() { return totalSteps == 0 ? 1 : (double) step / totalSteps; }
}
