package jlisa.autograd;

import java.util.Arrays;

import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;

/**
 * Checks analytic gradients against central finite differences in float64, as PyTorch's
 * {@code gradcheck}: for a random projection r of the output, d⟨f(x), r⟩/dx from backward must match
 * (⟨f(x+εe), r⟩ − ⟨f(x−εe), r⟩) / 2ε for every input element e.
 *
 * <p>Stateless; safe to call from any thread on values no other thread touches.
 */
public final class Gradcheck {
    private Gradcheck() {}

    /** The function under test: variables in (one per input tensor), a variable out. */
    @FunctionalInterface
    public interface Fn {
        Variable apply(Variable... inputs);
    }

    /** The worst element found, and whether every element was within tolerance. */
    public record Report(boolean passed, String message) {}

    /** Default step and tolerances: ε = 1e-6, |analytic − numeric| ≤ 1e-5 + 1e-3·|numeric|. */
    public static Report run(String op, Fn fn, Tensor... inputs) {
        return run(op, fn, 1e-6, 1e-5, 1e-3, inputs);
    }

    /**
     * Runs the check. Inputs must be F64 (cast them first); each becomes a leaf that requires grad.
     * An input given as null stays null (optional arguments).
     */
    public static Report run(String op, Fn fn, double eps, double atol, double rtol, Tensor... inputs) {
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i] != null && inputs[i].dtype() != DType.F64) {
                throw new IllegalArgumentException("gradcheck(" + op + "): input " + i + " is " + inputs[i].dtype()
                        + "; gradcheck needs F64 inputs");
            }
        }
        Variable[] vars = new Variable[inputs.length];
        for (int i = 0; i < inputs.length; i++) vars[i] = inputs[i] == null ? null : new Variable(inputs[i], true);
        Variable out = fn.apply(vars);
        Tensor r = Tensor.randn(new Rng(1234), 0, 1, DType.F64, out.data().shape());
        out.backward(r);

        double worst = Double.NEGATIVE_INFINITY;   // largest amount over tolerance: the failing element if any failed
        double worstErr = 0;
        String worstWhere = "";
        boolean passed = true;
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i] == null) continue;
            Tensor x = inputs[i];
            Tensor analytic = vars[i].grad() == null ? Tensor.zeros(DType.F64, x.shape()) : vars[i].grad();
            int[] idx = new int[x.dim()];
            for (int n = 0, count = x.numel(); n < count; n++) {
                double orig = x.get(idx);
                x.set(orig + eps, idx);
                double plus = projected(fn, inputs, r);
                x.set(orig - eps, idx);
                double minus = projected(fn, inputs, r);
                x.set(orig, idx);
                double numeric = (plus - minus) / (2 * eps);
                double a = analytic.get(idx);
                double err = Math.abs(a - numeric);
                double excess = err - (atol + rtol * Math.abs(numeric));
                if (Double.isNaN(err)) excess = Double.isNaN(a) && Double.isNaN(numeric) ? Double.NEGATIVE_INFINITY
                        : Double.POSITIVE_INFINITY;
                if (excess > 0) passed = false;
                if (excess > worst) {
                    worst = excess;
                    worstErr = err;
                    worstWhere = "input " + i + " " + Arrays.toString(x.shape()) + " at " + Arrays.toString(idx)
                            + ": analytic " + a + ", numeric " + numeric;
                }
                for (int d = idx.length - 1; d >= 0 && ++idx[d] == x.size(d); d--) idx[d] = 0;
            }
        }
        String msg = "gradcheck(" + op + ") " + (passed ? "passed" : "FAILED") + "; element closest to (or furthest past) "
                + "its tolerance: |analytic − numeric| = " + worstErr
                + (worstWhere.isEmpty() ? "" : " (" + worstWhere + ")");
        return new Report(passed, msg);
    }

    /** Like {@link #run(String, Fn, Tensor...)}, but throws an AssertionError naming the op and the worst element. */
    public static void check(String op, Fn fn, Tensor... inputs) {
        Report r = run(op, fn, inputs);
        if (!r.passed()) throw new AssertionError(r.message());
    }

    private static double projected(Fn fn, Tensor[] inputs, Tensor r) {
        try (var noGrad = GradMode.disabled()) {
            Variable[] vars = new Variable[inputs.length];
            for (int i = 0; i < inputs.length; i++) vars[i] = inputs[i] == null ? null : new Variable(inputs[i]);
            Tensor y = fn.apply(vars).data();
            return y.to(DType.F64).mul(r).sum().item();
        }
    }
}
