package jlisa.cli;

import java.util.Locale;

import jlisa.optim.Lisa;

/** LISA's command-line values, parsed the same way by {@code finetune} and {@code bench lisa}. */
final class LisaArgs {
    private LisaArgs() {}

    /** drop, park or keep. */
    static Lisa.StatePolicy policy(String s) {
        try {
            return Lisa.StatePolicy.valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("LISA policy must be drop, park or keep, got '" + s + "'");
        }
    }

    /** uniform, weight-norm, or {@code layers} comma-separated non-negative weights, one per sampled layer. */
    static Lisa.Sampling sampling(String s, int layers) {
        Lisa.Sampling sampling = sampling(s);
        if (sampling instanceof Lisa.Sampling.Weights w && w.probabilities().length != layers) {
            throw new IllegalArgumentException("LISA sampling weights: expected one per middle layer (" + layers + "), got "
                    + w.probabilities().length + " in '" + s + "'");
        }
        return sampling;
    }

    /** uniform, weight-norm, or comma-separated non-negative weights, one per middle layer (LISA checks the count). */
    static Lisa.Sampling sampling(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        if (t.equals("uniform")) return new Lisa.Sampling.Uniform();
        if (t.equals("weight-norm")) return new Lisa.Sampling.WeightNorm();
        String[] parts = t.split(",");
        double[] w = new double[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) w[i] = Double.parseDouble(parts[i]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("LISA sampling must be uniform, weight-norm or comma-separated layer weights "
                    + "(one per middle layer), got '" + s + "'");
        }
        return new Lisa.Sampling.Weights(w);
    }
}
