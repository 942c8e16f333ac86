package jlisa.autograd;

import jlisa.tensor.Tensor;

/**
 * One differentiable operation: its forward and its backward, side by side (PyTorch's
 * {@code autograd.Function}, llm.c's {@code *_forward}/{@code *_backward} pairs). Subclasses are
 * small: forward calls a kernel from the tensor module and saves what backward needs in the
 * {@link Context}; backward turns the output's gradient into one gradient per input.
 *
 * <p>Contract for backward: return an array with one entry per input, null where
 * {@code ctx.needsGrad(i)} is false (and do not compute it: for a frozen weight that is the whole
 * weight-gradient matmul), each gradient shaped like its input. A returned gradient is either a
 * tensor the backward allocated or a view of {@code gradOutput}; autograd owns it from then on.
 *
 * <p>Not thread-safe: an instance is one application of the op (its fields are per-call state); make a new one per call.
 */
public abstract class Function {

    /** Computes the output from the inputs' data; saves into {@code ctx} what backward will read. */
    protected abstract Tensor forward(Context ctx, Tensor... inputs);

    /** Gradients of the inputs, given the gradient of the output. */
    protected abstract Tensor[] backward(Context ctx, Tensor gradOutput);

    /** The op's name in messages and graph drawings. */
    public String name() { return getClass().getSimpleName(); }

    /**
     * Runs {@code fn} on the inputs' data and, when grad mode is on and some input requires a gradient,
     * records a graph {@link Node} so backward can reach the inputs.
     */
    public static Variable apply(Function fn, Variable... inputs) {
        boolean record = false;
        boolean[] needs = new boolean[inputs.length];
        Tensor[] data = new Tensor[inputs.length];
        if (GradMode.isEnabled()) {
            for (int i = 0; i < inputs.length; i++) {
                needs[i] = inputs[i] != null && inputs[i].requiresGrad();
                record |= needs[i];
            }
        }
        for (int i = 0; i < inputs.length; i++) data[i] = inputs[i] == null ? null : inputs[i].data();
        Context ctx = new Context(fn.name(), needs);
        Tensor out;
        try (var allocations = jlisa.tensor.MemoryLedger.track()) {
            long t0 = Profile.enabled() ? System.nanoTime() : 0;
            out = fn.forward(ctx, data);
            if (t0 != 0) Profile.forward(System.nanoTime() - t0);
            if (!record) ctx.free();
            // Temporaries the op made (dense copies, scratch) die now, not when the collector runs.
            allocations.releaseAllExcept(ctx.keptStorages(out));
        }
        boolean ownsOutput = true;   // a view shares an input's storage; only fresh outputs are the graph's to free
        for (Tensor d : data) if (d != null && d.storage() == out.storage()) ownsOutput = false;
        Variable result = new Variable(out, record);
        if (record) result.gradFn = new Node(fn, ctx, inputs, result, ownsOutput);
        ActivationScope.record(result, ownsOutput);
        return result;
    }
}
