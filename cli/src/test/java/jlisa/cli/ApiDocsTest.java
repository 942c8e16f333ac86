package jlisa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * The resource-and-thread contract as written down: every public top-level type in every module's main sources
 * says in its class javadoc whether it is thread-safe. Reads the sources (the cli module's tests run in cli/, one
 * level below the project root), so a new public class without the sentence fails here, naming the file.
 */
class ApiDocsTest {
    private static final Pattern PUBLIC_TYPE = Pattern.compile(
            "^public\\s+(?:(?:final|abstract|sealed|non-sealed|static)\\s+)*(?:class|interface|record|enum|@interface)\\s+\\w+",
            Pattern.MULTILINE);

    @Test
    void everyPublicClassSaysWhetherItIsThreadSafe() throws IOException {
        Path root = Path.of("..").toAbsolutePath().normalize();
        assertThat(root.resolve("tensor/src/main/java")).as("project root from cli/").isDirectory();
        List<String> undocumented = new ArrayList<>();
        int checked = 0;
        try (Stream<Path> files = Files.walk(root, 12)) {
            for (Path f : files.filter(ApiDocsTest::isMainSource).sorted().toList()) {
                String src = Files.readString(f);
                Matcher m = PUBLIC_TYPE.matcher(src);
                if (!m.find()) continue;
                checked++;
                String before = src.substring(0, m.start());
                int doc = before.lastIndexOf("/**");
                String javadoc = doc < 0 ? "" : before.substring(doc);
                if (!javadoc.toLowerCase().contains("thread")) undocumented.add(root.relativize(f).toString());
            }
        }
        assertThat(checked).as("public types found").isGreaterThan(100);
        assertThat(undocumented).as("public classes whose javadoc does not say whether they are thread-safe").isEmpty();
    }

    private static boolean isMainSource(Path f) {
        String s = f.toString().replace('\\', '/');
        String name = f.getFileName().toString();
        return s.contains("/src/main/java/") && name.endsWith(".java") && !name.equals("module-info.java")
                && !name.equals("package-info.java") && !s.contains("/target/") && !s.contains("/examples/");
    }
}
