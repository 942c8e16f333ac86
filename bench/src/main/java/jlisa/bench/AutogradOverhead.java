package jlisa.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import jlisa.autograd.Parameter;
import jlisa.autograd.Profile;
import jlisa.autograd.Variable;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;

/**
 * How much of a GPT-2-shaped training step (forward, cross-entropy, backward) is autograd
 * bookkeeping rather than kernels: wall time minus the time inside op forwards and backwards.
 * The model is written directly with autograd ops (the transformer module builds the real one).
 *
 * <p>{@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar jlisa.bench.AutogradOverhead
 * [layers=12] [width=768] [heads=12] [vocab=50257] [batch=4] [seq=64] [steps=4]}
 *
 * <p>A program, run on its own; not meant to be shared between threads.
 */
public final class AutogradOverhead {
    private AutogradOverhead() {}

    public static void main(String[] args) {
        int layers = arg(args, 0, 12), width = arg(args, 1, 768), heads = arg(args, 2, 12), vocab = arg(args, 3, 50257);
        int batch = arg(args, 4, 4), seq = arg(args, 5, 64), steps = arg(args, 6, 4);
        Rng rng = new Rng(0);
        List<Parameter> params = new ArrayList<>();
        Parameter wte = param(params, "wte", rng, vocab, width), wpe = param(params, "wpe", rng, seq, width);
        Parameter[][] blocks = new Parameter[layers][];
        for (int l = 0; l < layers; l++) {
            blocks[l] = new Parameter[] {
                ones(params, "ln1.w", width), zeros(params, "ln1.b", width),
                param(params, "attn.w", rng, 3 * width, width), zeros(params, "attn.b", 3 * width),
                param(params, "proj.w", rng, width, width), zeros(params, "proj.b", width),
                ones(params, "ln2.w", width), zeros(params, "ln2.b", width),
                param(params, "fc.w", rng, 4 * width, width), zeros(params, "fc.b", 4 * width),
                param(params, "fcproj.w", rng, width, 4 * width), zeros(params, "fcproj.b", width)};
        }
        Parameter lnfW = ones(params, "lnf.w", width), lnfB = zeros(params, "lnf.b", width);
        int[] ids = new int[batch * seq], targets = new int[batch * seq], pos = new int[batch * seq];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rng.nextInt(vocab);
            targets[i] = rng.nextInt(vocab);
            pos[i] = i % seq;
        }
        Tensor idT = Tensor.of(ids, batch, seq), posT = Tensor.of(pos, batch, seq), tgT = Tensor.of(targets, batch * seq);
        int headDim = width / heads;

        for (int step = 0; step < steps; step++) {
            Profile.start();
            long t0 = System.nanoTime();
            Variable x = wte.embedding(idT).add(wpe.embedding(posT));
            for (Parameter[] b : blocks) {
                Variable h = x.layerNorm(b[0], b[1], 1e-5).linear(b[2], b[3]);            // (B, T, 3C)
                Variable[] qkv = h.split(2, width, width, width);
                Variable q = qkv[0].reshape(batch, seq, heads, headDim).transpose(1, 2);
                Variable k = qkv[1].reshape(batch, seq, heads, headDim).transpose(1, 2);
                Variable v = qkv[2].reshape(batch, seq, heads, headDim).transpose(1, 2);
                Variable a = q.causalAttention(k, v).transpose(1, 2).reshape(batch, seq, width);
                x = x.add(a.linear(b[4], b[5]));
                Variable m = x.layerNorm(b[6], b[7], 1e-5).linear(b[8], b[9]).geluTanh().linear(b[10], b[11]);
                x = x.add(m);
            }
            Variable logits = x.layerNorm(lnfW, lnfB, 1e-5).linear(wte).reshape(batch * seq, vocab);
            Variable loss = logits.crossEntropy(tgT, -100);
            loss.backward();
            long wall = System.nanoTime() - t0;
            Profile.stop();
            for (Parameter p : params) p.zeroGrad();
            long ops = Profile.forwardNanos() + Profile.backwardNanos();
            System.out.printf(Locale.ROOT, "step %d: %.1f ms, inside ops %.1f ms (%d ops), bookkeeping %.2f%%, loss %.4f%n",
                    step, wall / 1e6, ops / 1e6, Profile.ops(), 100.0 * (wall - ops) / wall, loss.data().item());
        }
    }

    private static int arg(String[] args, int i, int dflt) { return args.length > i ? Integer.parseInt(args[i]) : dflt; }

    private static Parameter param(List<Parameter> ps, String name, Rng rng, int... shape) {
        Parameter p = new Parameter(name, Tensor.randn(rng, 0, 0.02, DType.F32, shape).to(DType.F32));
        p.data().storage().relabel(MemoryKind.PARAMETER);
        ps.add(p);
        return p;
    }

    private static Parameter ones(List<Parameter> ps, String name, int n) {
        Parameter p = new Parameter(name, Tensor.full(1.0, DType.F32, n));
        ps.add(p);
        return p;
    }

    private static Parameter zeros(List<Parameter> ps, String name, int n) {
        Parameter p = new Parameter(name, Tensor.zeros(n));
        ps.add(p);
        return p;
    }
}
