package jlisa.cli;

import picocli.CommandLine.Command;

/**
 * {@code jlisa pretrain}: training every parameter from a preset's random init (or continuing a
 * checkpoint) — the finetune machinery with {@code --method full}.
 */
@Command(name = "pretrain", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train all parameters of a preset (--preset) or a model directory on token, text or JSONL data; "
                + "the same options as finetune, with --method full.")
final class PretrainCommand extends FinetuneCommand {
    @Override public Integer call() throws java.io.IOException {
        if (!method.equalsIgnoreCase("full")) {
            throw new IllegalArgumentException("pretrain trains every parameter; --method " + method
                    + " belongs to finetune");
        }
        return super.call();
    }
}
