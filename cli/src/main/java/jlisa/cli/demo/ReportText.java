package jlisa.cli.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import jlisa.cli.demo.Report.MethodResult;

/** The sentences of report.md's observations, one comparison each, worded from the numbers. */
final class ReportText {
    private ReportText() {}

    /** Eval losses within this relative distance read as "about the same". */
    static final double SAME_LOSS = 0.005;

    /** {@code a}'s total peak as a share of {@code b}'s; {@code expectBelow}: the paper says a's should be lower. */
    static String peakVersus(MethodResult a, MethodResult b, String aName, String bName, boolean expectBelow) {
        long pa = a.peak("total"), pb = b.peak("total");
        if (pb <= 0) return null;
        String figures = String.format(Locale.ROOT, "%s MiB vs %s MiB", Report.mibText(pa), Report.mibText(pb));
        double pct = 100.0 * pa / pb;
        if (pa < pb) {
            return String.format(Locale.ROOT, "%s's peak memory is %s of %s's (%s).", aName, percent(pct), bName, figures);
        }
        String s = String.format(Locale.ROOT, "%s's peak memory is %s of %s's (%s): not below it", aName, percent(pct),
                bName, figures);
        return s + (expectBelow ? ", which is not what the method promises; see the memory chart for the kind that grew."
                : ".");
    }

    /** Where a LISA-vs-full difference in memory comes from: gradients and optimizer state. */
    static String gradientAndState(MethodResult lisa, MethodResult full) {
        long l = lisa.peak("gradient") + lisa.peak("optimizer_state");
        long f = full.peak("gradient") + full.peak("optimizer_state");
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "Gradients and optimizer state at their peaks: LISA %s MiB, full fine-tuning %s MiB", Report.mibText(l),
                Report.mibText(f)));
        if (l < f) {
            sb.append(" — LISA holds them only for the layers it has sampled (plus the always-trained embeddings, "
                    + "norm and head), which is where its saving comes from.");
        } else {
            sb.append(" — LISA did not hold less of them than full fine-tuning in this run.");
        }
        long parked = lisa.peak("parked_state");
        if (parked > 0) {
            sb.append(String.format(Locale.ROOT, " LISA also kept %s MiB of optimizer state parked in host memory "
                    + "(held, not in the working set).", Report.mibText(parked)));
        }
        return sb.toString();
    }

    /** LISA's eval loss against {@code other}'s, said plainly either way. */
    static String evalLoss(MethodResult lisa, MethodResult other, String otherName) {
        String overSeeds = overSeeds(lisa, other, otherName, "eval loss", true);
        if (overSeeds != null) return overSeeds;
        double l = lisa.evalLoss(), o = other.evalLoss();
        if (!Double.isFinite(l) || !Double.isFinite(o)) {
            return "LISA's and " + otherName + "'s eval losses cannot be compared: one of them is not a number.";
        }
        String figures = String.format(Locale.ROOT, "%.4f vs %.4f", l, o);
        double rel = Math.abs(l - o) / Math.max(Math.abs(o), 1e-12);
        if (rel <= SAME_LOSS) {
            return String.format(Locale.ROOT, "LISA's eval loss is about the same as %s's (%s, within %.1f%%).",
                    otherName, figures, 100 * SAME_LOSS);
        }
        if (l < o) {
            return String.format(Locale.ROOT, "LISA's eval loss is below %s's (%s, %.1f%% lower).", otherName, figures,
                    100 * rel);
        }
        return String.format(Locale.ROOT, "LISA's eval loss is above %s's (%s, %.1f%% higher): in this run %s fit the "
                + "held-out task better than LISA, which goes against the paper's finding that LISA matches or beats it.",
                otherName, figures, 100 * rel, otherName);
    }

    /** Exact-match accuracies side by side, and where LISA ranks. */
    static String accuracy(MethodResult lisa, MethodResult lora, MethodResult full) {
        if (lisa.seedRuns().size() > 1) {
            List<String> out = new ArrayList<>();
            if (lora != null) out.add(overSeeds(lisa, lora, "LoRA", "exact match", false));
            if (full != null) out.add(overSeeds(lisa, full, "full fine-tuning", "exact match", false));
            out.removeIf(java.util.Objects::isNull);
            if (!out.isEmpty()) return String.join(" ", out);
        }
        List<String> parts = new ArrayList<>();
        parts.add("LISA " + pct(lisa.accuracy()));
        if (lora != null) parts.add("LoRA " + pct(lora.accuracy()));
        if (full != null) parts.add("full fine-tuning " + pct(full.accuracy()));
        StringBuilder sb = new StringBuilder("Exact-match accuracy on the held-out task: ")
                .append(String.join(", ", parts)).append('.');
        List<String> above = new ArrayList<>();
        if (lora != null && lora.accuracy() > lisa.accuracy()) above.add("LoRA");
        if (full != null && full.accuracy() > lisa.accuracy()) above.add("full fine-tuning");
        if (!Double.isFinite(lisa.accuracy())) return sb.toString();
        if (above.isEmpty()) sb.append(" LISA's is the highest or tied for it.");
        else sb.append(" LISA's is below ").append(String.join(" and ", above)).append("'s in this run.");
        return sb.toString();
    }

    /**
     * LISA against {@code other} on one figure over seeds (null unless both have several seeds' runs): a difference is
     * called clear only when the two ranges over seeds do not overlap.
     */
    static String overSeeds(MethodResult lisa, MethodResult other, String otherName, String figure, boolean lowerIsBetter) {
        if (lisa.seedRuns().size() < 2 || other.seedRuns().size() < 2) return null;
        Sweep.Summary a = Sweep.Summary.of("lisa", lisa.seedRuns()), b = Sweep.Summary.of(otherName, other.seedRuns());
        boolean loss = figure.equals("eval loss");
        Sweep.Spread sa = loss ? a.evalLoss() : a.accuracy(), sb = loss ? b.evalLoss() : b.accuracy();
        String fa = loss ? sa.text("%.4f") : Sweep.pct(sa), fb = loss ? sb.text("%.4f") : Sweep.pct(sb);
        String figures = String.format(Locale.ROOT, "LISA %s, %s %s over %d seeds (mean ± sd)", fa, otherName, fb, sa.n());
        boolean lisaBetter = lowerIsBetter ? sa.clearlyBelow(sb) : sb.clearlyBelow(sa);
        boolean otherBetter = lowerIsBetter ? sb.clearlyBelow(sa) : sa.clearlyBelow(sb);
        String which = figure.substring(0, 1).toUpperCase(Locale.ROOT) + figure.substring(1);
        if (lisaBetter) return which + ": LISA is clearly better than " + otherName + " (" + figures + "; the ranges over seeds do not overlap).";
        if (otherBetter) return which + ": " + otherName + " is clearly better than LISA (" + figures
                + "; the ranges over seeds do not overlap).";
        return which + ": no clear difference between LISA and " + otherName + " (" + figures + "; the ranges over seeds overlap).";
    }

    /** LISA's step time against full fine-tuning's. */
    static String speed(MethodResult lisa, MethodResult full) {
        double l = lisa.msPerStep(), f = full.msPerStep();
        if (!(l > 0) || !(f > 0) || !Double.isFinite(l) || !Double.isFinite(f)) return null;
        String s = String.format(Locale.ROOT, "A LISA step took %.1f ms, %.2f× full fine-tuning's %.1f ms", l, l / f, f);
        return s + (l < f ? ": frozen layers skip their weight-gradient matmuls and optimizer updates."
                : ": no faster than full fine-tuning in this run.");
    }

    /**
     * How LISA's training loss moves after a draw: the largest pooled ratio (offsets 1 … K − 1) of its own loss to the
     * three steps before the draw — the measure the jump is judged by (at most 1.02) — and the same of its loss over full
     * fine-tuning's on the same batches, beside LoRA's on that measure: LoRA never draws, so its figure is the measure's
     * own noise. Null without per-seed runs.
     */
    static String drawJump(MethodResult lisa, MethodResult full, MethodResult lora) {
        if (lisa.seedRuns().isEmpty()) return null;
        List<Demo.MethodRun> reference = full == null ? List.of() : full.seedRuns();
        Sweep.Summary s = Sweep.Summary.of("lisa", lisa.seedRuns(), reference);
        if (!Double.isFinite(s.maxDrawRatio())) return null;
        String out = String.format(Locale.ROOT, "After a draw, LISA's training loss peaks at %.3f× the three steps before it "
                + "(pooled over draws and seeds)", s.maxDrawRatio())
                + (s.maxDrawRatio() <= 1.02 ? ": no jump beyond 2%"
                        : String.format(Locale.ROOT, ": a jump of %.1f%%", 100 * (s.maxDrawRatio() - 1)));
        if (Double.isFinite(s.maxPairedRatio())) {
            out += String.format(Locale.ROOT, ". Over full fine-tuning's loss on the same batches it peaks at %.3f×",
                    s.maxPairedRatio());
            double placebo = lora == null || lora.seedRuns().isEmpty() ? Double.NaN
                    : Sweep.Summary.of("lora", lora.seedRuns(), reference).maxPairedRatio();
            if (Double.isFinite(placebo)) {
                out += String.format(Locale.ROOT, ", where LoRA, which never draws, peaks at %.3f× (the spread of the measure "
                        + "itself)", placebo);
            }
        }
        return out + ".";
    }

    /**
     * The demo's claim, part by part: at a peak memory at most 1.1× LoRA's, LISA's eval loss clearly below LoRA's, its
     * exact match clearly above, and a LISA step at most 0.75× a full fine-tuning step.
     */
    static String verdict(MethodResult lisa, MethodResult lora, MethodResult full) {
        if (lisa.seedRuns().size() < 2 || lora.seedRuns().size() < 2) return null;
        Sweep.Summary a = Sweep.Summary.of("lisa", lisa.seedRuns()), b = Sweep.Summary.of("lora", lora.seedRuns());
        List<String> held = new ArrayList<>(), failed = new ArrayList<>();
        double memory = (double) lisa.peak("total") / lora.peak("total");
        (memory <= 1.1 ? held : failed).add(String.format(Locale.ROOT, "peak memory %.2f× LoRA's (at most 1.1×)", memory));
        (a.evalLoss().clearlyBelow(b.evalLoss()) ? held : failed).add("eval loss clearly below LoRA's");
        (b.accuracy().clearlyBelow(a.accuracy()) ? held : failed).add("exact match clearly above LoRA's");
        if (full != null && full.msPerStep() > 0) {
            double speed = lisa.msPerStep() / full.msPerStep();
            (speed <= 0.75 ? held : failed).add(String.format(Locale.ROOT, "a step %.2f× full fine-tuning's (at most 0.75×)", speed));
        }
        if (failed.isEmpty()) return "The demo's claim holds over these seeds: " + String.join("; ", held) + ".";
        return "The demo's claim does not hold over these seeds: not met — " + String.join("; ", failed)
                + (held.isEmpty() ? "." : "; met — " + String.join("; ", held) + ".");
    }

    private static String percent(double pct) {
        return String.format(Locale.ROOT, pct < 10 ? "%.1f%%" : "%.0f%%", pct);
    }

    private static String pct(double accuracy) {
        return Double.isFinite(accuracy) ? String.format(Locale.ROOT, "%.1f%%", 100 * accuracy) : "n/a";
    }
}
