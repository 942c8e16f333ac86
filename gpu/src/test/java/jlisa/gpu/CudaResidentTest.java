package jlisa.gpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeEach;

/**
 * {@link ResidentChecks} on this machine's NVIDIA GPU; each test is skipped, with the reason, where there is none (as
 * in CI). {@code gpu/device-check.sh} runs it on the GPU machine.
 */
class CudaResidentTest extends ResidentChecks {

    @BeforeEach void needsAGpu() {
        Cuda.Availability a = Cuda.availability();
        assumeTrue(a instanceof Cuda.Available, () -> "no CUDA GPU: " + ((Cuda.Unavailable) a).reason());
    }

    @Override CudaDevice device() { return Cuda.device(); }
}
