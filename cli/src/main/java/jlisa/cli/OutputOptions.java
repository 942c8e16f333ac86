package jlisa.cli;

import java.nio.file.Path;

import jlisa.finetune.FineTune;
import picocli.CommandLine.Option;

/** Checkpoints, resume and saving (a picocli mixin of finetune and pretrain). */
final class OutputOptions {
    @Option(names = "--checkpoint-dir", description = "write checkpoints (model, optimizer, data position) here")
    Path checkpointDir;

    @Option(names = "--checkpoint-every", defaultValue = "0",
            description = "checkpoint every this many steps and after the last, 0 = never (default: ${DEFAULT-VALUE})")
    int checkpointEvery;

    @Option(names = "--resume", description = "continue from the newest checkpoint in --checkpoint-dir") boolean resume;

    @Option(names = "--save", description = "write the trained model (LoRA: the PEFT adapter) to this directory") Path save;

    /** Checks the options against each other. */
    void validate(String command) {
        if (resume && checkpointDir == null) throw new IllegalArgumentException(command + ": --resume needs --checkpoint-dir");
    }

    /** Adds these settings to a fine-tune. */
    void applyTo(FineTune.Builder b) {
        if (checkpointDir != null) b.checkpoints(checkpointDir, checkpointEvery);
        b.resume(resume);
        if (save != null) b.saveTo(save);
    }
}
