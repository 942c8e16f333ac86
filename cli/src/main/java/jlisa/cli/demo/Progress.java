package jlisa.cli.demo;

import java.io.Console;
import java.io.PrintStream;
import java.util.Locale;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar for a training loop: steps, ETA, loss and tokens/s.
 *
 * <pre>{@code
 * try (Progress bar = Progress.start("pretrain", steps, quiet)) {
 *     for (long step = 1; step <= steps; step++) { ...; bar.update(step, loss, tokensPerSecond); }
 * }
 * }</pre>
 *
 * Everything goes to stderr, so stdout stays clean for tables and {@code --json}. Three modes:
 * <ul>
 *   <li>quiet: prints nothing and starts no thread;</li>
 *   <li>a terminal: a bar redrawn in place ({@code \r}) five times a second;</li>
 *   <li>not a terminal (a pipe, a log file, CI, tests): ASCII lines, one at the start, one per
 *       further 10% of the steps and one at the end, each ending in a newline — at most 12 lines
 *       per bar, so logs stay readable instead of filling with carriage-return redraws.</li>
 * </ul>
 */
public final class Progress implements AutoCloseable {

    /** How a bar shows itself; {@link #start(String, long, boolean)} picks one from the environment. */
    enum Mode { QUIET, TERMINAL, LINES }

    private static final Progress SILENT = new Progress(null, 0, null);

    private final ProgressBar bar;
    private final long totalSteps;
    private final ProgressLines lines;
    private boolean closed;

    private Progress(ProgressBar bar, long totalSteps, ProgressLines lines) {
        this.bar = bar;
        this.totalSteps = totalSteps;
        this.lines = lines;
    }

    /**
     * Starts a bar for {@code totalSteps} steps of {@code task} on stderr; with {@code quiet} it prints
     * nothing. A redrawn bar on a terminal, periodic lines otherwise (see the class comment).
     */
    public static Progress start(String task, long totalSteps, boolean quiet) {
        return start(task, totalSteps, quiet ? Mode.QUIET : stderrIsTerminal() ? Mode.TERMINAL : Mode.LINES,
                System.err, !noColor());
    }

    /**
     * True when the environment asks for no ANSI colour (https://no-color.org: {@code NO_COLOR} set and not
     * empty): help text and bars are then plain.
     */
    public static boolean noColor() { return noColor(System.getenv()); }

    static boolean noColor(java.util.Map<String, String> env) {
        String v = env.get("NO_COLOR");
        return v != null && !v.isEmpty();
    }

    static Progress start(String task, long totalSteps, Mode mode, PrintStream out, boolean color) {
        if (totalSteps < 1) {
            throw new IllegalArgumentException("progress '" + task + "': expected at least 1 step, got " + totalSteps);
        }
        if (mode == Mode.QUIET) return SILENT;
        ProgressBarBuilder builder = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(totalSteps)
                .setUnit(" steps", 1)
                .setMaxRenderedLength(120);
        if (mode == Mode.TERMINAL) {
            ProgressBar bar = builder.setStyle(color ? ProgressBarStyle.COLORFUL_UNICODE_BLOCK : ProgressBarStyle.UNICODE_BLOCK)
                    .setUpdateIntervalMillis(200)
                    .setConsumer(new ConsoleProgressBarConsumer(out))
                    .build();
            return new Progress(bar, totalSteps, null);
        }
        ProgressLines lines = new ProgressLines(out, totalSteps, 120);
        ProgressBar bar = builder.setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(250)
                .setConsumer(lines)
                .build();
        return new Progress(bar, totalSteps, lines);
    }

    /** Moves the bar to {@code step} (1-based, of {@code totalSteps}) and shows the latest loss and tokens/s. */
    public void update(long step, double loss, double tokensPerSecond) {
        if (bar == null || closed) return;
        long clamped = Math.max(0, Math.min(step, totalSteps));
        if (lines != null) lines.step = clamped;
        bar.setExtraMessage(message(loss, tokensPerSecond));
        bar.stepTo(clamped);
    }

    /** Draws the final state and stops the bar's thread; further updates are ignored. Idempotent. */
    @Override
    public void close() {
        if (bar == null || closed) return;
        closed = true;
        bar.close();
    }

    static String message(double loss, double tokensPerSecond) {
        String tps = !Double.isFinite(tokensPerSecond) ? "-"
                : tokensPerSecond >= 10_000 ? String.format(Locale.ROOT, "%.1fk", tokensPerSecond / 1000)
                : String.format(Locale.ROOT, "%.0f", tokensPerSecond);
        return String.format(Locale.ROOT, "loss %.4f, %s tok/s", loss, tps);
    }

    private static boolean stderrIsTerminal() {
        // System.console() exists when stdin and stdout are a terminal; isTerminal() (JDK 22+) says so
        // for the JLine-backed console too. stderr redirected alone still draws; rare, and harmless.
        Console console = System.console();
        return console != null && console.isTerminal();
    }
}
