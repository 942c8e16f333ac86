package jlisa.finetune;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import jlisa.autograd.Parameter;
import jlisa.optim.AdamW;
import jlisa.optim.Lisa;
import jlisa.optim.Optimizer;
import jlisa.optim.ParamGroup;
import jlisa.optim.Sgd;
import jlisa.transformer.lora.Lora;
import jlisa.transformer.lora.LoraConfig;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.GPT2;

/**
 * A model made ready for one {@link Method}, for a training loop of one's own: which parameters train, the
 * optimizer over them, and for LISA the layer sampler (call {@code lisa().beforeStep(step)} before each step).
 * {@link FineTune} runs its loop on one. Closing it frees the gradients, the optimizer state and LISA's parked
 * state (the model stays open). Not thread-safe.
 */
public record TrainingSetup(CausalLM model, Map<String, Parameter> trainable, Optimizer optimizer, Optional<Lisa> lisa)
        implements AutoCloseable {

    /**
     * Prepares {@code model} for {@code method} with an optimizer of {@code kind} at {@code lr} (weight decay on
     * matrices only). Parameters that may be updated become writable heap F32 copies (checkpoints are mapped
     * read-only, possibly BF16), counted in the model's {@linkplain CausalLM#memory() account}; LoRA's frozen base
     * stays as loaded. {@code seed} seeds LoRA's init and LISA's draws.
     */
    public static TrainingSetup of(CausalLM model, Method method, FineTune.OptimizerChoice kind, double lr, double weightDecay,
                                   long seed) {
        Map<String, Parameter> trainable;
        try (var charge = model.memory().charge()) {   // adapters and writable copies are the model's from now on
            if (method instanceof Method.Lora lora) {
                model.requiresGrad(false);
                trainable = Lora.apply(model, loraConfig(model, lora, seed));
            } else {
                trainable = new LinkedHashMap<>(model.namedParameters());
                for (Parameter p : trainable.values()) p.materialize();
                model.requiresGrad(true);
            }
        }
        List<ParamGroup> groups = ParamGroup.withDecay(trainable, weightDecay);
        Optimizer opt = kind == FineTune.OptimizerChoice.ADAMW ? new AdamW(groups, lr) : new Sgd(groups, lr);
        Optional<Lisa> sampler = method instanceof Method.Lisa lisa
                ? Optional.of(new Lisa(middleLayers(model), opt, lisa.config(seed))) : Optional.empty();
        return new TrainingSetup(model, trainable, opt, sampler);
    }

    /** Parameters that train at once: LISA's embedding, head and γ layers, else every trained one. */
    public long trainableAtOnce() {
        if (lisa.isPresent()) return lisa.get().parametersTrainingAtOnce();
        long n = 0;
        for (Parameter p : trainable.values()) n += p.data().numel();
        return n;
    }

    /** Frees what training held: gradients, optimizer state, LISA's parked state. The model stays open. */
    @Override public void close() {
        lisa.ifPresent(Lisa::close);
        optimizer.close();
        for (Parameter p : model.namedParameters().values()) p.zeroGrad();
    }

    /** The transformer layers LISA draws from, by group name ("layer.0", …); embedding and head always train. */
    public static Map<String, Map<String, Parameter>> middleLayers(CausalLM model) {
        Map<String, Map<String, Parameter>> middle = new LinkedHashMap<>();
        model.layerGroups().forEach((name, params) -> {
            if (name.startsWith("layer.")) middle.put(name, params);
        });
        return middle;
    }

    /** LoRA's config for {@code model}: the method's settings, with every attention and MLP projection when no target is named. */
    public static LoraConfig loraConfig(CausalLM model, Method.Lora lora, long seed) {
        List<String> targets = !lora.targets().isEmpty() ? lora.targets()
                : model instanceof GPT2 ? List.of("c_attn", "attn.c_proj", "c_fc", "mlp.c_proj")
                : List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
        return LoraConfig.builder().rank(lora.rank()).alpha(lora.alpha()).dropout(lora.dropout()).targets(targets).seed(seed)
                .build();
    }
}
