package jlisa.autograd;

import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Draws the graph behind a value as Graphviz DOT, for people learning how backward walks it.
 *
 * <p>Stateless; safe to call from any thread while no backward runs on the graph.
 */
public final class Graph {
    private Graph() {}

    /**
     * DOT text of every op and leaf that {@code value} depends on: ops as boxes, leaves as ellipses
     * (parameters by name; frozen ones dashed), edges from inputs to the ops that read them.
     * Render with {@code dot -Tpng graph.dot -o graph.png}.
     */
    public static String toDot(Variable value) {
        StringBuilder sb = new StringBuilder("digraph autograd {\n  rankdir=BT;\n  node [fontname=\"Helvetica\"];\n");
        Map<Object, String> ids = new IdentityHashMap<>();
        if (value.isLeaf()) {
            leaf(sb, ids, value);
        } else {
            List<Node> order = Backward.topologicalOrder(value.gradFn());
            for (Node n : order) {
                String id = id(ids, n);
                sb.append("  ").append(id).append(" [shape=box, label=\"").append(n.name()).append("\\n")
                        .append(shape(n.output)).append("\"];\n");
                for (Variable in : n.inputs) {
                    if (in == null) continue;
                    String from = in.isLeaf() ? leaf(sb, ids, in) : id(ids, in.gradFn());
                    sb.append("  ").append(from).append(" -> ").append(id).append(";\n");
                }
            }
        }
        return sb.append("}\n").toString();
    }

    private static String leaf(StringBuilder sb, Map<Object, String> ids, Variable v) {
        if (ids.containsKey(v)) return ids.get(v);
        String id = id(ids, v);
        String label = v instanceof Parameter p ? p.name() : (v.requiresGrad() ? "input" : "constant");
        String style = v.requiresGrad() ? "" : ", style=dashed";
        sb.append("  ").append(id).append(" [shape=ellipse").append(style).append(", label=\"").append(label)
                .append("\\n").append(shape(v)).append("\"];\n");
        return id;
    }

    private static String id(Map<Object, String> ids, Object o) {
        return ids.computeIfAbsent(o, k -> "n" + ids.size());
    }

    private static String shape(Variable v) {
        try {
            return Arrays.toString(v.data().shape());
        } catch (IllegalStateException freed) {
            return "(freed)";
        }
    }
}
