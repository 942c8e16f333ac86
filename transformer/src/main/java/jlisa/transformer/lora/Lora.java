package jlisa.transformer.lora;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import jlisa.autograd.Parameter;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Rng;
import jlisa.tensor.Shapes;
import jlisa.transformer.io.AtomicFiles;
import jlisa.transformer.io.SafeTensors;
import jlisa.transformer.io.SafeTensorsFile;
import jlisa.nn.Layers.Conv1D;
import jlisa.nn.Layers.Linear;
import jlisa.nn.Layers.LoraAdapter;
import jlisa.nn.Module;

/**
 * LoRA fine-tuning as Hugging Face PEFT does it: {@link #apply} puts a low-rank adapter on every
 * Linear / Conv1D whose path matches the config's target_modules, freezes the base model and leaves
 * only {@code lora_A} / {@code lora_B} trainable; {@link #merge} folds the adapters into the base
 * weights; {@link #save} / {@link #load} read and write PEFT's adapter directory
 * ({@value #CONFIG_FILE} + {@value #ADAPTER_FILE}, tensors named
 * {@code base_model.model.<layer path>.lora_A.weight}), so adapters move between jlisa and PEFT.
 *
 * <p>Not thread-safe: it changes the model's modules, which belong to one thread.
 */
public final class Lora {
    /** PEFT's adapter weights file. */
    public static final String ADAPTER_FILE = "adapter_model.safetensors";
    /** PEFT's adapter config file. */
    public static final String CONFIG_FILE = "adapter_config.json";
    /** The prefix PEFT's PeftModelForCausalLM puts before the base model's parameter names. */
    public static final String PREFIX = "base_model.model.";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Lora() {}

    /**
     * Adds adapters as {@code cfg} says, freezes every base parameter and returns the adapter
     * parameters (the only trainable ones) by dotted name. Throws, listing the layer names that
     * exist, when no layer matches; throws when the model already has adapters.
     */
    public static Map<String, Parameter> apply(Module model, LoraConfig cfg) {
        Map<String, LoraAdapter> existing = adapters(model);
        if (!existing.isEmpty()) {
            throw new IllegalStateException("LoRA: the model already has adapters on " + existing.size() + " layers (e.g. "
                    + existing.keySet().iterator().next() + ")");
        }
        Map<String, Module> targets = matching(model, cfg);
        model.requiresGrad(false);
        Rng rng = new Rng(cfg.seed());
        for (Module layer : targets.values()) {
            switch (layer) {
                case Linear l -> l.enableLora(cfg.r(), cfg.alpha(), cfg.dropout(), rng);
                case Conv1D c -> c.enableLora(cfg.r(), cfg.alpha(), cfg.dropout(), rng);
                default -> throw new IllegalStateException("not an adaptable layer: " + layer.getClass().getSimpleName());
            }
        }
        Map<String, Parameter> params = adapterParameters(model);
        for (Parameter p : params.values()) p.requiresGrad(true);
        return params;
    }

    /** The model's adapters by layer path, in model order (empty when it has none). */
    public static Map<String, LoraAdapter> adapters(Module model) {
        Map<String, LoraAdapter> out = new LinkedHashMap<>();
        layers(model).forEach((path, layer) -> {
            LoraAdapter a = adapterOf(layer);
            if (a != null) out.put(path, a);
        });
        return out;
    }

    /** The adapter parameters by their dotted names ({@code <layer>.lora_A.weight}, {@code <layer>.lora_B.weight}). */
    public static Map<String, Parameter> adapterParameters(Module model) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        adapters(model).forEach((path, a) -> {
            out.put(path + ".lora_A.weight", a.loraA());
            out.put(path + ".lora_B.weight", a.loraB());
        });
        return out;
    }

    /** Folds every adapter into its base weight (W += scaling · B·A); forward then costs what the base model does. */
    public static void merge(Module model) {
        Map<String, LoraAdapter> all = requireAdapters(model, "merge");
        for (LoraAdapter a : all.values()) if (!a.isMerged()) a.merge();
    }

    /** Takes every merged adapter back out of its base weight. */
    public static void unmerge(Module model) {
        Map<String, LoraAdapter> all = requireAdapters(model, "unmerge");
        for (LoraAdapter a : all.values()) if (a.isMerged()) a.unmerge();
    }

    // ---------------------------------------------------------------- save / load

    /**
     * Writes the adapters alone in PEFT's layout: {@code dir/}{@value #ADAPTER_FILE} and
     * {@code dir/}{@value #CONFIG_FILE}, each through a temporary file renamed atomically over the
     * old one. target_modules are the shortest path suffixes that select exactly the adapted layers.
     * {@code inference_mode} is true when no adapter parameter requires a gradient.
     */
    public static void save(Module model, Path dir, String baseModelNameOrPath) throws IOException {
        Map<String, LoraAdapter> all = requireAdapters(model, "save");
        LoraAdapter first = all.values().iterator().next();
        for (Map.Entry<String, LoraAdapter> e : all.entrySet()) {
            LoraAdapter a = e.getValue();
            if (a.r != first.r || a.alpha != first.alpha || a.dropoutP != first.dropoutP) {
                throw new IllegalStateException("LoRA save: adapters differ (" + e.getKey() + " has r=" + a.r + ", alpha=" + a.alpha
                        + ", dropout=" + a.dropoutP + "; the first has r=" + first.r + ", alpha=" + first.alpha + ", dropout="
                        + first.dropoutP + "); PEFT's rank_pattern/alpha_pattern are not written");
            }
        }
        Map<String, jlisa.tensor.Tensor> tensors = new LinkedHashMap<>();
        boolean trainable = false, fanInFanOut = false;
        for (Map.Entry<String, LoraAdapter> e : all.entrySet()) {
            LoraAdapter a = e.getValue();
            tensors.put(PREFIX + e.getKey() + ".lora_A.weight", a.loraA().data());
            tensors.put(PREFIX + e.getKey() + ".lora_B.weight", a.loraB().data());
            trainable |= a.loraA().requiresGrad() || a.loraB().requiresGrad();
            fanInFanOut |= a.fanInFanOut;
        }
        Map<String, Object> cfg = new TreeMap<>();   // PEFT writes its keys sorted
        cfg.put("alpha_pattern", Map.of());
        cfg.put("auto_mapping", null);
        cfg.put("base_model_name_or_path", baseModelNameOrPath);
        cfg.put("bias", "none");
        cfg.put("fan_in_fan_out", fanInFanOut);
        cfg.put("inference_mode", !trainable);
        cfg.put("init_lora_weights", true);
        cfg.put("layers_pattern", null);
        cfg.put("layers_to_transform", null);
        cfg.put("lora_alpha", first.alpha == Math.rint(first.alpha) ? (Object) (long) first.alpha : (Object) first.alpha);
        cfg.put("lora_dropout", first.dropoutP);
        cfg.put("modules_to_save", null);
        cfg.put("peft_type", "LORA");
        cfg.put("r", first.r);
        cfg.put("rank_pattern", Map.of());
        cfg.put("revision", null);
        cfg.put("target_modules", targetModules(model, all.keySet()));
        cfg.put("task_type", "CAUSAL_LM");
        cfg.put("use_dora", false);
        cfg.put("use_rslora", false);

        Files.createDirectories(dir);
        SafeTensors.write(dir.resolve(ADAPTER_FILE), tensors, Map.of("format", "pt"));
        AtomicFiles.write(dir.resolve(CONFIG_FILE), JSON.writeValueAsBytes(cfg));
    }

    /**
     * Reads {@code dir}'s {@value #CONFIG_FILE} (it must be LoRA without PEFT options jlisa lacks:
     * DoRA, rsLoRA, rank/alpha patterns, modules_to_save, bias other than "none"); r, lora_alpha,
     * lora_dropout and target_modules come back as a config with seed 0.
     */
    public static LoraConfig readConfig(Path dir) {
        Path file = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(dir + ": no " + CONFIG_FILE + " (expected a PEFT adapter directory)");
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not readable JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException(file + ": expected a JSON object");
        String type = root.path("peft_type").asText(null);
        if (!"LORA".equals(type)) throw new IllegalArgumentException(file + ": peft_type is " + root.get("peft_type") + ", expected \"LORA\"");
        if (!root.path("r").canConvertToInt() || !root.path("r").isIntegralNumber()) {
            throw new IllegalArgumentException(file + ": r must be an integer, got " + root.get("r"));
        }
        if (!root.path("lora_alpha").isNumber()) throw new IllegalArgumentException(file + ": lora_alpha must be a number, got " + root.get("lora_alpha"));
        JsonNode dropout = root.path("lora_dropout");
        if (!dropout.isMissingNode() && !dropout.isNull() && !dropout.isNumber()) {
            throw new IllegalArgumentException(file + ": lora_dropout must be a number, got " + dropout);
        }
        JsonNode targets = root.path("target_modules");
        if (targets.isTextual()) {
            throw new IllegalArgumentException(file + ": target_modules is a regular expression (" + targets
                    + "); only a list of module names is supported");
        }
        if (!targets.isArray()) throw new IllegalArgumentException(file + ": target_modules must be a list of names, got " + targets);
        List<String> names = new ArrayList<>();
        for (JsonNode t : targets) {
            if (!t.isTextual()) throw new IllegalArgumentException(file + ": target_modules must hold strings, got " + t);
            names.add(t.asText());
        }
        unsupported(file, root, "use_dora", n -> n.asBoolean(false));
        unsupported(file, root, "use_rslora", n -> n.asBoolean(false));
        unsupported(file, root, "rank_pattern", n -> n.isObject() && !n.isEmpty());
        unsupported(file, root, "alpha_pattern", n -> n.isObject() && !n.isEmpty());
        unsupported(file, root, "modules_to_save", n -> n.isArray() && !n.isEmpty());
        unsupported(file, root, "layers_to_transform", n -> !n.isNull());
        unsupported(file, root, "bias", n -> !n.asText("").equals("none"));
        try {
            return new LoraConfig(root.get("r").intValue(), root.get("lora_alpha").doubleValue(),
                    dropout.isNumber() ? dropout.doubleValue() : 0.0, names, 0);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Loads the adapter in {@code dir} into {@code model}. A model without adapters gets them as the
     * saved config says; a model that has adapters must have them with the same r and alpha on the
     * same layers. Everything is checked before the model changes: the tensor names must be exactly
     * the adapter layers' (missing and unexpected ones are listed) and the shapes must match.
     * Afterwards the base is frozen and the adapters require gradients when {@code trainable}
     * (PEFT's is_trainable), else are frozen too. Returns the adapter parameters by name.
     */
    public static Map<String, Parameter> load(Module model, Path dir, boolean trainable) throws IOException {
        LoraConfig cfg = readConfig(dir);
        Path file = dir.resolve(ADAPTER_FILE);
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(dir + ": no " + ADAPTER_FILE);
        Map<String, LoraAdapter> existing = adapters(model);
        Map<String, int[]> expected = new LinkedHashMap<>();   // file name → shape
        if (existing.isEmpty()) {
            matching(model, cfg).forEach((path, layer) -> {
                int[] io = inOut(layer);
                expected.put(PREFIX + path + ".lora_A.weight", new int[] {cfg.r(), io[0]});
                expected.put(PREFIX + path + ".lora_B.weight", new int[] {io[1], cfg.r()});
            });
        } else {
            for (Map.Entry<String, LoraAdapter> e : existing.entrySet()) {
                LoraAdapter a = e.getValue();
                if (a.r != cfg.r() || Math.abs(a.alpha - cfg.alpha()) > 1e-9 * Math.abs(a.alpha)) {
                    throw new IllegalArgumentException(dir + ": the adapter has r=" + cfg.r() + ", lora_alpha=" + cfg.alpha()
                            + " but the model's adapters have r=" + a.r + ", alpha=" + a.alpha + " (e.g. " + e.getKey() + ")");
                }
                if (a.isMerged()) throw new IllegalStateException("LoRA load: " + e.getKey() + " is merged; unmerge first");
                expected.put(PREFIX + e.getKey() + ".lora_A.weight", a.loraA().data().shape());
                expected.put(PREFIX + e.getKey() + ".lora_B.weight", a.loraB().data().shape());
            }
        }
        try (SafeTensorsFile st = SafeTensors.open(file)) {
            TreeSet<String> missing = new TreeSet<>(expected.keySet()), unexpected = new TreeSet<>(st.names());
            missing.removeAll(st.names());
            unexpected.removeAll(expected.keySet());
            if (!missing.isEmpty() || !unexpected.isEmpty()) {
                throw new IllegalArgumentException(file + ": tensor names do not match the model's adapter layers (target_modules "
                        + cfg.targetModules() + ")" + (missing.isEmpty() ? "" : "; missing " + missing.size() + ": " + brief(missing))
                        + (unexpected.isEmpty() ? "" : "; unexpected " + unexpected.size() + ": " + brief(unexpected)));
            }
            for (Map.Entry<String, int[]> e : expected.entrySet()) {
                int[] shape = st.info(e.getKey()).shape();
                if (!Arrays.equals(shape, e.getValue())) {
                    throw new IllegalArgumentException(file + ": " + e.getKey() + " has shape " + Shapes.str(shape)
                            + " but the model expects " + Shapes.str(e.getValue()) + " (r=" + cfg.r() + ")");
                }
            }
            if (existing.isEmpty()) apply(model, cfg);
            model.requiresGrad(false);
            Map<String, Parameter> params = new LinkedHashMap<>();
            adapterParameters(model).forEach((name, p) -> {
                p.data().copyFrom(st.tensor(PREFIX + name, MemoryKind.OTHER));
                p.requiresGrad(trainable);
                params.put(name, p);
            });
            return params;
        }
    }

    // ---------------------------------------------------------------- helpers

    /** Every Linear and Conv1D by dotted path, in model order (the adapters' own A and B are not entered). */
    static Map<String, Module> layers(Module model) {
        Map<String, Module> out = new LinkedHashMap<>();
        walk("", model, out);
        return out;
    }

    private static void walk(String prefix, Module m, Map<String, Module> out) {
        for (Map.Entry<String, Module> e : m.children().entrySet()) {
            String path = prefix + e.getKey();
            if (e.getValue() instanceof Linear || e.getValue() instanceof Conv1D) out.put(path, e.getValue());
            else walk(path + ".", e.getValue(), out);
        }
    }

    private static LoraAdapter adapterOf(Module layer) {
        return switch (layer) {
            case Linear l -> l.lora().orElse(null);
            case Conv1D c -> c.lora().orElse(null);
            default -> null;
        };
    }

    private static int[] inOut(Module layer) {
        return switch (layer) {
            case Linear l -> new int[] {l.in(), l.out()};
            case Conv1D c -> new int[] {c.in(), c.out()};
            default -> throw new IllegalStateException("not an adaptable layer: " + layer.getClass().getSimpleName());
        };
    }

    /** The layers {@code cfg} targets; an error naming the layers that exist when there are none. */
    private static Map<String, Module> matching(Module model, LoraConfig cfg) {
        Map<String, Module> all = layers(model), out = new LinkedHashMap<>();
        all.forEach((path, layer) -> {
            if (cfg.matches(path)) out.put(path, layer);
        });
        if (out.isEmpty()) {
            LinkedHashSet<String> names = new LinkedHashSet<>();
            for (String p : all.keySet()) names.add(p.substring(p.lastIndexOf('.') + 1));
            throw new IllegalArgumentException("LoRA: target_modules " + cfg.targetModules() + " match no Linear/Conv1D layer of "
                    + model.getClass().getSimpleName() + "; its layers are named " + names
                    + (all.isEmpty() ? "" : " (e.g. " + all.keySet().iterator().next() + ")"));
        }
        return out;
    }

    /** For each adapted path, its shortest suffix that matches only adapted layers (so the saved targets select exactly them). */
    private static List<String> targetModules(Module model, java.util.Set<String> adapted) {
        List<String> all = new ArrayList<>(layers(model).keySet());
        TreeSet<String> out = new TreeSet<>();
        for (String path : adapted) {
            String[] parts = path.split("\\.");
            for (int k = parts.length - 1; k >= 0; k--) {
                String suffix = String.join(".", Arrays.copyOfRange(parts, k, parts.length));
                boolean exact = all.stream().filter(p -> p.equals(suffix) || p.endsWith("." + suffix)).allMatch(adapted::contains);
                if (exact) {
                    out.add(suffix);
                    break;
                }
            }
        }
        return new ArrayList<>(out);
    }

    private static Map<String, LoraAdapter> requireAdapters(Module model, String what) {
        Map<String, LoraAdapter> all = adapters(model);
        if (all.isEmpty()) throw new IllegalStateException("LoRA " + what + ": the model has no adapters (call Lora.apply first)");
        return all;
    }

    private static void unsupported(Path file, JsonNode root, String field, java.util.function.Predicate<JsonNode> bad) {
        JsonNode n = root.get(field);
        if (n != null && !n.isNull() && bad.test(n)) {
            throw new IllegalArgumentException(file + ": " + field + " = " + n + " is not supported by jlisa's LoRA");
        }
    }

    private static String brief(java.util.Collection<String> names) {
        List<String> list = new ArrayList<>(names);
        return list.size() <= 6 ? list.toString() : list.subList(0, 6) + " … and " + (list.size() - 6) + " more";
    }
}
