package jlisa.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.node.ObjectNode;

import jlisa.finetune.FineTuneResult;
import jlisa.finetune.Method;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code jlisa finetune}: full, LoRA or LISA fine-tuning of a Hugging Face checkpoint (or a preset)
 * on token, text or JSONL instruction data, with logging, eval, checkpoints and resume — the library's
 * {@link jlisa.finetune.FineTune} behind options.
 */
@Command(name = "finetune", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Fine-tune a model with --method full, lora or lisa. Prints 'step=<n> loss=<6 decimals>' per "
                + "logged step (the loss of that step's batch, before its update), then details.")
class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--method", defaultValue = "full", description = "full, lora or lisa (default: ${DEFAULT-VALUE})")
    String method;

    @Mixin TrainingOptions train = new TrainingOptions();

    @Mixin MethodOptions methods = new MethodOptions();

    @Mixin OutputOptions output = new OutputOptions();

    @Option(names = "--save-merged", description = "LoRA: also write the base model with the adapters merged in, as a plain "
            + "model directory") Path saveMerged;

    @Override public Integer call() throws IOException {
        train.validate("finetune");
        output.validate("finetune");
        Method m = methods.method(method);
        if (saveMerged != null && !(m instanceof Method.Lora)) {
            throw new IllegalArgumentException("finetune: --save-merged is for --method lora (a " + m.name()
                    + " fine-tune's --save is already a full model)");
        }
        return runAndReport(train, m, b -> {
            output.applyTo(b);
            if (saveMerged != null) b.saveMergedTo(saveMerged);
        });
    }

    /** Runs {@code m} with a progress bar and step lines (or quietly), then prints --json's object. */
    static int runAndReport(TrainingOptions train, Method m, java.util.function.Consumer<jlisa.finetune.FineTune.Builder> more)
            throws IOException {
        FineTuneResult r;
        try (TrainingOptions.BarListener bar = new TrainingOptions.BarListener(m.name(), !train.verbose())) {
            r = train.run(m, train.verbose() ? List.of(bar, new TrainingOptions.Lines()) : List.of(bar), more);
        }
        if (train.json && train.leader()) System.out.println(json(r));
        return 0;
    }

    /** The --json object of a run (NaN and absent values as null). */
    static String json(FineTuneResult r) {
        ObjectNode o = JsonOut.object();
        o.put("method", r.method());
        o.put("steps", r.steps());
        o.put("start_step", r.startStep());
        JsonOut.number(o, "last_loss", r.finalLoss());
        JsonOut.number(o, "eval_loss", r.evalLoss().orElse(Double.NaN));
        o.put("ms_per_step", r.msPerStep());
        o.put("trainable_params", r.trainableParameters());
        o.put("peak_bytes", r.peakBytes());
        if (r.savedTo().isPresent()) o.put("saved_to", r.savedTo().get().toString());
        else o.putNull("saved_to");
        return o.toString();
    }
}
