package jlisa.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jdk.incubator.vector.FloatVector;
import jlisa.autograd.Parameter;
import jlisa.gpu.Cuda;
import jlisa.gpu.CudaDevice;
import jlisa.tensor.GemmPlan;
import jlisa.tensor.Parallel;
import jlisa.transformer.lora.Lora;
import jlisa.transformer.lora.LoraConfig;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.GPT2;
import jlisa.transformer.model.Models;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jlisa info}: this machine as jlisa sees it, or a model directory and what each method would need. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show the JVM, SIMD width and threads; with --device, the GPU; with --model, the model's architecture, "
                + "parameter count and the gradient + AdamW memory full fine-tuning, LoRA and LISA would need.")
final class InfoCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--model", description = "a Hugging Face model directory") Path model;

    @Option(names = "--lora-r", defaultValue = "8", description = "LoRA rank for the memory estimate (default ${DEFAULT-VALUE})")
    int loraR;

    @Option(names = "--lisa-gamma", defaultValue = "2",
            description = "LISA's active layers γ for the memory estimate (default ${DEFAULT-VALUE})")
    int lisaGamma;

    @Option(names = "--device", description = "look for a CUDA GPU: its name, memory, compute capability, driver, cuBLAS "
            + "and NVRTC versions and where each library was found, or why there is none")
    boolean device;

    @Option(names = "--json", description = "print one JSON object with the same figures instead of the text")
    boolean json;

    @Override public Integer call() throws java.io.IOException {
        ObjectNode info = JsonOut.object();
        ObjectNode jvm = info.putObject("machine");
        jvm.put("java", Runtime.version().toString()).put("vendor", System.getProperty("java.vendor"))
                .put("simd_bits", FloatVector.SPECIES_PREFERRED.vectorBitSize())
                .put("simd_floats", FloatVector.SPECIES_PREFERRED.length())
                .put("gemm", GemmPlan.CHOSEN.describe())
                .put("threads", Parallel.defaultThreads())
                .put("max_heap_mib", Runtime.getRuntime().maxMemory() / (1024 * 1024));
        if (device) info.set("gpu", gpu());
        if (model != null) info.set("model", describeModel());
        if (json) JsonOut.print(info);
        else printText(info);
        return 0;
    }

    /** The model's architecture and the gradient + AdamW bytes (F32) each method would add. */
    private ObjectNode describeModel() throws java.io.IOException {
        ObjectNode o = JsonOut.object();
        try (CausalLM lm = Models.load(model)) {
            Map<String, Object> cfg = lm.configJson();
            o.put("directory", model.toString()).put("model_type", String.valueOf(cfg.get("model_type")))
                    .put("layers", lm.numLayers()).put("vocab_size", lm.vocabSize()).put("max_positions", lm.maxPositions());
            o.set("config", new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(cfg));
            long params = lm.parameterCount();
            o.put("parameters", params);
            Map<String, Map<String, Parameter>> groups = lm.layerGroups();
            long alwaysOn = 0, largestLayer = 0;
            List<Long> layers = new ArrayList<>();
            for (var e : groups.entrySet()) {
                long n = count(e.getValue());
                if (e.getKey().startsWith("layer.")) layers.add(n);
                else alwaysOn += n;
            }
            layers.sort(java.util.Comparator.reverseOrder());
            for (int i = 0; i < Math.min(lisaGamma, layers.size()); i++) largestLayer += layers.get(i);
            List<String> targets = lm instanceof GPT2 ? List.of("c_attn", "attn.c_proj", "c_fc", "mlp.c_proj")
                    : List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
            long lora = count(Lora.apply(lm, LoraConfig.of(loraR, 2.0 * loraR, targets.toArray(String[]::new))));
            var methods = o.putArray("methods");
            methods.add(method("full", params, 0));
            methods.add(method("lora r=" + loraR, lora, 4 * lora));
            methods.add(method("lisa γ=" + lisaGamma, alwaysOn + largestLayer, 0));
        }
        return o;
    }

    private static ObjectNode method(String name, long trainable, long adapterBytes) {
        return JsonOut.object().put("method", name).put("trainable", trainable)
                .put("grad_and_adamw_bytes", 12 * trainable).put("adapter_bytes", adapterBytes);
    }

    private static ObjectNode gpu() {
        ObjectNode o = JsonOut.object();
        switch (Cuda.availability()) {
            case Cuda.Unavailable u -> o.put("available", false).put("reason", u.reason());
            case Cuda.Available a -> {
                CudaDevice d = a.device();
                long[] memory = d.memoryInfo();
                o.put("available", true).put("name", d.name).put("memory_bytes", memory[1]).put("free_bytes", memory[0])
                        .put("compute", d.computeMajor + "." + d.computeMinor).put("kernel_arch", "compute_" + d.kernelArchitecture)
                        .put("driver_cuda", d.driverVersionText()).put("cublas", d.cublasVersionText())
                        .put("nvrtc", d.nvrtcVersionText()).put("libraries", String.valueOf(d.libraries()));
            }
        }
        return o;
    }

    private static void printText(ObjectNode info) {
        JsonNode m = info.get("machine");
        System.out.println("java      " + m.get("java").asText() + " (" + m.get("vendor").asText() + ")");
        System.out.println("simd      " + m.get("simd_bits").asInt() + "-bit, " + m.get("simd_floats").asInt() + " floats per vector");
        System.out.println("gemm      " + m.get("gemm").asText());
        System.out.println("threads   " + m.get("threads").asInt() + " (set with -Djlisa.threads or JLISA_THREADS)");
        System.out.println("max heap  " + m.get("max_heap_mib").asLong() + " MiB");
        JsonNode g = info.get("gpu");
        if (g == null) System.out.println("gpu       not looked for (jlisa info --device)");
        else if (!g.get("available").asBoolean()) System.out.println("gpu       none: " + g.get("reason").asText());
        else {
            System.out.println("gpu       " + g.get("name").asText());
            System.out.printf(Locale.ROOT, "memory    %.1f GiB, %.1f GiB free%n", g.get("memory_bytes").asLong() / (double) (1L << 30),
                    g.get("free_bytes").asLong() / (double) (1L << 30));
            System.out.println("compute   " + g.get("compute").asText() + " (kernels compiled for " + g.get("kernel_arch").asText() + ")");
            System.out.println("versions  driver CUDA " + g.get("driver_cuda").asText() + ", cuBLAS " + g.get("cublas").asText()
                    + ", NVRTC " + g.get("nvrtc").asText());
            System.out.println("libraries " + g.get("libraries").asText());
        }
        JsonNode md = info.get("model");
        if (md == null) return;
        System.out.println();
        System.out.println("model     " + md.get("directory").asText() + ": " + md.get("model_type").asText() + ", "
                + md.get("layers").asInt() + " layers, vocabulary " + md.get("vocab_size").asInt() + ", up to "
                + md.get("max_positions").asInt() + " positions");
        System.out.println("config    " + md.get("config"));
        long params = md.get("parameters").asLong();
        System.out.printf(Locale.ROOT, "params    %,d (%.1f MiB as F32)%n", params, mib(4 * params));
        System.out.println("memory    gradients + AdamW moments (F32), on top of the weights and activations:");
        for (JsonNode r : md.get("methods")) {
            long extra = r.get("adapter_bytes").asLong();
            System.out.printf(Locale.ROOT, "  %-10s %,14d trainable -> %9.1f MiB%s%n", r.get("method").asText(), r.get("trainable").asLong(),
                    mib(r.get("grad_and_adamw_bytes").asLong()),
                    extra == 0 ? "" : String.format(Locale.ROOT, " (+%.1f MiB adapter weights)", mib(extra)));
        }
    }

    private static long count(Map<String, Parameter> ps) {
        long n = 0;
        for (Parameter p : ps.values()) n += p.data().numel();
        return n;
    }

    private static double mib(long b) { return b / (1024.0 * 1024.0); }
}
