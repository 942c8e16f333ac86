package jlisa.optim.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetsTest {
    /** One id per char: hand-checkable. */
    static final TextEncoder CHARS = s -> s.chars().toArray();

    @TempDir Path dir;

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    }

    @Test
    void tokenFileGivesOneFullyCountedExamplePerLineAndSkipsBlankLines() throws IOException {
        Path f = write("t.txt", "1 2 3\n\n  4\t5  \n7\n");
        List<Example> ex = Datasets.readTokens(f);
        assertThat(ex).hasSize(3);
        assertThat(ex.get(0).ids()).containsExactly(1, 2, 3);
        assertThat(ex.get(1).ids()).containsExactly(4, 5);
        assertThat(ex.get(2).ids()).containsExactly(7);
        assertThat(ex.get(1).lossMask()).containsExactly(true, true);
    }

    @Test
    void malformedTokenLineNamesFileAndLine() throws IOException {
        Path f = write("bad.txt", "1 2\n3 x 4\n");
        assertThatThrownBy(() -> Datasets.readTokens(f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(f + ":2: expected integer token ids")
                .hasMessageContaining("'x' (token 2)");
        Path neg = write("neg.txt", "1\n\n5 -3\n");
        assertThatThrownBy(() -> Datasets.readTokens(neg)).hasMessageContaining(neg + ":3: token ids must be >= 0, got -3");
    }

    @Test
    void notUtf8IsAnIoErrorNamingTheFile() throws IOException {
        Path f = Files.write(dir.resolve("bin.txt"), new byte[] {'1', ' ', (byte) 0xC3, (byte) 0x28});
        assertThatThrownBy(() -> Datasets.readTokens(f)).isInstanceOf(IOException.class).hasMessageContaining(f + ": not valid UTF-8");
    }

    @Test
    void plainTextIsOneDocumentPerParagraphWithEosAfterEach() throws IOException {
        Path f = write("p.txt", "\uFEFFab\ncd\n\n  \n\nef\n");
        List<Example> ex = Datasets.readText(f, CHARS, OptionalInt.of(0));
        assertThat(ex).hasSize(2);
        assertThat(ex.get(0).ids()).containsExactly('a', 'b', '\n', 'c', 'd', 0);
        assertThat(ex.get(1).ids()).containsExactly('e', 'f', 0);
        assertThat(ex.get(0).lossMask()).containsOnly(true);

        List<Example> noEos = Datasets.readText(f, CHARS, OptionalInt.empty());
        assertThat(noEos.get(1).ids()).containsExactly('e', 'f');
    }

    @Test
    void encoderFailureNamesTheParagraphsFirstLine() throws IOException {
        Path f = write("p.txt", "ok\n\nboom\nmore\n");
        TextEncoder failing = s -> {
            if (s.startsWith("boom")) throw new IllegalStateException("no merge");
            return CHARS.encode(s);
        };
        assertThatThrownBy(() -> Datasets.readText(f, failing, OptionalInt.empty()))
                .hasMessageContaining(f + ":3: the encoder failed: no merge");
    }

    @Test
    void jsonlPromptTokensAreIgnoredResponseAndEosCount() throws IOException {
        Path f = write("d.jsonl", "{\"prompt\": \"Hi\", \"response\": \"yo\", \"id\": 7}\n");
        Example e = Datasets.readJsonl(f, CHARS, OptionalInt.of(9)).getFirst();
        assertThat(e.ids()).containsExactly('H', 'i', '\n', '\n', 'y', 'o', 9);
        assertThat(e.lossMask()).containsExactly(false, false, false, false, true, true, true);

        Example noEos = Datasets.readJsonl(f, CHARS, OptionalInt.empty()).getFirst();
        assertThat(noEos.ids()).containsExactly('H', 'i', '\n', '\n', 'y', 'o');
        assertThat(noEos.lossMask()).containsExactly(false, false, false, false, true, true);
    }

    @Test
    void alpacaTemplateAddsInputOnlyWhenNonEmpty() throws IOException {
        Path f = write("a.jsonl", """
                {"instruction": "Do", "input": "x\\u00e9", "output": "ok"}

                {"instruction": "Go", "input": "", "output": "k"}
                {"instruction": "Up", "output": "u"}
                """);
        List<Example> ex = Datasets.readJsonl(f, CHARS, OptionalInt.empty());
        assertThat(ex).hasSize(3);
        assertThat(text(ex.get(0), false)).isEqualTo("Do\n\nxé\n\n");
        assertThat(text(ex.get(0), true)).isEqualTo("ok");
        assertThat(text(ex.get(1), false)).isEqualTo("Go\n\n");
        assertThat(text(ex.get(1), true)).isEqualTo("k");
        assertThat(text(ex.get(2), false)).isEqualTo("Up\n\n");
    }

    @Test
    void malformedJsonlNamesFileLineAndWhatIsWrong() throws IOException {
        assertJsonlBad("{\"prompt\": \"a\", \"response\": \"b\"}\n{\"prompt\": \"a\"\n", ":2: column 15: expected ',' or '}'");
        assertJsonlBad("\n{\"prompt\": \"a\"}\n", ":2: missing field \"response\"");
        assertJsonlBad("{\"instruction\": \"a\", \"input\": \"\"}\n", ":1: missing field \"output\"");
        assertJsonlBad("{\"prompt\": \"a\", \"response\": 3}\n", ":1: field \"response\" must be a string");
        assertJsonlBad("{\"question\": \"a\", \"answer\": \"b\"}\n", ":1: expected {\"prompt\", \"response\"} or {\"instruction\"");
        assertJsonlBad("{\"prompt\": [\"a\"], \"response\": \"b\"}\n", ":1: column 12: value of \"prompt\" is a nested object or array");
    }

    private void assertJsonlBad(String content, String message) throws IOException {
        Path f = write("bad.jsonl", content);
        assertThatThrownBy(() -> Datasets.readJsonl(f, CHARS, OptionalInt.empty()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(f + message);
    }

    /** The chars of the tokens whose mask is {@code counted}. */
    private static String text(Example e, boolean counted) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < e.length(); i++) if (e.lossMask()[i] == counted) sb.appendCodePoint(e.ids()[i]);
        return sb.toString();
    }

    @Test
    void splitHoldsOutTheRoundedFractionDisjointlyAndInOrder() {
        List<Example> all = new ArrayList<>();
        for (int i = 0; i < 50; i++) all.add(Example.of(i));
        Datasets.Split s = Datasets.split(all, 0.1, 3);
        assertThat(s.eval()).hasSize(5);
        assertThat(s.train()).hasSize(45);
        Set<Example> union = new HashSet<>(s.train());
        union.addAll(s.eval());
        assertThat(union).hasSize(50);   // disjoint and complete (records of arrays compare by identity)
        assertThat(s.eval()).isSortedAccordingTo((a, b) -> Integer.compare(a.ids()[0], b.ids()[0]));
        assertThat(s.train()).isSortedAccordingTo((a, b) -> Integer.compare(a.ids()[0], b.ids()[0]));

        assertThat(Datasets.split(all, 0.1, 3).eval()).isEqualTo(s.eval());
        assertThat(Datasets.split(all, 0.1, 4).eval()).isNotEqualTo(s.eval());
        assertThat(Datasets.split(all, 0.0, 3).eval()).isEmpty();
        assertThat(Datasets.split(all.subList(0, 3), 0.01, 3).eval()).hasSize(1);
        assertThat(Datasets.split(all.subList(0, 2), 0.99, 3).train()).hasSize(1);
        assertThatThrownBy(() -> Datasets.split(all, 1.0, 3)).hasMessageContaining("must be in [0, 1), got 1.0");
    }
}
