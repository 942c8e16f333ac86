package jlisa.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.util.concurrent.atomic.AtomicReference;

import jlisa.tensor.Backends;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.MatMul;
import org.junit.jupiter.api.Test;

/**
 * {@link GpuChecks} against the fake CUDA library (test-only, built from src/test/native with g++), plus what
 * only a fake can show: failures name the call and its result, the allocator's out-of-memory retry, and
 * the context being made current on every thread that calls in.
 */
class FakeCudaTest extends GpuChecks {

    @Override CudaDevice device() { return FakeCuda.device(); }

    @Test void theDeviceDescribesItselfAndWhereItsLibrariesCameFrom() {
        CudaDevice d = device();
        assertThat(d.summary()).contains("jlisa fake CUDA device", "compute 9.0", "2 SMs", "driver CUDA 13.0", "cuBLAS 13.1.2",
                "NVRTC 13.0");
        assertThat(d.libraries()).contains("fake for tests");
        assertThat(d.kernelArchitecture).isEqualTo(90);
        assertThat(d.memoryInfo()[1]).isEqualTo(d.totalMemoryBytes);
    }

    @Test void driverFailuresNameTheCallAndTheResult() {
        CudaBackend backend = backend(Precision.FP32);
        device().emptyCache();
        FakeCuda.failNext("cuMemAlloc_v2", 1);   // (out of memory is retried: see below)
        assertThatThrownBy(() -> backend.zeros(MemoryKind.OTHER, 10)).isInstanceOf(CudaException.class)
                .hasMessage("cuMemAlloc_v2 failed: CUDA_ERROR_INVALID_VALUE (1)");
        FakeCuda.failNext("cublasSgemm_v2", 7);
        assertThatThrownBy(() -> backend.gemm(1, Tensor.ones(3, 3), Tensor.ones(3, 3), 0, Tensor.zeros(3, 3)))
                .isInstanceOf(CudaException.class).hasMessage("cublasSgemm_v2 failed: CUBLAS_STATUS_INVALID_VALUE (7)");
        FakeCuda.failNext("cuLaunchKernel", 700);
        Tensor t = backend.zeros(MemoryKind.OTHER, 10);
        assertThatThrownBy(() -> backend.scale(t, 2)).isInstanceOf(CudaException.class)
                .hasMessageContaining("cuLaunchKernel failed: CUDA_ERROR_ILLEGAL_ADDRESS (700)").hasMessageContaining("scale_f32");
    }

    @Test void outOfMemoryEmptiesTheCacheAndTriesOnce() {
        CudaBackend backend = backend(Precision.FP32);
        Tensor cached = backend.zeros(MemoryKind.OTHER, 1 << 16);
        cached.storage().release();   // now a cached block
        long frees = FakeCuda.count("cuMemFree_v2");
        FakeCuda.failNext("cuMemAlloc_v2", 2);
        Tensor t = backend.zeros(MemoryKind.OTHER, 3 << 16);   // another size class: the cache cannot serve it
        assertThat(t.toFloatArray()).containsOnly(0f);
        assertThat(FakeCuda.count("cuMemFree_v2")).isGreaterThan(frees);
    }

    @Test void outOfMemoryWithNothingCachedCollectsUnreleasedTensorsAndTriesAgain() {
        CudaBackend backend = backend(Precision.FP32);
        device().emptyCache();
        FakeCuda.failNext("cuMemAlloc_v2", 2);   // nothing cached: the allocator cannot help, the collector may
        Tensor t = backend.zeros(MemoryKind.OTHER, 5 << 16);
        assertThat(t.toFloatArray()).containsOnly(0f);
    }

    @Test void nvrtcFailuresCarryTheCompilerLog() {
        Nvrtc nvrtc = new Nvrtc(NativeLibrary.open(FakeCuda.library().toString(), Arena.global()));
        assertThatThrownBy(() -> nvrtc.compile("#error broken\n", "broken.cu", CudaKernels.options(90), Arena.ofAuto()))
                .isInstanceOf(CudaException.class)
                .hasMessageContaining("nvrtcCompileProgram failed: NVRTC_ERROR_COMPILATION (6)")
                .hasMessageContaining("broken.cu(1): error: #error directive");
        assertThat(nvrtc.version()).containsExactly(13, 0);
        assertThat(CudaDevice.architecture(90, nvrtc.supportedArchitectures())).isEqualTo(90);
        assertThat(CudaDevice.architecture(95, nvrtc.supportedArchitectures())).isEqualTo(90);
    }

    @Test void everyThreadThatCallsInGetsTheContext() throws Exception {
        CudaBackend backend = backend(Precision.FP32);
        Rng rng = new Rng(21);
        Tensor a = Tensor.randn(rng, 8, 8), b = Tensor.randn(rng, 8, 8);
        Tensor expected = a.matmul(b);
        AtomicReference<Tensor> got = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread other = new Thread(() -> {
            try (var gpu = Backends.use(backend)) {
                got.set(a.matmul(b));
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        other.start();
        other.join();
        assertThat(failure.get()).isNull();
        assertThat(relativeError(got.get().toFloatArray(), expected.toFloatArray())).isLessThanOrEqualTo(1e-5);
    }

    @Test void benchmarksRunOnDeviceMemoryAndGiveItBack() {
        CudaBackend backend = backend(Precision.TF32);
        jlisa.tensor.MemoryLedger.collectGarbage();   // other tests' unreachable device tensors are un-counted first
        long other = jlisa.tensor.MemoryLedger.live(MemoryKind.OTHER, true);
        assertThat(GpuBenchmarks.gemmTflops(backend, 24, "TN")).isPositive().isFinite();
        assertThat(GpuBenchmarks.adamwTerabytesPerSecond(backend, 4099)).isPositive().isFinite();
        assertThat(jlisa.tensor.MemoryLedger.live(MemoryKind.OTHER, true)).isEqualTo(other);
    }

    @Test void aBackendRefusesTensorsOfAnotherDevicesMemory() {
        CudaBackend backend = backend(Precision.FP32);
        jlisa.tensor.HostMemoryBackend other = new jlisa.tensor.HostMemoryBackend(0);
        Tensor foreign = other.zeros(MemoryKind.OTHER, 4);
        assertThatThrownBy(() -> backend.sumOfSquares(foreign)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected a tensor in this CUDA device's memory");
        assertThat(backend.gemm(1, other.zeros(MemoryKind.OTHER, 4, 4), Tensor.ones(4, 4), 0, Tensor.zeros(4, 4))).isFalse();
        Tensor foreignOutput = other.zeros(MemoryKind.OTHER, 4, 4);
        assertThat(backend.gemm(1, Tensor.ones(4, 4), Tensor.ones(4, 4), 0, foreignOutput)).isFalse();
        try (var gpu = Backends.use(backend)) {   // the output's owner takes the product, not the active backend
            MatMul.gemm(1, Tensor.ones(4, 4), Tensor.ones(4, 4), 0, foreignOutput);
        }
        assertThat(foreignOutput.toFloatArray()).containsOnly(4f);
    }
}
