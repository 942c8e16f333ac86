package jlisa.autograd;

/**
 * One recorded application of a {@link Function}: the function, its context, the input variables and
 * the variable it produced. A non-leaf {@link Variable} points to the node that made it
 * ({@link Variable#gradFn()}); following the inputs from there is the graph backward walks.
 *
 * <p>Not thread-safe, like the graph it belongs to.
 */
public final class Node {
    final Function function;
    final Context ctx;
    final Variable[] inputs;
    final Variable output;
    /** True when the output's storage was allocated by this op (not a view of an input). */
    final boolean ownsOutput;

    Node(Function function, Context ctx, Variable[] inputs, Variable output, boolean ownsOutput) {
        this.function = function;
        this.ctx = ctx;
        this.inputs = inputs;
        this.output = output;
        this.ownsOutput = ownsOutput;
    }

    /** The op's name. */
    public String name() { return function.name(); }

    /** The input variables (null entries for optional inputs that were absent). */
    public Variable[] inputs() { return inputs.clone(); }
}
