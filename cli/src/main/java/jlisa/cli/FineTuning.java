package jlisa.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import jlisa.autograd.Parameter;
import jlisa.optim.AdamW;
import jlisa.optim.Lisa;
import jlisa.optim.Optimizer;
import jlisa.optim.ParamGroup;
import jlisa.optim.Sgd;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;
import jlisa.transformer.lora.Lora;
import jlisa.transformer.lora.LoraConfig;
import jlisa.transformer.model.CausalLM;

/**
 * The three fine-tuning methods behind one switch: which parameters train, the optimizer over them,
 * and for LISA the layer sampler. Everything else (data, loop, checkpoints) is shared.
 */
final class FineTuning {
    private FineTuning() {}

    enum Method { FULL, LORA, LISA }

    enum OptimizerKind { ADAMW, SGD }

    /** The trainable parameters by name, the optimizer, and the LISA sampler (null for full and LoRA). */
    record Setup(Map<String, Parameter> trainable, Optimizer optimizer, Lisa lisa) {}

    static Method method(String s) {
        try {
            return Method.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--method must be full, lora or lisa, got '" + s + "'");
        }
    }

    static OptimizerKind optimizer(String s) {
        try {
            return OptimizerKind.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--optimizer must be adamw or sgd, got '" + s + "'");
        }
    }

    /**
     * Prepares {@code model} for {@code method}. Parameters that may be updated are first made
     * writable heap F32 copies (checkpoints are mapped read-only, possibly BF16); LoRA's frozen base
     * stays as loaded.
     */
    static Setup prepare(CausalLM model, Method method, OptimizerKind kind, double lr, double weightDecay,
                         LoraConfig lora, Lisa.Config lisa) {
        Map<String, Parameter> trainable;
        if (method == Method.LORA) {
            model.requiresGrad(false);
            trainable = Lora.apply(model, lora);
        } else {
            trainable = new LinkedHashMap<>(model.namedParameters());
            for (Parameter p : trainable.values()) p.materialize();
            model.requiresGrad(true);
        }
        List<ParamGroup> groups = ParamGroup.withDecay(trainable, weightDecay);
        Optimizer opt = kind == OptimizerKind.ADAMW ? new AdamW(groups, lr) : new Sgd(groups, lr);
        Lisa sampler = null;
        if (method == Method.LISA) {
            Map<String, Map<String, Parameter>> middle = new LinkedHashMap<>();
            model.layerGroups().forEach((name, params) -> {
                if (name.startsWith("layer.")) middle.put(name, params);
            });
            sampler = new Lisa(middle, opt, lisa);
        }
        return new Setup(trainable, opt, sampler);
    }
}
