package jlisa.transformer.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {

    @Test
    void writesReplacesAndLeavesNoTemporaryBehind(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("config.json");
        AtomicFiles.write(f, "{\"a\": 1}".getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(f, "{\"a\": 2}".getBytes(StandardCharsets.UTF_8));
        assertThat(Files.readString(f)).isEqualTo("{\"a\": 2}");
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("config.json");
        }
    }

    @Test
    void theFileGetsTheModeOfAnyNewFileNotTheTemporaryFilesPrivateOne(@TempDir Path dir) throws Exception {
        assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"));
        Path plain = Files.write(dir.resolve("plain.txt"), new byte[] {1});   // mode from the umask
        Path atomic = dir.resolve("atomic.txt");
        AtomicFiles.write(atomic, new byte[] {1});
        assertThat(Files.getPosixFilePermissions(atomic)).isEqualTo(Files.getPosixFilePermissions(plain));
    }
}
