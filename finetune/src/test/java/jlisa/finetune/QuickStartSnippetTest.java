package jlisa.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's Java fine-tune, exactly as it stands there, compiles against the API and runs to a saved model. */
class QuickStartSnippetTest {
    static final Path README = Path.of("../README.md");

    /** The Java between the README's quickstart markers, without the code fence. */
    static String snippet() throws IOException {
        String readme = Files.readString(README);
        int begin = readme.indexOf("<!-- quickstart:begin -->"), end = readme.indexOf("<!-- quickstart:end -->");
        assertThat(begin).as("README.md has a quickstart:begin marker").isNotNegative();
        assertThat(end).as("README.md has a quickstart:end marker after it").isGreaterThan(begin);
        List<String> lines = readme.substring(begin, end).lines().toList();
        int open = lines.indexOf("```java"), close = lines.lastIndexOf("```");
        assertThat(open).as("a ```java fence inside the markers").isPositive();
        assertThat(close).isGreaterThan(open);
        return String.join("\n", lines.subList(open + 1, close)) + "\n";
    }

    @Test
    void theReadmeSnippetIsAtMostThirtyLines() throws IOException {
        assertThat(snippet().lines().count()).isLessThanOrEqualTo(30);
    }

    @Test
    void theReadmeSnippetCompilesAndFineTunes(@TempDir Path tmp) throws Exception {
        Path src = tmp.resolve("src/example/QuickStart.java"), classes = tmp.resolve("classes");
        Files.createDirectories(src.getParent());
        Files.createDirectories(classes);
        Files.writeString(src, snippet());
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = javac.run(null, diagnostics, diagnostics, "-d", classes.toString(),
                "-classpath", System.getProperty("java.class.path"), src.toString());
        assertThat(rc).as(diagnostics.toString(StandardCharsets.UTF_8)).isZero();

        Path model = TinyModels.llamaDirectory(tmp.resolve("model"));
        Path data = TinyModels.reverseJsonl(tmp.resolve("train.jsonl"), 40);
        Path out = tmp.resolve("out");
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, getClass().getClassLoader());
             PrintStream capture = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            Method main = loader.loadClass("example.QuickStart").getMethod("main", String[].class);
            main.invoke(null, (Object) new String[] {model.toString(), data.toString(), out.toString()});
        } finally {
            System.setOut(stdout);
        }
        String text = printed.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("step 1/20").contains("step 20/20").containsPattern("eval loss \\d+\\.\\d{4}");
        assertThat(out.resolve("config.json")).isRegularFile();
        assertThat(out.resolve("model.safetensors")).isRegularFile();
    }
}
