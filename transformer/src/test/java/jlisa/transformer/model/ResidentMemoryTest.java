package jlisa.transformer.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import jlisa.autograd.Parameter;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Storage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Closing a model gives its memory back to the operating system, not only to the ledger: the weights are mapped
 * off-heap, so unmapping them must make the process's resident set shrink. (Heap storage goes back to the JVM,
 * which keeps it for reuse, so only off-heap memory can be checked this way.)
 */
class ResidentMemoryTest {
    private static final Path STATUS = Path.of("/proc/self/status");

    /** VmRSS of this process in bytes, from /proc/self/status (Linux). */
    private static long residentBytes() throws IOException {
        for (String line : Files.readAllLines(STATUS)) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
        throw new IllegalStateException(STATUS + " has no VmRSS line");
    }

    @Test void closingALoadedModelGivesItsMappedWeightsBackToTheOperatingSystem(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isReadable(STATUS), "needs Linux's /proc/self/status");
        // About 160 MB of F32 weights: the tied 32768 × 1024 embedding and one block. Zeros need no random init.
        GPT2.Config config = GPT2.Config.of(32768, 64, 1024, 1, 8);
        try (CausalLM built = new GPT2(config, null, "resident-test")) {
            Models.save(built, dir);
        }
        MemoryLedger.collectGarbage();   // the built model's heap copy is garbage; let the heap settle first
        long parametersBefore = MemoryLedger.live(MemoryKind.PARAMETER);
        long before = residentBytes();

        CausalLM model = Models.load(dir);
        long bytes = 0;
        double sum = 0;
        for (Parameter p : model.namedParameters().values()) {
            Storage s = p.data().storage();
            assertThat(s).isInstanceOf(SegmentStorage.class);   // mapped, off-heap
            bytes += s.byteSize();
            for (long i = 0; i < s.length(); i += 512) sum += s.get(i);   // touch every page, so it becomes resident
        }
        assertThat(sum).isFinite();   // using the values keeps the JIT from skipping the reads
        assertThat(bytes).isGreaterThan(150L << 20);
        assertThat(model.memory().live(MemoryKind.PARAMETER)).isEqualTo(bytes);
        // loading made no heap copy: the placeholders the weights were loaded into held no memory (zero-filled
        // arrays of the model's size would have doubled the resident set while loading, and the peak here)
        assertThat(model.memory().peak(MemoryKind.PARAMETER)).isLessThan(bytes + (1L << 20));
        assertThat(MemoryLedger.live(MemoryKind.PARAMETER) - parametersBefore).isEqualTo(bytes);
        long loaded = residentBytes();
        // Generous margins: the machine is shared and the JVM's own footprint moves a little meanwhile.
        assertThat(loaded - before).as("resident set rose by most of the %d mapped bytes", bytes).isGreaterThan(bytes * 6 / 10);

        model.close();
        long closed = residentBytes();
        assertThat(model.memory().liveTotal()).isZero();
        assertThat(MemoryLedger.live(MemoryKind.PARAMETER)).isEqualTo(parametersBefore);
        assertThat(loaded - closed).as("resident set fell by most of the %d mapped bytes", bytes).isGreaterThan(bytes * 6 / 10);
    }
}
