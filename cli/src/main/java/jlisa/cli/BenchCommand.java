package jlisa.cli;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import jlisa.bench.GemmTiming;
import jlisa.bench.GenerationTiming;
import jlisa.cli.demo.Progress;
import jlisa.gpu.CudaBackend;
import jlisa.gpu.GpuBenchmarks;
import jlisa.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code jlisa bench ...}: quick one-line measurements for side-by-side runs against reference libraries. */
@Command(name = "bench", description = "Quick benchmarks (JMH suites: java -jar bench/target/benchmarks.jar).",
        mixinStandardHelpOptions = true,
        subcommands = {BenchCommand.Gemm.class, BenchCommand.Memory.class, BenchCommand.Train.class, BenchCommand.Adamw.class,
                BenchCommand.Generate.class,
                LisaSweepCommand.class})
final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }

    @Command(name = "gemm", mixinStandardHelpOptions = true,
            description = "fp32 GEMM throughput, n × n · n × n, median GFLOP/s after warm-up; compare with "
                    + "../shared/baselines/gemm_once.py N THREADS. With --device cuda: cuBLAS on operands in device "
                    + "memory, in TFLOP/s, as gpu/torch_ref.py measures torch.mm.")
    static final class Gemm implements Callable<Integer> {
        @Mixin DeviceOptions devices = new DeviceOptions();

        @Option(names = "--n", defaultValue = "1024", description = "matrix size (default: ${DEFAULT-VALUE})")
        int n;

        @Option(names = "--layout", defaultValue = "NN", description = "NN, NT or TN (TT also works); default ${DEFAULT-VALUE}")
        String layout;

        @Option(names = "--threads", description = "compute threads (default: -Djlisa.threads, else all processors)")
        Integer threads;

        @Mixin JsonOut.Flag json = new JsonOut.Flag();

        @Override public Integer call() {
            String l = layout.toUpperCase(Locale.ROOT);
            if (!l.matches("NN|NT|TN|TT")) {
                throw new IllegalArgumentException("bench gemm: --layout must be NN, NT, TN or TT, got '" + layout + "'");
            }
            if (n < 1) throw new IllegalArgumentException("bench gemm: --n must be ≥ 1, got " + n);
            if (devices.backend() instanceof CudaBackend gpu) {
                double tflops = GpuBenchmarks.gemmTflops(gpu, n, l);
                if (json.on) {
                    JsonOut.print(JsonOut.object().put("n", n).put("layout", l).put("device", "cuda")
                            .put("precision", gpu.precision().label()).put("tflops", tflops));
                    return 0;
                }
                System.out.printf(Locale.ROOT, "gemm n=%d layout=%s device=cuda precision=%s tflops=%.1f%n", n, l,
                        gpu.precision().label(), tflops);
                return 0;
            }
            int t = threads == null ? Parallel.defaultThreads() : threads;
            if (t < 1) throw new IllegalArgumentException("bench gemm: --threads must be ≥ 1, got " + t);
            double g = GemmTiming.gflops(n, l, t);
            if (json.on) {
                JsonOut.print(JsonOut.object().put("n", n).put("layout", l).put("device", "cpu").put("threads", t).put("gflops", g));
                return 0;
            }
            System.out.printf(Locale.ROOT, "gemm n=%d layout=%s threads=%d gflops=%.1f%n", n, l, t, g);
            return 0;
        }
    }

    @Command(name = "memory", mixinStandardHelpOptions = true,
            description = "Peak bytes by ledger kind for full, LoRA (r=8, 128) and LISA (γ=1,2,4 × drop/park/keep), "
                    + "as a Markdown table.")
    static final class Memory implements Callable<Integer> {
        @Option(names = "--model", defaultValue = "llama-thin",
                description = "preset: llama-thin, llama-tiny, tiny, d6, gpt2-124M (default ${DEFAULT-VALUE})")
        String model;

        @Option(names = "--batch", defaultValue = "2", description = "sequences per step (default ${DEFAULT-VALUE})") int batch;

        @Option(names = "--seq", defaultValue = "64", description = "tokens per sequence (default ${DEFAULT-VALUE})") int seq;

        @Option(names = "--steps", defaultValue = "4",
                description = "steps per configuration, LISA redraws each step (default ${DEFAULT-VALUE})")
        int steps;

        @Mixin JsonOut.Flag json = new JsonOut.Flag();

        @Override public Integer call() {
            if (batch < 1 || seq < 1 || steps < 1) {
                throw new IllegalArgumentException("bench memory: --batch, --seq and --steps must be >= 1");
            }
            List<MemoryTable.Row> rows = MemoryTable.measure(model, batch, seq, steps);
            if (json.on) JsonOut.print(MemoryTable.json(model, batch, seq, steps, rows));
            else System.out.print(MemoryTable.markdown(model, batch, seq, steps, rows));
            return 0;
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Time GPT-2 training steps (zero grads, forward, cross-entropy, backward, AdamW lr 1e-4) on random "
                    + "tokens, the work of ../shared/baselines/torch_gpt2_step.py; ends with "
                    + "ms_per_step=<median> tokens_per_s=<B*T/median> peak_bytes=<ledger peak>. With --device cuda the model is "
                    + "device-resident (the whole step on the GPU) and the line adds the bytes the last step moved each way.")
    static final class Train implements Callable<Integer> {
        @Option(names = "--model", defaultValue = "tiny", description = "tiny, d6 or gpt2-124M (default ${DEFAULT-VALUE})")
        String model;

        @Option(names = "--batch", defaultValue = "16", description = "sequences per step (default ${DEFAULT-VALUE})") int batch;

        @Option(names = "--seq", defaultValue = "128", description = "tokens per sequence (default ${DEFAULT-VALUE})") int seq;

        @Option(names = "--steps", defaultValue = "10", description = "timed steps after --warmup (default ${DEFAULT-VALUE})")
        int steps;

        @Option(names = "--warmup", defaultValue = "2", description = "untimed steps first (default ${DEFAULT-VALUE})") int warmup;

        @Option(names = "--threads", description = "compute threads (default: all processors)") Integer threads;

        @Mixin DeviceOptions devices = new DeviceOptions();

        @Mixin JsonOut.Flag json = new JsonOut.Flag();

        @Override public Integer call() {
            try (var device = devices.activate()) {
                if (devices.backend() != null && !json.on) System.out.println("device: " + devices.describe());
                return time();
            }
        }

        private int time() {
            if (batch < 1 || seq < 1 || steps < 1 || warmup < 0) {
                throw new IllegalArgumentException("bench train: --batch, --seq and --steps must be >= 1 and --warmup >= 0");
            }
            int t = threads == null ? jlisa.tensor.Parallel.defaultThreads() : threads;
            double[] median = new double[1];
            long[] peak = new long[1], up = {-1}, down = {-1};
            jlisa.tensor.Parallel.withThreads(t, () -> {
                var cfg = jlisa.transformer.model.GPT2.Config.preset(model);
                if (seq > cfg.nPositions()) {
                    throw new IllegalArgumentException("bench train: --seq " + seq + " exceeds the model's " + cfg.nPositions()
                            + " positions");
                }
                var gpt = new jlisa.transformer.model.GPT2(cfg, new jlisa.tensor.Rng(0));
                CudaBackend gpu = devices.backend() instanceof CudaBackend c ? c : null;
                // on a GPU the model is device-resident: the whole step runs there, only the loss comes back
                if (gpu != null) gpt.moveTo(gpu);
                var opt = new jlisa.optim.AdamW(List.of(new jlisa.optim.ParamGroup("all", gpt.namedParameters(), 1, 0)), 1e-4);
                var rng = new jlisa.tensor.Rng(1);
                double[] ms = new double[steps];
                long upAt = 0, downAt = 0;
                jlisa.tensor.MemoryLedger.collectGarbage();
                jlisa.tensor.MemoryLedger.resetPeaks();
                long base = jlisa.tensor.MemoryLedger.liveTotal();
                // the bar is on stderr; a step line per step stays on stdout for the text output's readers
                try (Progress bar = Progress.start("bench train", warmup + steps, false)) {
                for (int s = 0; s < warmup + steps; s++) {
                    long t0 = System.nanoTime();
                    opt.zeroGrad();
                    int[] ids = new int[batch * seq], targets = new int[batch * seq];
                    for (int i = 0; i < ids.length; i++) {
                        ids[i] = rng.nextInt(cfg.vocabSize());
                        targets[i] = rng.nextInt(cfg.vocabSize());
                    }
                    double loss;
                    try (var allocations = jlisa.tensor.MemoryLedger.track();
                         var scope = jlisa.tensor.MemoryLedger.scope(jlisa.tensor.MemoryKind.ACTIVATION)) {
                        // forward, LM head and cross-entropy (fused: the logits are never held whole)
                        var l = gpt.loss(jlisa.tensor.Tensor.of(ids, batch, seq), jlisa.tensor.Tensor.of(targets, batch, seq), -100);
                        loss = l.data().item();
                        l.backward();
                        opt.step();
                        if (gpu != null) gpu.device().synchronize();   // the step's work is done when the clock stops
                        allocations.close();
                        allocations.releaseKinds(jlisa.tensor.MemoryKind.ACTIVATION, jlisa.tensor.MemoryKind.OTHER);
                    }
                    double took = (System.nanoTime() - t0) / 1e6;
                    if (s >= warmup) ms[s - warmup] = took;
                    if (gpu != null && s == warmup + steps - 1) {
                        up[0] = gpu.device().uploadedBytes() - upAt;
                        down[0] = gpu.device().downloadedBytes() - downAt;
                    }
                    if (gpu != null) {
                        upAt = gpu.device().uploadedBytes();
                        downAt = gpu.device().downloadedBytes();
                    }
                    if (!json.on) System.out.printf(Locale.ROOT, "step %d%s: %.1f ms (loss %.4f)%n", s + 1, s < warmup ? " (warm-up)" : "", took, loss);
                    bar.update(s + 1, loss, batch * seq / (took / 1000));
                }
                }
                java.util.Arrays.sort(ms);
                median[0] = steps % 2 == 1 ? ms[steps / 2] : (ms[steps / 2 - 1] + ms[steps / 2]) / 2;
                peak[0] = jlisa.tensor.MemoryLedger.peakTotal() - base + 4L * gpt.parameterCount();
            });
            if (json.on) {
                var o = JsonOut.object().put("model", model).put("batch", batch).put("seq", seq).put("steps", steps)
                        .put("warmup", warmup).put("threads", t).put("device", devices.backend() == null ? "cpu" : "cuda")
                        .put("ms_per_step", median[0]).put("tokens_per_s", batch * seq / (median[0] / 1000)).put("peak_bytes", peak[0]);
                if (devices.backend() != null) {
                    o.put("device_peak_bytes", jlisa.tensor.MemoryLedger.peakDeviceTotal()).put("step_upload_bytes", up[0])
                            .put("step_download_bytes", down[0]);
                }
                JsonOut.print(o);
                return 0;
            }
            System.out.printf(Locale.ROOT, "ms_per_step=%.1f tokens_per_s=%.1f peak_bytes=%d%s%n", median[0],
                    batch * seq / (median[0] / 1000), peak[0],
                    devices.backend() == null ? "" : " device_peak_bytes=" + jlisa.tensor.MemoryLedger.peakDeviceTotal()
                            + " resident=true step_upload_bytes=" + up[0] + " step_download_bytes=" + down[0]);
            return 0;
        }
    }

    @Command(name = "adamw", mixinStandardHelpOptions = true,
            description = "The AdamW update over --n parameters: median ms and effective TB/s, counting the seven float "
                    + "streams it moves (read p, g, m, v; write p, m, v). On the CPU: the SIMD kernel on all threads; "
                    + "with --device cuda: the fused NVRTC kernel on tensors in device memory.")
    static final class Adamw implements Callable<Integer> {
        @Option(names = "--n", defaultValue = "67108864", description = "parameters (default: ${DEFAULT-VALUE})") long n;

        @Mixin DeviceOptions devices = new DeviceOptions();

        @Mixin JsonOut.Flag json = new JsonOut.Flag();

        @Override public Integer call() {
            if (n < 1 || n > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("bench adamw: --n must be in [1, " + (Integer.MAX_VALUE - 8) + "], got " + n);
            }
            double seconds, tbs;
            if (devices.backend() instanceof CudaBackend gpu) {
                tbs = GpuBenchmarks.adamwTerabytesPerSecond(gpu, n);
                seconds = GpuBenchmarks.adamwBytes(n) / tbs / 1e12;
            } else {
                int size = (int) n;
                float[] p = new float[size], g = new float[size], m = new float[size], v = new float[size];
                java.util.Arrays.fill(g, 0.01f);
                seconds = GpuBenchmarks.medianSeconds(() -> jlisa.optim.AdamW.update(p, 0, g, 0, m, v, size, 1e-4f, 0.9f,
                        0.999f, 1e-8f, 0.01f, 1e-3f, 0.03f), () -> { });
                tbs = GpuBenchmarks.adamwBytes(n) / seconds / 1e12;
            }
            if (json.on) {
                JsonOut.print(JsonOut.object().put("n", n).put("device", devices.backend() == null ? "cpu" : "cuda")
                        .put("ms", seconds * 1e3).put("tb_per_s", tbs));
                return 0;
            }
            System.out.printf(Locale.ROOT, "adamw n=%d device=%s ms=%.3f tb_per_s=%.3f%n", n,
                    devices.backend() == null ? "cpu" : "cuda", seconds * 1e3, tbs);
            return 0;
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = {"Greedy generation from a model directory: prefill and decode tokens per second (median of the "
                    + "rounds after the first), beside the bandwidth floor of decoding measured on this machine (read "
                    + "bandwidth over the weight bytes a token reads) and the process's resident memory against the "
                    + "weights' size. bench/vs-jlama.sh runs it beside Jlama on the same directory.",
                    "The prompt is token ids, not text (id i = 1 + 7919·i mod (vocab − 1)), so no tokenizer is needed."})
    static final class Generate implements Callable<Integer> {
        @Option(names = "--model", required = true, description = "Hugging Face model directory (required)")
        java.nio.file.Path model;

        @Option(names = "--prompt-tokens", defaultValue = "64", description = "prompt length (default: ${DEFAULT-VALUE})")
        int promptTokens;

        @Option(names = "--new-tokens", defaultValue = "32", description = "decode steps per round (default: ${DEFAULT-VALUE})")
        int newTokens;

        @Option(names = "--threads", split = ",", description = "compute threads, a comma-separated list to run each "
                + "(default: -Djlisa.threads, else all processors)")
        List<Integer> threads;

        @Option(names = "--rounds", defaultValue = "4", description = "rounds per thread count, the first is warm-up "
                + "(default: ${DEFAULT-VALUE})")
        int rounds;

        @Option(names = "--random", description = "first write a random-weight model of this shape to --model, when it "
                + "has no config.json yet: smollm-135m (SmolLM-135M: 30 layers, 576 wide, tied 49152 vocab) or "
                + "tinyllama-8l (TinyLlama-1.1B with 8 of its 22 layers: 2048 wide, 32000 vocab); that run's resident memory "
                + "includes writing it, so measure with the next run (default: none)")
        String random;

        @Option(names = "--dtype", defaultValue = "f32", description = "with --random: f32 or bf16 (default: ${DEFAULT-VALUE})")
        String dtype;

        @Mixin JsonOut.Flag json = new JsonOut.Flag();

        /** The shapes of the comparison with Jlama (bench/vs-jlama.sh): two of Llama's presets. */
        static jlisa.transformer.model.Llama.Config shape(String name) {
            if (!name.equals("smollm-135m") && !name.equals("tinyllama-8l")) {
                throw new IllegalArgumentException("bench generate: --random must be smollm-135m or tinyllama-8l, got '" + name + "'");
            }
            return jlisa.transformer.model.Llama.Config.preset(name);
        }

        private void writeRandom() throws java.io.IOException {
            jlisa.tensor.DType type = switch (dtype.toLowerCase(Locale.ROOT)) {
                case "f32" -> jlisa.tensor.DType.F32;
                case "bf16" -> jlisa.tensor.DType.BF16;
                default -> throw new IllegalArgumentException("bench generate: --dtype must be f32 or bf16, got '" + dtype + "'");
            };
            jlisa.transformer.model.Llama.Config config = shape(random);
            if (java.nio.file.Files.exists(model.resolve("config.json"))) return;
            System.err.println("bench generate: writing a random " + random + " (" + type + ") to " + model);
            try (var m = new jlisa.transformer.model.Llama(config, new jlisa.tensor.Rng(1))) {
                jlisa.transformer.model.Models.save(m, model, type);
            }
        }

        @Override public Integer call() throws java.io.IOException {
            if (random != null) writeRandom();
            if (promptTokens < 1 || newTokens < 1 || rounds < 2) {
                throw new IllegalArgumentException("bench generate: --prompt-tokens and --new-tokens must be ≥ 1 and "
                        + "--rounds ≥ 2 (the first is warm-up)");
            }
            List<Integer> counts = threads == null ? List.of(Parallel.defaultThreads()) : threads;
            for (int t : counts) if (t < 1) throw new IllegalArgumentException("bench generate: --threads must be ≥ 1, got " + t);
            try (jlisa.transformer.model.CausalLM m = jlisa.transformer.model.Models.load(model)) {
                if (promptTokens + newTokens > m.maxPositions()) {
                    throw new IllegalArgumentException("bench generate: " + promptTokens + " + " + newTokens
                            + " tokens exceed the model's " + m.maxPositions() + " positions");
                }
                String stored = m.checkpointDType().toString();
                long weights = m.weightBytes(), perToken = m.weightBytesPerToken();
                List<com.fasterxml.jackson.databind.node.ObjectNode> runs = new java.util.ArrayList<>();
                for (int t : counts) {
                    List<GenerationTiming.Round> all = GenerationTiming.rounds(m, promptTokens, newTokens, t, rounds);
                    List<GenerationTiming.Round> timed = all.subList(1, all.size());
                    double prefill = GenerationTiming.median(timed.stream().mapToDouble(GenerationTiming.Round::prefillTokensPerSecond).toArray());
                    double decode = GenerationTiming.median(timed.stream().mapToDouble(GenerationTiming.Round::decodeTokensPerSecond).toArray());
                    var o = JsonOut.object().put("threads", t).put("prefill_tok_s", prefill).put("decode_tok_s", decode);
                    o.putPOJO("tokens", all.get(0).tokens());
                    runs.add(o);
                }
                long[] rss = GenerationTiming.residentBytes();   // before the bandwidth probe's array
                for (var o : runs) {
                    double bandwidth = GenerationTiming.readBandwidth(o.get("threads").asInt());
                    double floor = bandwidth / perToken;
                    o.put("read_gb_s", bandwidth / 1e9).put("floor_tok_s", floor)
                            .put("of_floor", o.get("decode_tok_s").asDouble() / floor);
                }
                var doc = JsonOut.object().put("engine", "jlisa").put("model", model.toString()).put("dtype", stored)
                        .put("prompt_tokens", promptTokens).put("new_tokens", newTokens)
                        .put("weight_bytes", weights).put("weight_bytes_per_token", perToken)
                        .put("rss_bytes", rss[0]).put("peak_rss_bytes", rss[1])
                        .put("peak_rss_of_weights", rss[1] < 0 ? Double.NaN : (double) rss[1] / weights);
                doc.putArray("runs").addAll(runs);
                if (json.on) {
                    JsonOut.print(doc);
                    return 0;
                }
                System.out.printf(Locale.ROOT, "generate model=%s dtype=%s prompt=%d new=%d weights=%.1fMB per_token=%.1fMB "
                        + "peak_rss=%.1fMB (%.2f× the weights)%n", model, stored, promptTokens, newTokens, weights / 1e6,
                        perToken / 1e6, rss[1] / 1e6, (double) rss[1] / weights);
                for (var o : runs) {
                    System.out.printf(Locale.ROOT, "  threads=%d prefill_tok_s=%.1f decode_tok_s=%.2f floor_tok_s=%.2f "
                            + "of_floor=%.0f%% read_gb_s=%.1f%n", o.get("threads").asInt(), o.get("prefill_tok_s").asDouble(),
                            o.get("decode_tok_s").asDouble(), o.get("floor_tok_s").asDouble(),
                            100 * o.get("of_floor").asDouble(), o.get("read_gb_s").asDouble());
                }
                return 0;
            }
        }
    }
}
