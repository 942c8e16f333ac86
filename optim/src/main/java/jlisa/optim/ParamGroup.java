package jlisa.optim;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

import jlisa.autograd.Parameter;

/**
 * Parameters that share hyper-parameters: a learning-rate scale and a weight decay. Names are the
 * model's dotted names; they key the optimizer state in checkpoints.
 *
 * <p>The record is immutable; the parameters it names are not thread-safe.
 */
public record ParamGroup(String name, Map<String, Parameter> params, double lrScale, double weightDecay) {
    public ParamGroup {
        params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
        if (!(lrScale >= 0)) throw new IllegalArgumentException("param group " + name + ": lrScale must be >= 0, got " + lrScale);
        if (!(weightDecay >= 0)) {
            throw new IllegalArgumentException("param group " + name + ": weight decay must be >= 0, got " + weightDecay);
        }
    }

    /**
     * The usual split: weight decay on matrices, none on biases, norm weights and embeddings (1-D
     * tensors and names containing "embed", "wte" or "wpe"), both at the optimizer's learning rate.
     */
    public static java.util.List<ParamGroup> withDecay(Map<String, Parameter> named, double weightDecay) {
        Map<String, Parameter> decay = new LinkedHashMap<>(), noDecay = new LinkedHashMap<>();
        named.forEach((n, p) -> (isDecayed(n, p) ? decay : noDecay).put(n, p));
        java.util.List<ParamGroup> groups = new java.util.ArrayList<>();
        if (!decay.isEmpty()) groups.add(new ParamGroup("decay", decay, 1.0, weightDecay));
        if (!noDecay.isEmpty()) groups.add(new ParamGroup("no_decay", noDecay, 1.0, 0.0));
        return groups;
    }

    static boolean isDecayed(String name, Parameter p) {
        String n = name.toLowerCase(java.util.Locale.ROOT);
        return p.data().dim() >= 2 && !n.contains("embed") && !n.contains("wte") && !n.contains("wpe");
    }
}
