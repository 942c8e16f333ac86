package jlisa.finetune;

import java.nio.file.Path;

import jlisa.optim.train.Trainer;

/**
 * Hears what a fine-tune does; every method is optional and runs on the fine-tune's thread, so a slow listener
 * slows the run. An exception thrown here stops the run (the last checkpoint stays intact).
 */
public interface FineTuneListener {
    /**
     * Once the model and data are ready, before the first step: the run goes from {@code startStep} (0, or where a
     * resume picked up) to {@code totalSteps}.
     */
    default void onStart(long startStep, long totalSteps) {}

    /** After every optimizer step. */
    default void onProgress(Progress progress) {}

    /** Every {@code logEvery} steps: tokens/s, LISA's active layers, the memory ledger, the gradient norm. */
    default void onLog(Trainer.Log log) {}

    /** After each evaluation on the held-out split. */
    default void onEval(long step, double evalLoss) {}

    /** After a checkpoint is written. */
    default void onCheckpoint(long step, Path checkpoint) {}

    /** When a run continues from a checkpoint (before {@link #onStart}): {@code step} steps were already done. */
    default void onResume(long step, Path checkpointDir) {}

    /** After the model (or the adapter) is written to {@code dir}. */
    default void onSaved(Path dir) {}
}
