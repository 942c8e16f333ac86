package jlisa.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import jlisa.gpu.Cuda;
import org.junit.jupiter.api.Test;

/** --device and --precision where there is no GPU (as in CI): clear one-line errors, never a silent CPU run. */
class DeviceOptionsTest {
    private static String[] run(String... args) { return MainTest.run(args); }

    private static void assumeNoGpu() {
        assumeTrue(Cuda.availability() instanceof Cuda.Unavailable, "this machine has a GPU");
    }

    @Test void askingForCudaWithoutAGpuIsAOneLineErrorWithExitCode2() {
        assumeNoGpu();
        for (String[] command : new String[][] {{"bench", "gemm", "--device", "cuda", "--n", "64"},
                {"bench", "train", "--device", "cuda", "--steps", "1", "--warmup", "0"},
                {"finetune", "--preset", "llama-tiny", "--tokens", "no-such-file.txt", "--device", "cuda"}}) {
            String[] r = run(command);
            assertThat(r[0]).as(String.join(" ", command)).isEqualTo("2");
            assertThat(r[2].strip()).as(String.join(" ", command)).startsWith("jlisa: --device cuda: no usable CUDA GPU: ")
                    .doesNotContain("\n");
            assertThat(r[1]).as("nothing ran").doesNotContain("step", "gflops");
        }
    }

    @Test void autoSaysWhyItRunsOnTheCpuAndRuns() {
        assumeNoGpu();
        String[] r = run("bench", "gemm", "--device", "auto", "--n", "32", "--threads", "1");
        assertThat(r[0]).isEqualTo("0");
        assertThat(r[2]).startsWith("jlisa: running on the CPU: no usable CUDA GPU (");
        assertThat(r[1].strip()).matches("gemm n=32 layout=NN threads=1 gflops=[0-9]+\\.[0-9]");
    }

    @Test void reducedPrecisionWithoutAGpuAndUnknownDevicesAreRefused() {
        String[] r = run("bench", "gemm", "--precision", "bf16", "--n", "32");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("--precision bf16 applies to GPU products; add --device cuda");
        r = run("bench", "gemm", "--device", "tpu", "--n", "32");
        assertThat(r[2]).contains("--device must be cpu, cuda or auto, got 'tpu'");
        r = run("bench", "gemm", "--device", "auto", "--precision", "fp16", "--n", "32");
        assertThat(r[2]).contains("--precision must be fp32, tf32 or bf16, got 'fp16'");
    }

    @Test void infoDeviceSaysWhatItFoundOrWhy() {
        String[] r = run("info", "--device");
        assertThat(r[0]).isEqualTo("0");
        if (Cuda.availability() instanceof Cuda.Unavailable u) assertThat(r[1]).contains("gpu       none: " + u.reason());
        else assertThat(r[1]).contains("compute   ", "versions  driver CUDA ", "libraries driver ");
    }
}
