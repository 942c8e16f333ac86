package jlisa.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import jlisa.gpu.CudaLibraries.Candidate;
import jlisa.gpu.CudaLibraries.Library;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where the CUDA libraries are looked for, and what is said when they are not there. */
class CudaLibrariesTest {
    @TempDir Path dir;

    @Test void aSystemPropertyIsTheOnlyPlaceTriedAndAMissingFileIsReported() {
        List<Candidate> c = CudaLibraries.candidates(Library.DRIVER, Map.of("jlisa.cuda.driver", "/nonexistent/libcuda.so.1")::get,
                Map.of("JLISA_CUDA_DRIVER", "/elsewhere/libcuda.so.1")::get, List.of(dir));
        assertThat(c).containsExactly(new Candidate("/nonexistent/libcuda.so.1", "-Djlisa.cuda.driver"));
        Cuda.Availability a = Cuda.open(c, c, c);
        assertThat(a).isInstanceOf(Cuda.Unavailable.class);
        assertThat(((Cuda.Unavailable) a).reason()).isEqualTo("cannot load the CUDA driver: /nonexistent/libcuda.so.1 "
                + "(-Djlisa.cuda.driver): no such file; give its path with -Djlisa.cuda.driver or $JLISA_CUDA_DRIVER");
    }

    @Test void theEnvironmentVariableComesNextThenFoldersNewestNameFirstThenTheSystemLoader() throws IOException {
        List<Candidate> env = CudaLibraries.candidates(Library.CUBLAS, Map.<String, String>of()::get,
                Map.of("JLISA_CUBLAS", "/opt/x/libcublas.so.12")::get, List.of(dir));
        assertThat(env).containsExactly(new Candidate("/opt/x/libcublas.so.12", "$JLISA_CUBLAS"));

        Path old = Files.createDirectories(dir.resolve("old")), fresh = Files.createDirectories(dir.resolve("new"));
        Files.writeString(old.resolve("libcublas.so.12"), "");
        Files.writeString(fresh.resolve("libcublas.so.13"), "");
        List<Candidate> found = CudaLibraries.candidates(Library.CUBLAS, Map.<String, String>of()::get,
                Map.<String, String>of()::get, List.of(old, fresh));
        assertThat(found).extracting(Candidate::location).containsExactly(fresh.resolve("libcublas.so.13").toString(),
                old.resolve("libcublas.so.12").toString(), "libcublas.so.13", "libcublas.so.12", "libcublas.so");
        assertThat(found.get(0).how()).isEqualTo("found in " + fresh);
        assertThat(found.get(2).how()).isEqualTo("system loader");
    }

    @Test void aNameTheSystemLoaderCannotResolveSaysWhyItDidNotLoad() {
        List<Candidate> c = List.of(new Candidate("libjlisa_no_such_library.so.9", "system loader"));
        Cuda.Availability a = Cuda.open(c, c, c);
        assertThat(((Cuda.Unavailable) a).reason()).isEqualTo("cannot load the CUDA driver: libjlisa_no_such_library.so.9 "
                + "(system loader) would not load (not there, or a library it needs is not); give its path with "
                + "-Djlisa.cuda.driver or $JLISA_CUDA_DRIVER");
    }

    @Test void theUsualFoldersIncludeTheToolkitTheSystemAndPyTorchsWheels() {
        assertThat(CudaLibraries.usualFolders()).extracting(Path::toString).contains("/usr/local/cuda/lib64", "/usr/lib",
                "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib");
    }
}
