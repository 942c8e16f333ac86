package jlisa.gpu;

/** {@link ResidentChecks} against the fake CUDA library (test-only, built from src/test/native with g++). */
class FakeResidentTest extends ResidentChecks {
    @Override CudaDevice device() { return FakeCuda.device(); }
}
