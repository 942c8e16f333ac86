package jlisa.gpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * {@link GpuChecks} on this machine's NVIDIA GPU; each test is skipped, with the reason, where there is
 * none (as in CI). {@code gpu/device-check.sh} runs it on the GPU machine.
 */
class CudaDeviceTest extends GpuChecks {

    @BeforeAll static void describeTheDevice() {
        if (Cuda.availability() instanceof Cuda.Available a) {
            System.out.println("CUDA device: " + a.device().summary() + "\n  libraries: " + a.device().libraries());
        }
    }

    @BeforeEach void needsAGpu() {
        Cuda.Availability a = Cuda.availability();
        assumeTrue(a instanceof Cuda.Available, () -> "no CUDA GPU: " + ((Cuda.Unavailable) a).reason());
    }

    @Override CudaDevice device() { return Cuda.device(); }
}
