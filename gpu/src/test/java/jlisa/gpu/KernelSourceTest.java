package jlisa.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CUDA C that NVRTC compiles at run time, compiled here by nvcc with the same options (and assembled
 * by ptxas for Hopper), so a kernel that would not compile on the GPU machine fails in CI instead. Skipped
 * where nvcc is not installed.
 */
class KernelSourceTest {
    @TempDir Path dir;

    private static Path tool(String name) {
        List<Path> places = new ArrayList<>();
        String home = System.getenv("CUDA_HOME");
        if (home != null) places.add(Path.of(home, "bin", name));
        places.add(Path.of("/usr/local/cuda/bin", name));
        for (String p : System.getenv().getOrDefault("PATH", "").split(":")) if (!p.isEmpty()) places.add(Path.of(p, name));
        return places.stream().filter(Files::isExecutable).findFirst().orElse(null);
    }

    private static String run(Path dir, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).as("%s finished", command[0]).isTrue();
        assertThat(p.exitValue()).as("%s exit code; output:%n%s", String.join(" ", command), out).isZero();
        return out;
    }

    @Test void everyKernelCompilesWithNvccAndAssemblesForHopper() throws Exception {
        Path nvcc = tool("nvcc"), ptxas = tool("ptxas");
        assumeTrue(nvcc != null && ptxas != null, "nvcc and ptxas are not installed");
        Files.writeString(dir.resolve("kernels.cu"), CudaKernels.SOURCE);
        List<String> command = new ArrayList<>(List.of(nvcc.toString(), "-ptx", "-arch=sm_90"));
        for (String option : CudaKernels.options(90)) {
            if (!option.startsWith("--gpu-architecture")) command.add(option);   // -arch stands for it
        }
        command.addAll(List.of("kernels.cu", "-o", "kernels.ptx"));
        run(dir, command.toArray(String[]::new));
        String ptx = Files.readString(dir.resolve("kernels.ptx"));
        for (String entry : CudaKernels.ENTRIES) assertThat(ptx).contains(".entry " + entry + "(");
        // --fmad=false: AdamW's arithmetic is not contracted (it must round as the CPU does); the math library's
        // expf/logf that other kernels call use fused multiply-adds of their own, by design.
        for (String entry : java.util.List.of(CudaKernels.ADAMW, CudaKernels.ADAMW_X4)) {
            int at = ptx.indexOf(".entry " + entry + "("), end = ptx.indexOf(".entry ", at + 1);
            assertThat(ptx.substring(at, end < 0 ? ptx.length() : end)).as("%s: no contracted multiply-adds", entry)
                    .doesNotContain("fma.rn.f32");
        }
        run(dir, ptxas.toString(), "-arch=sm_90", "kernels.ptx", "-o", "kernels.cubin");
        assertThat(dir.resolve("kernels.cubin")).isNotEmptyFile();
    }
}
