package jlisa.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class VectorModuleCheckTest {

    /** Run in a JVM started without {@code --add-modules jdk.incubator.vector}. */
    public static final class FirstOp {
        public static void main(String[] args) {
            System.out.println(Tensor.ones(2).add(Tensor.ones(2)).sum().item());
        }
    }

    @Test
    void withoutTheVectorModuleTheFirstUseSaysWhichFlagIsMissing() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classes = Path.of(Tensor.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        String testClasses = Path.of(FirstOp.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        Process p = new ProcessBuilder(List.of(java, "-cp", classes + File.pathSeparator + testClasses, FirstOp.class.getName()))
                .redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).isNotZero();
        assertThat(out).contains("NoClassDefFoundError: jlisa needs the JDK's Vector API module: start java with "
                + "--add-modules jdk.incubator.vector");
    }
}
