package jlisa.optim;

/**
 * Learning-rate schedules: the rate for each optimizer step, starting at step 0.
 *
 * <p>Stateless, and the schedules it makes are immutable; safe to share between threads.
 */
public final class Schedules {
    private Schedules() {}

    /** The learning rate at a step. */
    @FunctionalInterface
    public interface Schedule {
        double lr(long step);
    }

    public static Schedule constant(double lr) { return step -> lr; }

    /** Linear warm-up from 0 over {@code warmup} steps, then cosine decay to {@code minLr} at {@code total}. */
    public static Schedule warmupCosine(double lr, long warmup, long total, double minLr) {
        return warmupThen(lr, warmup, total, minLr, progress -> 0.5 * (1 + Math.cos(Math.PI * progress)));
    }

    /** Linear warm-up from 0 over {@code warmup} steps, then linear decay to {@code minLr} at {@code total}. */
    public static Schedule warmupLinear(double lr, long warmup, long total, double minLr) {
        return warmupThen(lr, warmup, total, minLr, progress -> 1 - progress);
    }

    /** Warm-up, then {@code minLr + (lr − minLr)·shape(progress)} with progress going 0 → 1 until {@code total}. */
    private static Schedule warmupThen(double lr, long warmup, long total, double minLr,
                                       java.util.function.DoubleUnaryOperator shape) {
        check(warmup, total);
        return step -> {
            if (step < warmup) return lr * (step + 1) / warmup;
            if (step >= total) return minLr;
            double progress = (double) (step - warmup) / Math.max(1, total - warmup);
            return minLr + (lr - minLr) * shape.applyAsDouble(progress);
        };
    }

    private static void check(long warmup, long total) {
        if (warmup < 0 || total < 1 || warmup > total) {
            throw new IllegalArgumentException("schedule: expected 0 <= warmup <= total and total >= 1, got warmup "
                    + warmup + ", total " + total);
        }
    }
}
