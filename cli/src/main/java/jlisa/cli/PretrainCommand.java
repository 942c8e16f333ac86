package jlisa.cli;

import java.util.concurrent.Callable;

import jlisa.finetune.Method;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code jlisa pretrain}: training every parameter from a preset's random init (or continuing a
 * checkpoint) — the finetune machinery with the full method, so it has no method options.
 */
@Command(name = "pretrain", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train all parameters of a preset (--preset) or a model directory on token, text or JSONL data; "
                + "finetune's options without the method ones (every parameter trains).")
final class PretrainCommand implements Callable<Integer> {
    @Mixin TrainingOptions train = new TrainingOptions();

    @Mixin OutputOptions output = new OutputOptions();

    @Override public Integer call() throws java.io.IOException {
        train.validate("pretrain");
        output.validate("pretrain");
        return FinetuneCommand.runAndReport(train, Method.full(), output::applyTo);
    }
}
