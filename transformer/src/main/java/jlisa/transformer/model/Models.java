package jlisa.transformer.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;
import jlisa.transformer.io.SafeTensors;
import jlisa.transformer.io.SafeTensorsDType;
import jlisa.transformer.io.TensorSource;

/**
 * Loads and saves Hugging Face model directories (config.json + safetensors). A loaded model has its own
 * {@linkplain CausalLM#memory() ledger account}, named after its directory. Stateless and thread-safe: any thread
 * may load or save (distinct models, or one model no thread is changing).
 */
public final class Models {
    private Models() {}

    /**
     * Reads {@code dir/config.json}, builds the model it describes, and points its parameters at the
     * checkpoint's tensors (F32 and BF16 without a copy: the file stays mapped until the model is closed; BF16
     * weights are widened to F32 as the kernels read them, F16 ones widen on load). The model remembers the
     * checkpoint's dtype ({@link CausalLM#checkpointDType()}) for {@link #save(CausalLM, Path)}.
     * Missing or unexpected tensor names are an error that lists them. The model's account counts its weights;
     * {@link CausalLM#close()} gives them back.
     */
    public static CausalLM load(Path dir) {
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new IllegalArgumentException(dir + ": no config.json (expected a Hugging Face model directory)");
        }
        ConfigJson cfg = ConfigJson.read(configFile);
        String type = cfg.string("model_type", null);
        if (type == null) throw new IllegalArgumentException(configFile + ": config field 'model_type' is missing");
        String name = dir.toString();
        // placeholders: the parameters hold no memory until the checkpoint's tensors replace them below
        CausalLM model = jlisa.nn.Module.placeholders(() -> switch (type) {
            case "gpt2" -> new GPT2(GPT2.Config.from(cfg), null, name);
            case "gemma3" -> throw new IllegalArgumentException(configFile + ": model_type 'gemma3' is the multimodal "
                    + "Gemma-3 (a vision tower beside the text model); only its text model, model_type gemma3_text, loads");
            case String t when LlamaVariant.TYPES.contains(t) -> new Llama(Llama.Config.from(cfg), null, name);
            default -> throw new IllegalArgumentException(configFile + ": model_type '" + type
                    + "' is not supported (gpt2, " + String.join(", ", LlamaVariant.TYPES) + ")");
        });
        TensorSource source;
        try {
            source = SafeTensors.openModel(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot open the checkpoint: " + e.getMessage(), e);
        }
        try (var charge = model.memory().charge()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            boolean allBf16 = true, anyFloat = false;
            for (String tensorName : source.names()) {
                String key = canonicalName(model, tensorName);
                if (key == null) continue;
                SafeTensorsDType fileType = source.info(tensorName).dtype();
                if (fileType.loadsAs() == DType.F32 || fileType.loadsAs() == DType.BF16 || fileType.loadsAs() == DType.F64) {
                    anyFloat = true;
                    allBf16 &= fileType == SafeTensorsDType.BF16;
                }
                tensors.put(key, source.tensor(tensorName, MemoryKind.PARAMETER));
            }
            model.loadStateDict(tensors, true);
            model.checkpointDType(anyFloat && allBf16 ? DType.BF16 : DType.F32);
            model.attachWeights(source);
            model.eval();
            return model;
        } catch (RuntimeException e) {
            source.close();
            model.close();   // its placeholder parameters
            throw e;
        }
    }

    /**
     * Writes {@code dir/config.json} and {@code dir/model.safetensors} in Hugging Face's layout, in the model's
     * {@linkplain CausalLM#checkpointDType() checkpoint dtype} (BF16 for a model loaded from BF16, else F32): see
     * {@link #save(CausalLM, Path, DType)}.
     */
    public static void save(CausalLM model, Path dir) throws IOException {
        save(model, dir, model.checkpointDType());
    }

    /**
     * Writes {@code dir/config.json} and {@code dir/model.safetensors} in Hugging Face's layout, so the
     * model loads back here and in HF transformers, with every floating-point tensor in {@code dtype} (F32 or
     * BF16; BF16 rounds to nearest even, bit for bit as PyTorch's {@code .to(torch.bfloat16)}) and config.json's
     * {@code torch_dtype} saying so. Each file goes to a temporary name first and is
     * renamed into place, so a crash never leaves a half-written checkpoint. A tied head is not written
     * (HF ties it again on load). LoRA adapters that were {@linkplain jlisa.transformer.lora.Lora#merge merged} are
     * left out, as PEFT's {@code merge_and_unload} does, so the directory is a plain model; unmerged adapters are an
     * error (they belong in {@link jlisa.transformer.lora.Lora#save}). Converting to BF16 holds a BF16 copy of
     * each converted tensor until the file is written (half the F32 size of the model).
     */
    public static void save(CausalLM model, Path dir, DType dtype) throws IOException {
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("save " + dir + ": dtype must be F32 or BF16, got " + dtype);
        }
        Map<String, Tensor> tensors = new java.util.TreeMap<>(model.stateDict());
        var adapters = jlisa.transformer.lora.Lora.adapters(model);
        if (!adapters.isEmpty()) {
            long unmerged = adapters.values().stream().filter(a -> !a.isMerged()).count();
            if (unmerged > 0) {
                throw new IllegalStateException("save: the model has " + unmerged + " unmerged LoRA adapters; write them "
                        + "with Lora.save(model, dir, base), or Lora.merge(model) first to save a plain model");
            }
            tensors.keySet().removeAll(jlisa.transformer.lora.Lora.adapterParameters(model).keySet());
        }
        Map<String, Object> config = new LinkedHashMap<>(model.configJson());
        config.put("torch_dtype", dtype == DType.BF16 ? "bfloat16" : "float32");
        Files.createDirectories(dir);
        java.util.List<Tensor> converted = new java.util.ArrayList<>();
        try {
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                Tensor t = e.getValue();
                if (t.dtype() == dtype || t.dtype() == DType.I32) continue;
                Tensor c = t.to(dtype);
                converted.add(c);
                e.setValue(c);
            }
            jlisa.transformer.io.AtomicFiles.write(dir.resolve("config.json"), new com.fasterxml.jackson.databind.ObjectMapper()
                    .writerWithDefaultPrettyPrinter().writeValueAsBytes(config));
            SafeTensors.write(dir.resolve(SafeTensors.MODEL_FILE), tensors, Map.of("format", "pt"));
        } finally {
            for (Tensor c : converted) c.storage().release();
        }
    }

    /** The tokenizer and generation files a model directory may hold beside its config and weights. */
    public static final java.util.List<String> AUXILIARY_FILES = java.util.List.of(
            "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json");

    /**
     * Copies those of {@link #AUXILIARY_FILES} that {@code from} holds into {@code to} (created if needed), each
     * written atomically, so a directory written by {@link #save} loads back with its tokenizer and generation
     * defaults. Returns the names copied. Safe to call from any thread for distinct targets.
     */
    public static java.util.List<String> copyAuxiliaryFiles(Path from, Path to) throws IOException {
        java.util.List<String> copied = new java.util.ArrayList<>();
        Files.createDirectories(to);
        for (String name : AUXILIARY_FILES) {
            Path source = from.resolve(name);
            if (!Files.isRegularFile(source)) continue;
            jlisa.transformer.io.AtomicFiles.write(to.resolve(name), Files.readAllBytes(source));
            copied.add(name);
        }
        return copied;
    }

    /**
     * The model's name for a checkpoint tensor, or null for tensors that carry nothing to load:
     * GPT-2's causal-mask buffers and a head tied to the embedding. GPT-2 files saved from GPT2Model
     * lack the "transformer." prefix that GPT2LMHeadModel's have; both load.
     */
    static String canonicalName(CausalLM model, String name) {
        if (model instanceof GPT2) {
            if (name.endsWith(".attn.bias") || name.endsWith(".attn.masked_bias") || name.equals("lm_head.weight")) return null;
            return name.startsWith("transformer.") ? name : "transformer." + name;
        }
        if (model instanceof Llama l && l.config().tieWordEmbeddings() && name.equals("lm_head.weight")) return null;
        if (name.endsWith(".rotary_emb.inv_freq")) return null;    // a buffer some older LLaMA checkpoints saved
        return name;
    }
}
