package jlisa.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.optim.AdamW;
import jlisa.optim.GradClip;
import jlisa.optim.ParamGroup;
import jlisa.optim.data.Batch;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.transformer.lora.Lora;
import jlisa.transformer.lora.LoraConfig;
import jlisa.transformer.model.Llama;

/**
 * A LoRA fine-tuning step against a full fine-tuning step on the same LLaMA-shaped model and the same batches,
 * as {@code jlisa demo} runs them (issue 13): micro-batches of {@code batch} rows × {@code seq} tokens, forward,
 * cross-entropy, backward scaled by 1/accum, clip at 1.0, AdamW, zero the gradients, release the step's
 * activations. LoRA has rank r, alpha 2r, on every attention and MLP projection. The two run alternately, one
 * round of {@code steps} steps each, so both see the same machine noise; the first round is warm-up.
 *
 * <p>{@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar jlisa.bench.LoraStep
 * [layers=8] [hidden=128] [heads=4] [kvHeads=2] [intermediate=344] [batch=4] [seq=20] [accum=4] [r=8]
 * [rounds=6] [steps=10] [only=both|full|lora]}
 *
 * <p>A program, run on its own; not meant to be shared between threads.
 */
public final class LoraStep {
    private LoraStep() {}

    static final int VOCAB = 257;
    static final List<String> TARGETS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    /** One model and its optimizer, ready to step. */
    static final class Run {
        final Llama model;
        final AdamW opt;
        final List<Parameter> trainable;

        Run(Llama.Config cfg, boolean lora, int r) {
            model = new Llama(cfg, new Rng(0));
            model.train(true);
            Map<String, Parameter> named = lora ? Lora.apply(model, new LoraConfig(r, 2.0 * r, 0.0, TARGETS, 1))
                    : model.namedParameters();
            if (lora) {   // a trained adapter, not B = 0 (the products are the same either way; the values are not)
                Rng rng = new Rng(2);
                for (Map.Entry<String, Parameter> e : named.entrySet()) {
                    if (e.getKey().endsWith("lora_B.weight")) {
                        Tensor t = Tensor.randn(rng, 0, 0.01, jlisa.tensor.DType.F32, e.getValue().data().shape());
                        e.getValue().data().copyFrom(t);
                    }
                }
            }
            opt = new AdamW(ParamGroup.withDecay(named, 0.0), 1e-3);
            trainable = new ArrayList<>(named.values());
        }

        double step(Tensor[] inputs, Tensor[] targets) {
            MemoryLedger.Tracker allocations = MemoryLedger.track();
            double loss = 0;
            for (int micro = 0; micro < inputs.length; micro++) {
                Variable l;
                try (var scope = MemoryLedger.scope(MemoryKind.ACTIVATION)) {
                    l = model.loss(inputs[micro], targets[micro], Batch.IGNORE);
                }
                loss += l.data().item() / inputs.length;
                l.mul(1.0 / inputs.length).backward();
            }
            List<Parameter> withGrad = new ArrayList<>();
            for (Parameter p : trainable) if (p.grad() != null) withGrad.add(p);
            GradClip.clipGradNorm(withGrad, 1.0);
            opt.step();
            opt.zeroGrad();
            allocations.close();
            allocations.releaseKinds(MemoryKind.ACTIVATION, MemoryKind.OTHER);
            return loss;
        }
    }

    public static void main(String[] args) {
        int layers = arg(args, 0, 8), hidden = arg(args, 1, 128), heads = arg(args, 2, 4), kv = arg(args, 3, 2);
        int inter = arg(args, 4, 344), batch = arg(args, 5, 4), seq = arg(args, 6, 20), accum = arg(args, 7, 4);
        int r = arg(args, 8, 8), rounds = arg(args, 9, 6), steps = arg(args, 10, 10);
        String only = args.length > 11 ? args[11] : "both";
        Llama.Config cfg = new Llama.Config(VOCAB, hidden, inter, layers, heads, kv, hidden / heads, 1e-6, 10000.0, 64, true,
                false, 0.02);
        Rng rng = new Rng(7);
        int batches = 8;   // cycled, so each step sees different tokens
        Tensor[][] in = new Tensor[batches][accum], tg = new Tensor[batches][accum];
        for (int b = 0; b < batches; b++) {
            for (int m = 0; m < accum; m++) {
                int[] ids = new int[batch * seq], t = new int[batch * seq];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = rng.nextInt(VOCAB);
                    t[i] = i % seq < seq / 2 ? Batch.IGNORE : rng.nextInt(VOCAB);   // the prompt half is not scored
                }
                in[b][m] = Tensor.of(ids, batch, seq);
                tg[b][m] = Tensor.of(t, batch, seq);
            }
        }
        Run full = only.equals("lora") ? null : new Run(cfg, false, r);
        Run lora = only.equals("full") ? null : new Run(cfg, true, r);
        System.out.printf(Locale.ROOT, "lora-step layers=%d hidden=%d heads=%d/%d intermediate=%d rows=%d (batch %d x seq %d) "
                + "accum=%d r=%d threads=%s%n", layers, hidden, heads, kv, inter, batch * seq, batch, seq, accum, r,
                jlisa.tensor.Parallel.threads());
        int[] cursor = {0};
        double sumFull = 0, sumLora = 0;
        for (int round = 0; round <= rounds; round++) {
            double f = full == null ? Double.NaN : time(full, in, tg, steps, cursor);
            double l = lora == null ? Double.NaN : time(lora, in, tg, steps, cursor);
            if (round == 0) {
                System.out.printf(Locale.ROOT, "warm-up   full %.1f ms/step  lora %.1f ms/step%n", f, l);
                continue;
            }
            sumFull += f;
            sumLora += l;
            System.out.printf(Locale.ROOT, "round %d   full %.1f ms/step  lora %.1f ms/step  lora/full %.3f%n", round, f, l, l / f);
        }
        System.out.printf(Locale.ROOT, "mean      full %.1f ms/step  lora %.1f ms/step  lora/full %.3f%n", sumFull / rounds,
                sumLora / rounds, sumLora / sumFull);
    }

    private static double time(Run run, Tensor[][] in, Tensor[][] tg, int steps, int[] cursor) {
        long t0 = System.nanoTime();
        for (int s = 0; s < steps; s++) {
            int b = cursor[0]++ % in.length;
            run.step(in[b], tg[b]);
        }
        return (System.nanoTime() - t0) / 1e6 / steps;
    }

    private static int arg(String[] args, int i, int def) { return args.length > i ? Integer.parseInt(args[i]) : def; }
}
