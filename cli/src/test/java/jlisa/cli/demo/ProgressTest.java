package jlisa.cli.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class ProgressTest {

    @Test
    void quietPrintsNothingAnywhere() {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream capture = new PrintStream(captured, true, StandardCharsets.UTF_8);
        System.setOut(capture);
        System.setErr(capture);
        try (Progress bar = Progress.start("pretrain", 100, true)) {
            for (int step = 1; step <= 100; step++) bar.update(step, 2.5, 1000);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        assertThat(captured.size()).isZero();
    }

    @Test
    void withoutATerminalPrintsAFewWholeLinesWithStepsLossAndTokensPerSecond() {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8);
        Progress bar = Progress.start("finetune lisa", 1000, Progress.Mode.LINES, out, true);
        for (int step = 1; step <= 1000; step++) bar.update(step, 1.2345, 4321);
        bar.close();
        bar.close();
        bar.update(5, 1, 1); // after close: ignored

        String text = captured.toString(StandardCharsets.UTF_8);
        String[] lines = text.split("\n");
        assertThat(text).doesNotContain("\r");
        assertThat(lines.length).isBetween(1, 12);
        String last = lines[lines.length - 1];
        assertThat(last).startsWith("finetune lisa 100%").contains("1000/1000 steps").contains("loss 1.2345, 4321 tok/s");
    }

    @Test
    void formatsLargeThroughputInThousands() {
        assertThat(Progress.message(0.5, 123_456)).isEqualTo("loss 0.5000, 123.5k tok/s");
        assertThat(Progress.message(0.5, Double.NaN)).isEqualTo("loss 0.5000, - tok/s");
    }

    @Test
    void rejectsAnEmptyRun() {
        assertThatThrownBy(() -> Progress.start("x", 0, true)).hasMessageContaining("expected at least 1 step, got 0");
    }

    @Test
    void noColorFollowsTheNoColorConvention() {
        assertThat(Progress.noColor(java.util.Map.of("NO_COLOR", "1"))).isTrue();
        assertThat(Progress.noColor(java.util.Map.of("NO_COLOR", ""))).isFalse();   // set but empty: no effect
        assertThat(Progress.noColor(java.util.Map.of())).isFalse();
    }

    @Test
    void aTerminalBarHasColourUnlessNoColorAsks() throws Exception {
        for (boolean color : new boolean[] {true, false}) {
            ByteArrayOutputStream captured = new ByteArrayOutputStream();
            PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8);
            try (Progress bar = Progress.start("pretrain", 10, Progress.Mode.TERMINAL, out, color)) {
                for (int step = 1; step <= 10; step++) bar.update(step, 1.0, 100);
            }
            String text = captured.toString(StandardCharsets.UTF_8);
            assertThat(text).contains("pretrain");
            // the colourful style wraps the bar in ANSI colour codes (ESC [ ... m); the plain one has none
            if (color) assertThat(text).contains("\u001b[");
            else assertThat(text).doesNotContain("\u001b[");
        }
    }
}
