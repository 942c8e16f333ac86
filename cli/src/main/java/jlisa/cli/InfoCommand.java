package jlisa.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import jdk.incubator.vector.FloatVector;
import jlisa.autograd.Parameter;
import jlisa.gpu.Cuda;
import jlisa.gpu.CudaDevice;
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

    @Option(names = "--lora-r", defaultValue = "8") int loraR;

    @Option(names = "--lisa-gamma", defaultValue = "2") int lisaGamma;

    @Option(names = "--device", description = "look for a CUDA GPU: its name, memory, compute capability, driver, cuBLAS "
            + "and NVRTC versions and where each library was found, or why there is none")
    boolean device;

    @Override public Integer call() {
        System.out.println("java      " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")");
        System.out.println("simd      " + FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit, "
                + FloatVector.SPECIES_PREFERRED.length() + " floats per vector");
        System.out.println("threads   " + Parallel.defaultThreads() + " (set with -Djlisa.threads or JLISA_THREADS)");
        System.out.println("max heap  " + Runtime.getRuntime().maxMemory() / (1024 * 1024) + " MiB");
        if (device) printDevice();
        else System.out.println("gpu       not looked for (jlisa info --device)");
        if (model == null) return 0;
        try (CausalLM lm = Models.load(model)) {
            Map<String, Object> cfg = lm.configJson();
            System.out.println();
            System.out.println("model     " + model + ": " + cfg.get("model_type") + ", " + lm.numLayers() + " layers, vocabulary "
                    + lm.vocabSize() + ", up to " + lm.maxPositions() + " positions");
            System.out.println("config    " + cfg);
            long params = lm.parameterCount();
            System.out.printf(Locale.ROOT, "params    %,d (%.1f MiB as F32)%n", params, mib(4 * params));
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
            System.out.println("memory    gradients + AdamW moments (F32), on top of the weights and activations:");
            row("full", params, 0);
            row("lora r=" + loraR, lora, 4 * lora);
            row("lisa γ=" + lisaGamma, alwaysOn + largestLayer, 0);
        }
        return 0;
    }

    private static void printDevice() {
        switch (Cuda.availability()) {
            case Cuda.Unavailable u -> System.out.println("gpu       none: " + u.reason());
            case Cuda.Available a -> {
                CudaDevice d = a.device();
                long[] memory = d.memoryInfo();
                System.out.println("gpu       " + d.name);
                System.out.printf(Locale.ROOT, "memory    %.1f GiB, %.1f GiB free%n", memory[1] / (double) (1L << 30),
                        memory[0] / (double) (1L << 30));
                System.out.println("compute   " + d.computeMajor + "." + d.computeMinor + " (kernels compiled for compute_"
                        + d.kernelArchitecture + ")");
                System.out.println("versions  driver CUDA " + d.driverVersionText() + ", cuBLAS " + d.cublasVersionText()
                        + ", NVRTC " + d.nvrtcVersionText());
                System.out.println("libraries " + d.libraries());
            }
        }
    }

    private static void row(String method, long trainable, long extraWeights) {
        System.out.printf(Locale.ROOT, "  %-10s %,14d trainable -> %9.1f MiB%s%n", method, trainable, mib(12 * trainable),
                extraWeights == 0 ? "" : String.format(Locale.ROOT, " (+%.1f MiB adapter weights)", mib(extraWeights)));
    }

    private static long count(Map<String, Parameter> ps) {
        long n = 0;
        for (Parameter p : ps.values()) n += p.data().numel();
        return n;
    }

    private static double mib(long b) { return b / (1024.0 * 1024.0); }
}
