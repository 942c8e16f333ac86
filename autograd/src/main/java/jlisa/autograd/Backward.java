package jlisa.autograd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Storage;
import jlisa.tensor.Tensor;

/**
 * The backward pass: order the graph's nodes so every node comes after all nodes that consume its
 * output, then walk that order once, turning each node's output gradient into its inputs' gradients.
 *
 * <p>Memory is handed back as soon as it is dead, so the {@link MemoryLedger} shows the real
 * footprint: temporaries a backward made for itself are released when it returns; a gradient is
 * released once every input that received it has used it;
 * a node's saved tensors, and its output if it allocated it, are released right after its backward
 * (unless the caller retains the graph, or the variable was {@link Variable#retain() retained}).
 */
final class Backward {
    private Backward() {}

    static void run(Variable root, Tensor gradient, boolean retainGraph) {
        if (!root.requiresGrad()) {
            throw new IllegalStateException("backward: this value does not require grad (no input of the ops that made it "
                    + "requires grad, or it was computed in a no-grad scope)");
        }
        Tensor rootData = root.data();
        boolean gradientOwned = gradient == null;
        if (gradient == null) {
            if (rootData.numel() != 1) {
                throw new IllegalArgumentException("backward: a gradient is needed for a non-scalar output of shape "
                        + Arrays.toString(rootData.shape()) + "; call backward(gradient) with a tensor of that shape");
            }
            gradient = Tensor.full(1.0, rootData.dtype().computeType(), rootData.shape());
        } else if (!Arrays.equals(gradient.shape(), rootData.shape())) {
            throw new IllegalArgumentException("backward: gradient has shape " + Arrays.toString(gradient.shape())
                    + " but the output has shape " + Arrays.toString(rootData.shape()));
        }
        if (root.isLeaf()) {
            root.accumulateGrad(gradient, gradientOwned);
            return;
        }

        List<Node> order = topologicalOrder(root.gradFn());
        Set<Storage> keep = Collections.newSetFromMap(new IdentityHashMap<>());   // values that must survive
        keep.add(rootData.storage());
        for (Node n : order) {
            if (n.ctx.isFreed()) {
                throw new IllegalStateException(n.name() + ": backward through a graph that was already freed; pass "
                        + "retainGraph=true to the first backward() to run it twice");
            }
            if (n.output.isRetained()) keep.add(n.output.rawData().storage());
        }

        Map<Variable, Tensor> pending = new IdentityHashMap<>();
        Holds holds = new Holds();
        pending.put(root, gradient);
        if (gradientOwned) {
            holds.adopt(gradient);
            holds.add(gradient);
        } else {
            holds.exclude(gradient);   // the caller's tensor, and any view of it, is never ours to release
        }

        for (int idx = order.size() - 1; idx >= 0; idx--) {
            Node node = order.get(idx);
            Tensor g = pending.remove(node.output);
            if (g != null) {
                Tensor[] grads;
                try (var noGrad = GradMode.disabled(); var allocations = MemoryLedger.track()) {
                    long t0 = Profile.enabled() ? System.nanoTime() : 0;
                    grads = node.function.backward(node.ctx, g);
                    if (t0 != 0) Profile.backward(System.nanoTime() - t0);
                    check(node, grads);
                    // The backward's own temporaries die now; only the gradients it returns live on.
                    List<Storage> results = new ArrayList<>();
                    for (Tensor gi : grads) if (gi != null) results.add(gi.storage());
                    allocations.releaseAllExcept(results);
                }
                for (Tensor gi : grads) if (gi != null) holds.adopt(gi);   // everything backward returns is ours
                for (Tensor gi : grads) if (gi != null) holds.add(gi);
                holds.drop(g);
                for (int i = 0; i < grads.length; i++) {
                    Tensor gi = grads[i];
                    if (gi == null) continue;
                    Variable in = node.inputs[i];
                    if (in.isLeaf()) {
                        boolean sole = holds.count(gi) == 1;
                        if (in.accumulateGrad(gi, sole && holds.owns(gi))) holds.forget(gi);
                        else holds.drop(gi);
                    } else {
                        Tensor prev = pending.get(in);
                        if (prev == null) {
                            pending.put(in, gi);
                        } else {
                            Tensor sum = prev.add(gi);
                            holds.adopt(sum);
                            holds.add(sum);
                            holds.drop(prev);
                            holds.drop(gi);
                            pending.put(in, sum);
                        }
                    }
                }
            }
            if (!retainGraph) {
                node.ctx.free();
                Storage s = node.output.rawData().storage();
                if (node.ownsOutput && !keep.contains(s) && !holds.owns(s)) {
                    s.release();
                    node.output.markFreed();
                }
            }
        }
        for (Tensor left : pending.values()) holds.drop(left);
    }

    /** Every node reachable from {@code start}, each after all of its inputs' nodes (iterative: deep graphs are fine). */
    static List<Node> topologicalOrder(Node start) {
        List<Node> order = new ArrayList<>();
        Set<Node> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Deque<Node> stack = new ArrayDeque<>();
        Deque<Integer> next = new ArrayDeque<>();
        stack.push(start);
        next.push(0);
        seen.add(start);
        while (!stack.isEmpty()) {
            Node n = stack.peek();
            int i = next.pop();
            if (i < n.inputs.length) {
                next.push(i + 1);
                Variable in = n.inputs[i];
                Node child = in == null ? null : in.gradFn();
                if (child != null && seen.add(child)) {
                    stack.push(child);
                    next.push(0);
                }
            } else {
                stack.pop();
                order.add(n);
            }
        }
        return order;
    }

    private static void check(Node node, Tensor[] grads) {
        if (grads == null || grads.length != node.inputs.length) {
            throw new IllegalStateException(node.name() + ".backward returned " + (grads == null ? "null" : grads.length
                    + " gradients") + " for " + node.inputs.length + " inputs");
        }
        for (int i = 0; i < grads.length; i++) {
            Variable in = node.inputs[i];
            if (grads[i] == null) {
                if (node.ctx.needsGrad(i)) {
                    throw new IllegalStateException(node.name() + ".backward returned no gradient for input " + i
                            + ", which requires one");
                }
                continue;
            }
            if (!node.ctx.needsGrad(i)) { grads[i] = null; continue; }   // not asked for: drop it
            if (!Arrays.equals(grads[i].shape(), in.rawData().shape())) {
                throw new IllegalStateException(node.name() + ".backward: gradient of input " + i + " has shape "
                        + Arrays.toString(grads[i].shape()) + " but the input has shape " + Arrays.toString(in.rawData().shape()));
            }
        }
    }

    /**
     * Reference counts of the gradient storages this pass allocated: how many places (pending
     * gradients, inputs about to receive one) still hold each. A storage whose count drops to zero is
     * released at once. Storages the pass did not allocate (a caller's gradient) are never counted.
     */
    private static final class Holds {
        private final Map<Storage, int[]> counts = new IdentityHashMap<>();
        private final Set<Storage> seen = Collections.newSetFromMap(new IdentityHashMap<>());

        /** Marks a storage as not ours (the caller's gradient). */
        void exclude(Tensor t) { seen.add(t.storage()); }

        /** Claims a storage first met as a backward result (or the engine's own ones-gradient). */
        void adopt(Tensor t) {
            if (seen.add(t.storage())) counts.put(t.storage(), new int[1]);
        }

        boolean owns(Tensor t) { return owns(t.storage()); }

        boolean owns(Storage s) { return counts.containsKey(s); }

        int count(Tensor t) {
            int[] c = counts.get(t.storage());
            return c == null ? 0 : c[0];
        }

        void add(Tensor t) {
            int[] c = counts.get(t.storage());
            if (c != null) c[0]++;
        }

        void drop(Tensor t) {
            int[] c = counts.get(t.storage());
            if (c != null && --c[0] == 0) {
                counts.remove(t.storage());
                t.storage().release();
            }
        }

        /** The storage now belongs to someone else (a leaf adopted it as its .grad): stop counting it. */
        void forget(Tensor t) { counts.remove(t.storage()); }
    }
}
