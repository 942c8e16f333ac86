package jlisa.gpu;

import static jlisa.gpu.GpuChecks.relativeError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.autograd.functions.LinearCrossEntropy;
import jlisa.optim.AdamW;
import jlisa.optim.GradClip;
import jlisa.optim.ParamGroup;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Activations;
import jlisa.tensor.kernels.CrossEntropy;
import jlisa.tensor.kernels.Dropout;
import jlisa.tensor.kernels.Attention;
import jlisa.tensor.kernels.Elementwise;
import jlisa.tensor.kernels.Embedding;
import jlisa.tensor.kernels.LayerNorm;
import jlisa.tensor.kernels.RmsNorm;
import jlisa.tensor.kernels.Rope;
import jlisa.tensor.kernels.Softmax;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.GPT2;
import jlisa.transformer.model.Llama;
import org.junit.jupiter.api.Test;

/**
 * Device-resident training against the CPU: every device kernel on random inputs of odd sizes, its inputs in device
 * memory and its output allocated there (poisoned with NaN under test, so an element left unwritten fails), compared
 * with the CPU kernel on the same values (relative error under 1e-5, fp32); then whole GPT-2 training steps, and the
 * error for an op without a device kernel. Subclasses give the device: the real one or the fake library.
 */
abstract class ResidentChecks {
    static final double FP32 = 1e-5;

    abstract CudaDevice device();

    CudaBackend backend() { return new CudaBackend(device(), Precision.FP32, 0); }

    /** {@code host} copied into {@code backend}'s memory. */
    static Tensor on(CudaBackend backend, Tensor host) { return backend.toDevice(host, MemoryKind.OTHER); }

    static void assertClose(String what, Tensor device, Tensor cpu) {
        assertThat(device.isOnDevice()).as("%s: the result stays in device memory", what).isTrue();
        assertThat(device.shape()).as("%s: shape", what).containsExactly(cpu.shape());
        assertThat(relativeError(device.toFloatArray(), cpu.toFloatArray())).as("%s: relative error", what)
                .isLessThanOrEqualTo(FP32);
    }

    @Test void stridedAndBroadcastCopiesMatchTheCpu() {
        CudaBackend backend = backend();
        Rng rng = new Rng(1);
        Tensor x = Tensor.randn(rng, 3, 5, 7, 2);
        Tensor permuted = on(backend, x).permute(2, 0, 3, 1);
        assertClose("permuted contiguous()", permuted.contiguous(), x.permute(2, 0, 3, 1).contiguous());
        Tensor bias = Tensor.randn(rng, 11);
        Tensor rows = Tensor.emptyOn(on(backend, bias), DType.F32, 9, 11).copyFrom(on(backend, bias).expand(9, 11));
        assertClose("bias broadcast over rows", rows, bias.expand(9, 11).contiguous());
        Tensor every2nd = on(backend, Tensor.randn(rng, 6, 10));
        Tensor target = on(backend, Tensor.zeros(6, 10));
        target.slice(1, 1, 10, 3).copyFrom(every2nd.slice(0, 0, 6, 2).narrow(1, 0, 3).expand(2, 3, 3).reshape(6, 3));
        Tensor cpuTarget = Tensor.zeros(6, 10);
        cpuTarget.slice(1, 1, 10, 3).copyFrom(every2nd.toHost().slice(0, 0, 6, 2).narrow(1, 0, 3).expand(2, 3, 3).reshape(6, 3));
        assertClose("strided destination", target, cpuTarget);
    }

    @Test void elementwiseMapsMatchTheCpu() {
        CudaBackend backend = backend();
        Rng rng = new Rng(2);
        Tensor a = Tensor.randn(rng, 4, 7, 13), b = Tensor.randn(rng, 4, 7, 13), row = Tensor.randn(rng, 13);
        Tensor positive = Tensor.rand(rng, 0.1, 3, DType.F32, 5, 9);
        Tensor da = on(backend, a), db = on(backend, b), drow = on(backend, row);
        for (Elementwise.Binary op : Elementwise.Binary.values()) {
            if (op == Elementwise.Binary.POW) continue;
            assertClose(op + " same shape", Elementwise.binary(op, da, db), Elementwise.binary(op, a, b));
            assertClose(op + " broadcast row", Elementwise.binary(op, da, drow), Elementwise.binary(op, a, row));
            assertClose(op + " transposed operand", Elementwise.binary(op, da.transpose(0, 1), db.transpose(0, 1)),
                    Elementwise.binary(op, a.transpose(0, 1), b.transpose(0, 1)));
        }
        Tensor dp = on(backend, positive);
        assertClose("pow", Elementwise.binary(Elementwise.Binary.POW, dp, on(backend, positive.mul(0.5))),
                Elementwise.binary(Elementwise.Binary.POW, positive, positive.mul(0.5)));
        assertClose("scalar mul", da.mul(-1.5), a.mul(-1.5));
        assertClose("scalar sub", da.sub(0.25), a.sub(0.25));
        for (Elementwise.Unary op : Elementwise.Unary.values()) {
            boolean needsPositive = op == Elementwise.Unary.LOG || op == Elementwise.Unary.SQRT || op == Elementwise.Unary.RSQRT;
            Tensor x = needsPositive ? positive : a, dx = needsPositive ? dp : da;
            assertClose(op.name(), Elementwise.unary(op, dx), Elementwise.unary(op, x));
        }
        Tensor acc = on(backend, a.copy());
        acc.addInPlace(db);
        acc.mulInPlace(0.5);
        assertClose("in place", acc, a.add(b).mul(0.5));
    }

    @Test void sumsMatchTheCpuOverAnyDims() {
        CudaBackend backend = backend();
        Rng rng = new Rng(3);
        Tensor x = Tensor.randn(rng, 6, 5, 33);
        Tensor d = on(backend, x);
        assertClose("leading dim (a bias gradient)", d.reshape(30, 33).sum(0), x.reshape(30, 33).sum(0));
        assertClose("leading dims", d.sum(0, 1), x.sum(0, 1));
        assertClose("last dim", d.sum(2), x.sum(2));
        assertClose("middle dim, kept", d.sum(true, 1), x.sum(true, 1));
        assertClose("first and last", d.sum(0, 2), x.sum(0, 2));
        assertClose("all", d.sum(), x.sum());
        assertClose("mean", d.mean(0), x.mean(0));
        assertClose("mean of rows", d.mean(true, 2), x.mean(true, 2));
        assertClose("transposed input", d.transpose(0, 2).sum(0), x.transpose(0, 2).sum(0));
    }

    @Test void layerNormForwardAndBackwardMatchTheCpu() {
        CudaBackend backend = backend();
        Rng rng = new Rng(4);
        for (int cols : new int[] {1, 37, 300}) {
            Tensor x = Tensor.randn(rng, 3, 7, cols), w = Tensor.randn(rng, cols), b = Tensor.randn(rng, cols);
            Tensor g = Tensor.randn(rng, 3, 7, cols);
            for (boolean affine : new boolean[] {true, false}) {
                Tensor ww = affine ? w : null, bb = affine ? b : null;
                LayerNorm.Result cpu = LayerNorm.forward(x, ww, bb, 1e-5);
                LayerNorm.Result dev = LayerNorm.forward(on(backend, x), affine ? on(backend, w) : null,
                        affine ? on(backend, b) : null, 1e-5);
                String what = "cols " + cols + (affine ? " affine" : "");
                assertClose(what + " out", dev.out(), cpu.out());
                assertClose(what + " mean", dev.mean(), cpu.mean());
                assertClose(what + " rstd", dev.rstd(), cpu.rstd());
                LayerNorm.Gradients cg = LayerNorm.backward(g, x, ww, cpu.mean(), cpu.rstd(), true, affine, true);
                LayerNorm.Gradients dg = LayerNorm.backward(on(backend, g), on(backend, x), affine ? on(backend, w) : null,
                        dev.mean(), dev.rstd(), true, affine, true);
                assertClose(what + " dx", dg.dx(), cg.dx());
                if (affine) assertClose(what + " dweight", dg.dweight(), cg.dweight());
                assertClose(what + " dbias", dg.dbias(), cg.dbias());
            }
        }
    }

    @Test void geluForwardAndBackwardMatchTheCpu() {
        CudaBackend backend = backend();
        Rng rng = new Rng(5);
        Tensor x = Tensor.randn(rng, 0, 3, DType.F32, 1037), g = Tensor.randn(rng, 1037);
        assertClose("gelu", Activations.geluTanh(on(backend, x)), Activations.geluTanh(x));
        assertClose("gelu backward", Activations.geluTanhBackward(on(backend, x), on(backend, g)), Activations.geluTanhBackward(x, g));
        Tensor view = on(backend, Tensor.randn(rng, 9, 14)).t();   // a transposed view is made contiguous on the device
        assertClose("gelu of a view", Activations.geluTanh(view), Activations.geluTanh(view.toHost()));
    }

    @Test void rmsNormSiluAndRopeMatchTheCpu() {
        CudaBackend backend = backend();
        Rng rng = new Rng(9);
        for (int cols : new int[] {1, 45}) {
            Tensor x = Tensor.randn(rng, 4, 5, cols), w = Tensor.randn(rng, cols), g = Tensor.randn(rng, 4, 5, cols);
            RmsNorm.Result cpu = RmsNorm.forward(x, w, 1e-6);
            RmsNorm.Result dev = RmsNorm.forward(on(backend, x), on(backend, w), 1e-6);
            assertClose("rmsNorm out, cols " + cols, dev.out(), cpu.out());
            assertClose("rmsNorm rstd, cols " + cols, dev.rstd(), cpu.rstd());
            RmsNorm.Gradients cg = RmsNorm.backward(g, x, w, cpu.rstd(), true, true);
            RmsNorm.Gradients dg = RmsNorm.backward(on(backend, g), on(backend, x), on(backend, w), dev.rstd(), true, true);
            assertClose("rmsNorm dx, cols " + cols, dg.dx(), cg.dx());
            assertClose("rmsNorm dweight, cols " + cols, dg.dweight(), cg.dweight());
        }
        Tensor x = Tensor.randn(rng, 0, 3, DType.F32, 777), g = Tensor.randn(rng, 777);
        assertClose("silu", Activations.silu(on(backend, x)), Activations.silu(x));
        assertClose("silu backward", Activations.siluBackward(on(backend, x), on(backend, g)), Activations.siluBackward(x, g));
        Tensor heads = Tensor.randn(rng, 2, 7, 3, 10).transpose(1, 2);   // (B, H, T, D) seen through a (B, T, H, D) layout
        for (Rope.Layout layout : Rope.Layout.values()) {
            for (int rotary : new int[] {10, 6}) {
                Rope.Cache cache = Rope.Cache.of(new int[] {0, 1, 2, 5, 8, 13, 21}, 10000, rotary);
                assertClose("rope " + layout + " rotary " + rotary, Rope.forward(on(backend, heads), cache, layout),
                        Rope.forward(heads, cache, layout));
                assertClose("rope backward " + layout + " rotary " + rotary, Rope.backward(on(backend, heads), cache, layout),
                        Rope.backward(heads, cache, layout));
            }
        }
    }

    @Test void dropoutDrawsTheCpusMasksAndAppliesThemOnTheDevice() {
        CudaBackend backend = backend();
        Tensor x = Tensor.randn(new Rng(10), 6, 37), g = Tensor.randn(new Rng(11), 6, 37);
        Dropout.Result cpu = Dropout.forward(x, 0.3, new Rng(12));
        Dropout.Result dev = Dropout.forward(on(backend, x), 0.3, new Rng(12));
        assertThat(dev.mask().isOnDevice()).isTrue();
        assertThat(dev.out().toFloatArray()).as("same draws, same products: the same bits").containsExactly(cpu.out().toFloatArray());
        assertThat(Dropout.backward(on(backend, g), dev.mask(), 0.3).toFloatArray())
                .containsExactly(Dropout.backward(g, cpu.mask(), 0.3).toFloatArray());
    }

    @Test void embeddingGathersAndScatterAddsAsTheCpu() {
        CudaBackend backend = backend();
        Rng rng = new Rng(6);
        Tensor w = Tensor.randn(rng, 11, 19);
        int[] id = new int[3 * 7];
        for (int i = 0; i < id.length; i++) id[i] = rng.nextInt(11);
        id[4] = id[5] = id[17] = 3;   // repeated ids sum in order
        Tensor ids = Tensor.of(id, 3, 7);
        assertClose("embedding", Embedding.forward(on(backend, w), ids), Embedding.forward(w, ids));
        Tensor g = Tensor.randn(rng, 3, 7, 19);
        Tensor dev = Embedding.backward(on(backend, g), ids, 11), cpu = Embedding.backward(g, ids, 11);
        assertClose("embedding backward", dev, cpu);
        assertThat(dev.toFloatArray()).as("repeated ids summed in the CPU's order: the same bits").containsExactly(cpu.toFloatArray());
        assertThatThrownBy(() -> Embedding.forward(on(backend, w), Tensor.of(new int[] {2, 11}, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("id 11 at position 1 is outside [0, 11)");
    }

    @Test void theFusedHeadAndCrossEntropyMatchTheCpu() {
        CudaBackend backend = backend();
        Rng rng = new Rng(7);
        int n = 23, c = 16, v = 29;
        Tensor x = Tensor.randn(rng, n, c), w = Tensor.randn(rng, 0, 0.3, DType.F32, v, c);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = i % 5 == 2 ? -100 : rng.nextInt(v);
        Tensor targets = Tensor.of(t, n);
        for (long chunk : new long[] {LinearCrossEntropy.CHUNK_ELEMENTS, 3L * v}) {
            Variable cx = new Variable(x, true), cw = new Variable(w, true);
            Variable cpu = LinearCrossEntropy.apply(cx, cw, targets, -100, chunk);
            cpu.backward();
            Variable dx = new Variable(on(backend, x), true), dw = new Variable(on(backend, w), true);
            Variable dev = LinearCrossEntropy.apply(dx, dw, targets, -100, chunk);
            assertThat(dev.data().isOnDevice()).as("the loss value is the one thing on the host").isFalse();
            assertThat(Math.abs(dev.data().item() - cpu.data().item()) / Math.abs(cpu.data().item())).isLessThanOrEqualTo(FP32);
            dev.backward();
            assertClose("dx, chunk " + chunk, dx.grad(), cx.grad());
            assertClose("dweight, chunk " + chunk, dw.grad(), cw.grad());
        }
    }

    @Test void theUnfusedCrossEntropyMatchesTheCpu() {
        CudaBackend backend = backend();
        Rng rng = new Rng(15);
        Tensor logits = Tensor.randn(rng, 3, 5, 41);
        int[] t = new int[15];
        for (int i = 0; i < t.length; i++) t[i] = i == 7 ? -100 : rng.nextInt(41);
        Tensor targets = Tensor.of(t, 3, 5);
        CrossEntropy.Result cpu = CrossEntropy.forward(logits, targets, -100);
        Tensor deviceLogits = on(backend, logits);
        CrossEntropy.Result dev = CrossEntropy.forward(deviceLogits, targets, -100);
        assertThat(Math.abs(dev.loss().item() - cpu.loss().item()) / cpu.loss().item()).isLessThanOrEqualTo(FP32);
        assertClose("dlogits", dev.dlogits(), cpu.dlogits());
        assertClose("the logits are left as they were", deviceLogits, logits);
        assertThat(CrossEntropy.forward(deviceLogits, targets, -100, false).dlogits()).isNull();
    }

    @Test void attentionForwardAndBackwardMatchTheCpu() {
        CudaBackend backend = backend();
        Rng rng = new Rng(8);
        // GPT-2's packed projection: q, k, v are views of one (B, T, 3·H·D) tensor, gradients written into one
        int B = 2, T = 9, H = 3, D = 5;
        Tensor qkv = Tensor.randn(rng, B, T, 3 * H * D), g = Tensor.randn(rng, B, T, H * D);
        checkPacked(backend, qkv, g, H, H);
        // grouped kv heads (LLaMA's GQA), and fewer queries than keys (a decode step)
        Tensor q = Tensor.randn(rng, 2, 4, 3, 6), k = Tensor.randn(rng, 2, 2, 7, 6), v = Tensor.randn(rng, 2, 2, 7, 6);
        double scale = Attention.defaultScale(6);
        Attention.Result cpu = Attention.forward(q, k, v, scale);
        Attention.Result dev = Attention.forward(on(backend, q), on(backend, k), on(backend, v), scale);
        assertClose("gqa out", dev.out(), cpu.out());
        assertClose("gqa lse", dev.lse(), cpu.lse());
        Tensor dout = Tensor.randn(rng, 2, 4, 3, 6);
        Attention.Grads cg = Attention.backward(dout, q, k, v, cpu.out(), cpu.lse(), scale);
        Attention.Grads dg = Attention.backward(on(backend, dout), on(backend, q), on(backend, k), on(backend, v), dev.out(),
                dev.lse(), scale);
        assertClose("gqa dq", dg.dq(), cg.dq());
        assertClose("gqa dk", dg.dk(), cg.dk());
        assertClose("gqa dv", dg.dv(), cg.dv());
    }

    private void checkPacked(CudaBackend backend, Tensor qkv, Tensor g, int heads, int kvHeads) {
        Variable cx = new Variable(qkv, true), dx = new Variable(on(backend, qkv), true);
        Variable cpu = cx.causalSelfAttention(heads, kvHeads), dev = dx.causalSelfAttention(heads, kvHeads);
        assertClose("packed attention out", dev.data(), cpu.data());
        cpu.backward(g);
        dev.backward(on(backend, g));
        assertClose("packed attention dqkv", dx.grad(), cx.grad());
    }

    /** A tiny GPT-2 and its AdamW, trained {@code steps} steps on fixed random tokens; returns the losses. */
    static double[] train(GPT2 model, Function<GPT2, Void> place, int steps) {
        place.apply(model);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", model.namedParameters(), 1, 0.01)), 1e-3);
        Rng rng = new Rng(42);
        int B = 2, T = 12, V = model.vocabSize();
        double[] losses = new double[steps];
        for (int s = 0; s < steps; s++) {
            int[] ids = new int[B * T], targets = new int[B * T];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = rng.nextInt(V);
                targets[i] = i % 7 == 3 ? -100 : rng.nextInt(V);
            }
            opt.zeroGrad();
            Variable loss = model.loss(Tensor.of(ids, B, T), Tensor.of(targets, B, T), -100);
            losses[s] = loss.data().item();
            loss.backward();
            opt.step();
        }
        return losses;
    }

    static GPT2 tinyModel() { return new GPT2(GPT2.Config.of(61, 32, 32, 2, 4), new Rng(3)); }

    @Test void aGpt2TrainingStepOnTheDeviceGivesTheCpusLosses() {
        CudaBackend backend = backend();
        double[] cpu = train(tinyModel(), m -> null, 4);
        GPT2 model = tinyModel();
        List<Parameter> params = new ArrayList<>(model.namedParameters().values());
        double[] dev = train(model, m -> {
            m.moveTo(backend);
            return null;
        }, 4);
        for (Parameter p : params) assertThat(p.data().isOnDevice()).as(p.name()).isTrue();
        for (int s = 0; s < cpu.length; s++) {
            assertThat(Math.abs(dev[s] - cpu[s]) / cpu[s]).as("step %d: cuda %s, cpu %s", s + 1, dev[s], cpu[s])
                    .isLessThanOrEqualTo(FP32);
        }
        model.moveTo(null);
        for (Parameter p : params) assertThat(p.data().isOnDevice()).as(p.name() + " back on the host").isFalse();
    }

    @Test void withTf32ProductsTheLossesStayWithinTf32Tolerance() {
        CudaBackend tf32 = new CudaBackend(device(), Precision.TF32, 0);
        double[] cpu = train(tinyModel(), m -> null, 3);
        double[] dev = train(tinyModel(), m -> {
            m.moveTo(tf32);
            return null;
        }, 3);
        for (int s = 0; s < cpu.length; s++) {
            assertThat(Math.abs(dev[s] - cpu[s]) / cpu[s]).as("step %d: cuda tf32 %s, cpu %s", s + 1, dev[s], cpu[s])
                    .isLessThanOrEqualTo(GpuChecks.tolerance(Precision.TF32));
        }
    }

    @Test void aLlamaTrainingStepOnTheDeviceGivesTheCpusLosses() {
        CudaBackend backend = backend();
        Llama.Config config = Llama.Config.of(53, 48, 64, 2, 4, 2, 32);   // grouped kv heads, untied head
        double[] cpu = trainLm(new Llama(config, new Rng(5)), null, 3);
        Llama model = new Llama(config, new Rng(5));
        double[] dev = trainLm(model, backend, 3);
        for (int s = 0; s < cpu.length; s++) {
            assertThat(Math.abs(dev[s] - cpu[s]) / cpu[s]).as("step %d: cuda %s, cpu %s", s + 1, dev[s], cpu[s])
                    .isLessThanOrEqualTo(FP32);
        }
    }

    /** {@code steps} AdamW steps of {@code model}, device-resident on {@code backend} when it is not null. */
    static double[] trainLm(CausalLM model, CudaBackend backend, int steps) {
        if (backend != null) model.moveTo(backend);
        AdamW opt = new AdamW(List.of(new ParamGroup("all", model.namedParameters(), 1, 0.01)), 1e-3);
        Rng rng = new Rng(43);
        int B = 2, T = 10, V = model.vocabSize();
        double[] losses = new double[steps];
        for (int s = 0; s < steps; s++) {
            int[] ids = new int[B * T];
            for (int i = 0; i < ids.length; i++) ids[i] = rng.nextInt(V);
            opt.zeroGrad();
            Variable loss = model.loss(Tensor.of(ids, B, T), -100);
            losses[s] = loss.data().item();
            loss.backward();
            GradClip.clipGradNorm(model.parameters(), 0.5);   // the global norm over device gradients, and the scaling
            opt.step();
        }
        return losses;
    }

    @Test void theGradientNormOfManyDeviceTensorsIsOneTransferAndTheSameSum() {
        CudaBackend backend = backend();
        Rng rng = new Rng(14);
        List<Tensor> grads = new ArrayList<>();
        double expected = 0;
        for (int n : new int[] {1, 300, 4099, 17}) {
            Tensor t = Tensor.randn(rng, n);
            grads.add(on(backend, t));
            expected += backend.sumOfSquares(grads.get(grads.size() - 1));
        }
        long down = device().downloadedBytes();
        assertThat(backend.sumOfSquares(grads)).isEqualTo(expected);
        assertThat(device().downloadedBytes() - down).as("one transfer of the partial sums").isLessThanOrEqualTo(8L * 64);
    }

    @Test void aResidentStepMovesOnlyIdsTargetsAndTheLossAcrossTheBus() {
        CudaBackend backend = backend();
        GPT2 model = tinyModel();
        train(model, m -> {
            m.moveTo(backend);
            return null;
        }, 1);   // the optimizer's state exists from here on
        long up = device().uploadedBytes(), down = device().downloadedBytes();
        train(model, m -> null, 1);
        int tokens = 2 * 12, rows = tokens;
        // ids for the two embeddings (token and position): forward, and grouped by id for the backward (at most 3 ints
        // per token); targets once; the row losses of the fused head come back once
        assertThat(device().uploadedBytes() - up).as("bytes uploaded in one step").isLessThanOrEqualTo(4L * (9 * tokens + 2) + 64);
        assertThat(device().downloadedBytes() - down).as("bytes downloaded in one step").isLessThanOrEqualTo(8L * rows + 64);
        MemoryLedger.collectGarbage();
    }

    @Test void aLoraAdapterMergesIntoADeviceWeightWhereItLives() {
        CudaBackend backend = backend();
        jlisa.nn.Layers.Linear cpu = new jlisa.nn.Layers.Linear(12, 7, true, new Rng(16), 0.2);
        jlisa.nn.Layers.Linear dev = new jlisa.nn.Layers.Linear(12, 7, true, new Rng(16), 0.2);
        for (var layer : List.of(cpu, dev)) {
            var lora = layer.enableLora(3, 6, 0, new Rng(17));
            lora.loraB().data().copyFrom(Tensor.randn(new Rng(18), 7, 3));
        }
        dev.moveTo(backend);
        cpu.lora().orElseThrow().merge();
        dev.lora().orElseThrow().merge();
        assertThat(dev.weight.data().isOnDevice()).as("still in device memory").isTrue();
        assertClose("merged weight", dev.weight.data(), cpu.weight.data());
    }

    @Test void anOpWithoutADeviceKernelFailsNamingIt() {
        CudaBackend backend = backend();
        Tensor x = on(backend, Tensor.ones(3, 4));
        assertThatThrownBy(() -> Softmax.softmax(x)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("cuda has no device kernel for softmax");
        assertThatThrownBy(() -> x.max(0)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("no device kernel for max");
        assertThatThrownBy(() -> Activations.geluErf(x)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("no device kernel for geluErf");
    }
}
