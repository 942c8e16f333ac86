package jlisa.cli.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every chapter of docs/learn/ runs as the reader would run it, its stated outputs match, and its exercise's check
 * fails on the stub and passes with the worked solution.
 */
class CourseTest {
    static final Path COURSE = Path.of("../docs/learn");

    static { System.setProperty("jlisa.learn.out", "target/learn-output"); }   // the chapters' pictures stay in target/

    @TestFactory
    Stream<DynamicTest> everyChapterRunsAndItsExerciseIsChecked() {
        List<Chapter> chapters = Chapter.all(COURSE);
        assertThat(chapters).as("chapters in " + COURSE).isNotEmpty();
        return chapters.stream().map(c -> DynamicTest.dynamicTest(c.file().getFileName().toString(), () -> {
            assertThat(c.solution()).as(c.file() + ": the exercise's solution in solutions/").isPresent();
            try (ChapterRunner runner = new ChapterRunner(ChapterRunner.currentClassPath())) {
                runner.run(c);
                assertThatThrownBy(() -> runner.runSource("checkExercise();", c.file() + " check with the stub"))
                        .as("the exercise check must fail before the reader's answer").isInstanceOf(ChapterRunner.ChapterException.class);
                runner.runSource(Files.readString(c.solution().get()), c.solution().get().toString());
                runner.runSource("checkExercise();", c.file() + " check with the solution");
            }
        }));
    }

    @Test
    void theRunnerCatchesWrongOutputsFailingSnippetsAndNamesTheLine(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("01-good.md"), """
                # 1. Good
                Text.
                ```java
                Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
                System.out.println(Arrays.toString(t.shape()));
                int twice(int x) { return 2 * x; }
                ```
                ```output
                [2, 2]
                ```
                ```java
                System.out.println(twice(21));
                ```
                """);
        Chapter good = Chapter.read(dir.resolve("01-good.md"));
        assertThat(good.title()).isEqualTo("1. Good");
        assertThat(good.blocks()).hasSize(2);
        try (ChapterRunner runner = new ChapterRunner(ChapterRunner.currentClassPath())) {
            var results = runner.run(good);
            assertThat(results.get(1).output()).isEqualTo("42\n");
        }
        Files.writeString(dir.resolve("02-wrong.md"), "# 2. Wrong\n```java\nSystem.out.println(1 + 1);\n```\n```output\n3\n```\n");
        Files.writeString(dir.resolve("03-throws.md"), "# 3. Throws\ntext\n```java\nint a = 1;\nint b = a / 0;\n```\n");
        Files.writeString(dir.resolve("04-bad.md"), "# 4. Bad\n```java\nint c = \"not an int\";\n```\n");
        try (ChapterRunner runner = new ChapterRunner(ChapterRunner.currentClassPath())) {
            assertThatThrownBy(() -> runner.run(Chapter.read(dir.resolve("02-wrong.md"))))
                    .hasMessageContaining("02-wrong.md:3: the block printed\n2");
            assertThatThrownBy(() -> runner.run(Chapter.read(dir.resolve("03-throws.md"))))
                    .hasMessageContaining("03-throws.md:5: java.lang.ArithmeticException");
            assertThatThrownBy(() -> runner.run(Chapter.read(dir.resolve("04-bad.md"))))
                    .hasMessageContaining("does not compile").hasMessageContaining("incompatible types");
        }
        Files.writeString(dir.resolve("05-open.md"), "# 5. Open\n```java\nint x = 1;\n");
        assertThatThrownBy(() -> Chapter.read(dir.resolve("05-open.md"))).hasMessageContaining("05-open.md:2: a ```java block is not closed");
    }
}
