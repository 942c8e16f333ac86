package jlisa.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import jlisa.autograd.Parameter;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;

/**
 * A piece of a model: named parameters and named child modules, registered in the order the
 * constructor creates them, so {@link #namedParameters()} yields dotted names that follow the
 * checkpoint's (e.g. {@code h.3.attn.c_attn.weight}) and state dicts load by name.
 *
 * <p>A small model is a subclass that registers its layers in the constructor:
 * <pre>{@code
 * class Mlp extends Module {
 *     final Layers.Linear fc1, fc2;
 *     Mlp(Rng rng) {
 *         fc1 = child("fc1", new Layers.Linear(1, 32, rng));
 *         fc2 = child("fc2", new Layers.Linear(32, 1, rng));
 *     }
 *     Variable forward(Variable x) { return fc2.forward(fc1.forward(x).tanh()); }
 * }
 * }</pre>
 * or a {@link Sequential} of layers; {@code new AdamW(model.namedParameters(), lr)} trains it.
 *
 * <p>Not thread-safe: registration, {@link #train(boolean)}, {@link #loadStateDict} and {@link #moveTo} mutate
 * the module tree without synchronization. Reading {@link #namedParameters()} from several threads is safe
 * while no thread changes the tree; a forward pass mutates nothing in the module but builds a graph on the
 * calling thread, and concurrent training of one instance is not supported.
 */
public abstract class Module {
    private final Map<String, Parameter> params = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    /** Registers a parameter holding {@code init} (copied into PARAMETER storage unless it already is). */
    protected final Parameter param(String name, Tensor init) {
        checkName(name);
        Parameter p = Parameter.of(name, init);
        params.put(name, p);
        return p;
    }

    /** Registers a child module under {@code name}; returns it. */
    protected final <M extends Module> M child(String name, M module) {
        checkName(name);
        children.put(name, module);
        return module;
    }

    private void checkName(String name) {
        if (name == null || name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException("module member names must be non-empty and without dots, got '" + name + "'");
        }
        if (params.containsKey(name) || children.containsKey(name)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " already has a member named '" + name + "'");
        }
    }

    /** Every parameter with its dotted path, depth-first in registration order. */
    public final Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        collect("", out);
        return out;
    }

    private void collect(String prefix, Map<String, Parameter> out) {
        for (Map.Entry<String, Parameter> e : params.entrySet()) out.put(prefix + e.getKey(), e.getValue());
        for (Map.Entry<String, Module> e : children.entrySet()) e.getValue().collect(prefix + e.getKey() + ".", out);
    }

    public final List<Parameter> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** Direct children by name. */
    public final Map<String, Module> children() { return java.util.Collections.unmodifiableMap(children); }

    /** Number of parameter elements. */
    public final long parameterCount() {
        long n = 0;
        for (Parameter p : namedParameters().values()) n += p.data().numel();
        return n;
    }

    /** Training mode (dropout active) for this module and all below it. */
    public Module train(boolean on) {
        training = on;
        for (Module m : children.values()) m.train(on);
        return this;
    }

    public final Module eval() { return train(false); }

    public final boolean isTraining() { return training; }

    /** Turns gradients on or off for every parameter below this module (freezing). */
    public final Module requiresGrad(boolean on) {
        for (Parameter p : namedParameters().values()) p.requiresGrad(on);
        return this;
    }

    /**
     * Moves every parameter into {@code backend}'s memory (one upload each; the host copies are released), so that
     * forward, backward and the optimizer's update run there with no host round trip: each kernel sees its operands
     * in device memory and hands the call to the backend. With a null backend, parameters in device memory come
     * back to the heap (e.g. before saving). Gradients are dropped. Returns this.
     */
    public final Module moveTo(jlisa.tensor.Backend backend) {
        for (Parameter p : namedParameters().values()) {
            Tensor data = p.data();
            Tensor moved;
            if (backend == null) {
                if (!data.isOnDevice()) continue;
                moved = Tensor.empty(data.dtype(), jlisa.tensor.MemoryKind.PARAMETER, data.shape()).copyFrom(data);
            } else {
                if (data.storage() instanceof jlisa.tensor.DeviceStorage d && d.backend() == backend) continue;
                moved = backend.toDevice(data, jlisa.tensor.MemoryKind.PARAMETER);
            }
            p.assign(moved);
            if (data.storage().kind() == jlisa.tensor.MemoryKind.PARAMETER && !data.storage().isReadOnly()) data.storage().release();
        }
        return this;
    }

    /** The parameters' tensors by dotted name (the tensors themselves, not copies). */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : namedParameters().entrySet()) out.put(e.getKey(), e.getValue().data());
        return out;
    }

    /**
     * Points each parameter at the tensor of the same name (no copy: a memory-mapped F32 tensor is
     * used in place). With {@code strict}, missing and unexpected names are errors that list them.
     * Shapes must match exactly. Returns the names that were not found.
     */
    public final List<String> loadStateDict(Map<String, Tensor> tensors, boolean strict) {
        Map<String, Parameter> named = namedParameters();
        TreeSet<String> missing = new TreeSet<>(), unexpected = new TreeSet<>(tensors.keySet());
        for (String n : named.keySet()) if (!tensors.containsKey(n)) missing.add(n);
        unexpected.removeAll(named.keySet());
        if (strict && (!missing.isEmpty() || !unexpected.isEmpty())) {
            throw new IllegalArgumentException("state dict does not match " + getClass().getSimpleName()
                    + (missing.isEmpty() ? "" : "; missing " + missing.size() + ": " + missing)
                    + (unexpected.isEmpty() ? "" : "; unexpected " + unexpected.size() + ": " + unexpected));
        }
        for (Map.Entry<String, Parameter> e : named.entrySet()) {
            Tensor t = tensors.get(e.getKey());
            if (t == null) continue;
            if (!java.util.Arrays.equals(t.shape(), e.getValue().data().shape())) {
                throw new IllegalArgumentException("state dict: " + e.getKey() + " has shape "
                        + java.util.Arrays.toString(t.shape()) + " but the model expects "
                        + java.util.Arrays.toString(e.getValue().data().shape()));
            }
            Tensor old = e.getValue().data();
            e.getValue().assign(t);
            if (old.storage() != t.storage()) old.storage().release();   // the init values are gone now
        }
        return new ArrayList<>(missing);
    }

    private static final ScopedValue<Boolean> PLACEHOLDERS = ScopedValue.newInstance();

    /**
     * Builds modules whose randomly initialised weights, made without an rng, are placeholders: zeros of the right
     * shape that hold no memory (one zero seen through zero strides), for weights that {@link #loadStateDict} will
     * replace at once. A loader builds its model this way, so loading costs the weights' size once, not twice (real
     * zeros first, the file's tensors after). A placeholder must not be written; LayerNorm weights, biases and
     * weights meant to start at zero (a LoRA adapter's) stay real zeros.
     */
    public static <M extends Module> M placeholders(java.util.function.Supplier<M> build) {
        return ScopedValue.where(PLACEHOLDERS, Boolean.TRUE).call(build::get);
    }

    static boolean makingPlaceholders() { return PLACEHOLDERS.orElse(Boolean.FALSE); }

    /** The placeholder {@link #placeholders} makes: one PARAMETER zero expanded to {@code shape}. */
    static Tensor placeholder(int... shape) {
        int[] one = new int[shape.length];
        java.util.Arrays.fill(one, 1);
        return zeros(one).expand(shape);
    }

    /** Zero-filled (then initialised) parameter tensors are allocated here, counted as PARAMETER. */
    protected static Tensor zeros(int... shape) {
        return Tensor.zeros(jlisa.tensor.DType.F32, MemoryKind.PARAMETER, shape);
    }
}
