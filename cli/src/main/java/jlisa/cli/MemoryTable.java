package jlisa.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import jlisa.autograd.Variable;
import jlisa.finetune.FineTune;
import jlisa.finetune.Method;
import jlisa.finetune.TrainingSetup;
import jlisa.optim.Lisa;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.GPT2;
import jlisa.transformer.model.Llama;

/**
 * Peak bytes by ledger kind for full fine-tuning, LoRA and LISA on one model: a few training steps on
 * random tokens per configuration, each on a freshly built model, peaks reset after the model is built.
 * LISA redraws every step (K = 1) so the state policies differ within the few steps measured.
 */
final class MemoryTable {
    private MemoryTable() {}

    record Row(String method, long[] peak, long peakTotal, long expectedGradAndState) {}

    static List<Row> measure(String preset, int batch, int seq, int steps) {
        List<Row> rows = new ArrayList<>();
        record Config(String label, Method method, long seed) {}
        List<Config> configs = new ArrayList<>();
        configs.add(new Config("full", Method.full(), 0));
        for (int r : new int[] {8, 128}) configs.add(new Config("lora r=" + r, Method.lora().withRank(r).withAlpha(2.0 * r), 0));
        for (int gamma : new int[] {1, 2, 4}) {
            for (Lisa.StatePolicy policy : Lisa.StatePolicy.values()) {
                configs.add(new Config("lisa γ=" + gamma + " " + policy.name().toLowerCase(Locale.ROOT),
                        Method.lisa().withGamma(gamma).withPeriod(1).withPolicy(policy), 7));
            }
        }
        for (Config c : configs) {
            CausalLM model = build(preset);
            MemoryLedger.collectGarbage();
            long[] base = new long[MemoryKind.values().length];
            for (MemoryKind k : MemoryKind.values()) base[k.ordinal()] = MemoryLedger.live(k);
            long baseTotal = MemoryLedger.liveTotal();
            MemoryLedger.resetPeaks();
            TrainingSetup setup = TrainingSetup.of(model, c.method(), FineTune.OptimizerChoice.ADAMW, 1e-4, 0.0, c.seed());
            Rng rng = new Rng(1);
            for (int step = 0; step < steps; step++) {
                if (setup.lisa().isPresent()) setup.lisa().get().beforeStep(step);
                int[] ids = new int[batch * (seq + 1)];
                for (int i = 0; i < ids.length; i++) ids[i] = rng.nextInt(model.vocabSize());
                Variable loss;
                try (var scope = MemoryLedger.scope(MemoryKind.ACTIVATION)) {
                    loss = model.loss(Tensor.of(ids, batch, seq + 1), -100);
                    loss.backward();
                }
                setup.optimizer().step();
                setup.optimizer().zeroGrad();
                loss.data().storage().release();
            }
            long[] peak = new long[MemoryKind.values().length];
            for (MemoryKind k : MemoryKind.values()) peak[k.ordinal()] = MemoryLedger.peak(k) - base[k.ordinal()];
            // gradients + two AdamW moments of what trains at once: every trainable (full, LoRA) or the always-on
            // groups plus γ layers (LISA: the largest γ layers, since layers may differ in size — here they don't)
            long trainableBytes = 4L * setup.trainableAtOnce();
            rows.add(new Row(c.label(), peak, MemoryLedger.peakTotal() - baseTotal, 3 * trainableBytes));
            setup.close();
        }
        return rows;
    }

    static CausalLM build(String preset) {
        if (preset.startsWith("llama")) return new Llama(Llama.Config.preset(preset), new Rng(0));
        return new GPT2(GPT2.Config.preset(preset), new Rng(0));
    }

    static String markdown(String preset, int batch, int seq, int steps, List<Row> rows) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s, batch %d × %d tokens, %d AdamW steps per row (MiB; peaks above the "
                + "model's own parameters)%n%n", preset, batch, seq, steps));
        sb.append("| method | parameters | gradients | optimizer state | parked state | activations | other | total peak | grad+state expected |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |%n", r.method(),
                    mib(r.peak()[MemoryKind.PARAMETER.ordinal()]), mib(r.peak()[MemoryKind.GRADIENT.ordinal()]),
                    mib(r.peak()[MemoryKind.OPTIMIZER_STATE.ordinal()]), mib(r.peak()[MemoryKind.PARKED_STATE.ordinal()]),
                    mib(r.peak()[MemoryKind.ACTIVATION.ordinal()]), mib(r.peak()[MemoryKind.OTHER.ordinal()]),
                    mib(r.peakTotal()), mib(r.expectedGradAndState())));
        }
        return sb.toString();
    }

    /** The same rows as one JSON object, in bytes, peaks per ledger kind. */
    static com.fasterxml.jackson.databind.node.ObjectNode json(String preset, int batch, int seq, int steps, List<Row> rows) {
        var o = JsonOut.object().put("model", preset).put("batch", batch).put("seq", seq).put("steps", steps);
        var arr = o.putArray("rows");
        for (Row r : rows) {
            var row = arr.addObject().put("method", r.method());
            var peaks = row.putObject("peak_bytes");
            for (MemoryKind k : MemoryKind.values()) peaks.put(k.name().toLowerCase(Locale.ROOT), r.peak()[k.ordinal()]);
            row.put("peak_total_bytes", r.peakTotal()).put("expected_grad_and_state_bytes", r.expectedGradAndState());
        }
        return o;
    }

    private static double mib(long b) { return b / (1024.0 * 1024.0); }
}
