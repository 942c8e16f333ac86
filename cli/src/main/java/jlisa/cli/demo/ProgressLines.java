package jlisa.cli.demo;

import java.io.PrintStream;

import me.tongfei.progressbar.ProgressBarConsumer;

/**
 * Turns the bar's periodic renders into log lines: the first render, the first render after each
 * further 10% of the steps, and the last render when the bar closes. Everything else is dropped.
 * The library renders on one shared thread and its close() waits for a final render there, so the
 * render seen last, at {@link #close()}, is the final state.
 */
final class ProgressLines implements ProgressBarConsumer {
    private final PrintStream out;
    private final long totalSteps;
    private final int maxLength;
    volatile long step;
    private int printedDecile = -1;
    private String latest;
    private String printed;
    private boolean closed;

    ProgressLines(PrintStream out, long totalSteps, int maxLength) {
        this.out = out;
        this.totalSteps = totalSteps;
        this.maxLength = maxLength;
    }

    @Override
    public int getMaxRenderedLength() {
        return maxLength;
    }

    @Override
    public synchronized void accept(String rendered) {
        if (closed) return;
        latest = rendered.strip();
        int decile = (int) Math.min(10, step * 10 / totalSteps);
        if (decile > printedDecile) {
            printedDecile = decile;
            print();
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (latest != null && !latest.equals(printed)) print();  // 100% was already printed when nothing changed since
    }

    private void print() {
        out.println(latest);
        out.flush();
        printed = latest;
    }
}
