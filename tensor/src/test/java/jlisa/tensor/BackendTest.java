package jlisa.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jlisa.tensor.kernels.MatMul;
import org.junit.jupiter.api.Test;

/** The backend SPI, through a backend whose "device memory" is Java arrays. */
class BackendTest {

    @Test void noBackendIsActiveByDefaultAndUseRestoresThePreviousOne() {
        assertThat(Backends.active()).isNull();
        HostMemoryBackend outer = new HostMemoryBackend(0), inner = new HostMemoryBackend(0);
        try (var a = Backends.use(outer)) {
            assertThat(Backends.active()).isSameAs(outer);
            try (var b = Backends.use(inner)) {
                assertThat(Backends.active()).isSameAs(inner);
                try (var cpu = Backends.use(null)) {
                    assertThat(Backends.active()).isNull();
                }
                assertThat(Backends.active()).isSameAs(inner);
            }
            assertThat(Backends.active()).isSameAs(outer);
        }
        assertThat(Backends.active()).isNull();
    }

    @Test void twoThreadsUseDifferentBackendsAtOnceAndAThirdStaysOnTheCpu() throws Exception {
        HostMemoryBackend first = new HostMemoryBackend(0), second = new HostMemoryBackend(0);
        java.util.concurrent.CyclicBarrier bothActive = new java.util.concurrent.CyclicBarrier(3);
        Tensor a = Tensor.randn(new Rng(3), 64, 64);
        Tensor expected = a.matmul(a);
        java.util.List<Throwable> failures = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        Runnable cpu = () -> run(failures, () -> {
            bothActive.await();
            assertThat(Backends.active()).isNull();
            assertThat(a.matmul(a).toFloatArray()).containsExactly(expected.toFloatArray());
        });
        Thread[] threads = {new Thread(onBackend(first, a, expected, bothActive, failures)),
                new Thread(onBackend(second, a, expected, bothActive, failures)), new Thread(cpu)};
        for (Thread t : threads) t.start();
        for (Thread t : threads) t.join();
        assertThat(failures).isEmpty();
        // 64³·2 flops fork over the kernel pool on the CPU; each backend took only its own thread's 3 products.
        assertThat(first.gemmsTaken).isEqualTo(3);
        assertThat(second.gemmsTaken).isEqualTo(3);
        assertThat(Backends.active()).isNull();
    }

    private static Runnable onBackend(HostMemoryBackend backend, Tensor a, Tensor expected,
                                      java.util.concurrent.CyclicBarrier bothActive, java.util.List<Throwable> failures) {
        return () -> run(failures, () -> {
            try (var use = Backends.use(backend)) {
                bothActive.await();
                for (int i = 0; i < 3; i++) {
                    assertThat(Backends.active()).isSameAs(backend);
                    assertThat(a.matmul(a).toFloatArray()).containsExactly(expected.toFloatArray());
                }
            }
            assertThat(Backends.active()).isNull();
        });
    }

    private interface Body { void run() throws Exception; }

    private static void run(java.util.List<Throwable> failures, Body body) {
        try {
            body.run();
        } catch (Throwable t) {
            failures.add(t);
        }
    }

    @Test void matmulAsksTheActiveBackendFirstAndGetsTheCpuResult() {
        Rng rng = new Rng(1);
        Tensor a = Tensor.randn(rng, 2, 5, 7), b = Tensor.randn(rng, 7, 3);
        Tensor expected = a.matmul(b);
        HostMemoryBackend backend = new HostMemoryBackend(0);
        Tensor got;
        try (var gpu = Backends.use(backend)) {
            got = a.matmul(b.t().contiguous().t());   // a transposed view goes to the backend as it is
        }
        assertThat(backend.gemmsTaken).isEqualTo(1);
        assertThat(got.storage().isCpu()).isTrue();
        assertThat(got.toFloatArray()).containsExactly(expected.toFloatArray());
    }

    @Test void productsTheBackendDeclinesRunOnTheCpu() {
        Rng rng = new Rng(2);
        HostMemoryBackend backend = new HostMemoryBackend(1_000_000);
        Tensor a = Tensor.randn(rng, 0, 1, DType.F64, 4, 4), b = Tensor.randn(rng, 0, 1, DType.F64, 4, 4);
        Tensor small = Tensor.randn(rng, 3, 3);
        Tensor expected64 = a.matmul(b), expectedSmall = small.matmul(small);
        try (var gpu = Backends.use(backend)) {
            assertThat(a.matmul(b).toDoubleArray()).containsExactly(expected64.toDoubleArray());
            assertThat(small.matmul(small).toFloatArray()).containsExactly(expectedSmall.toFloatArray());
        }
        assertThat(backend.gemmCalls).isEqualTo(2);
        assertThat(backend.gemmsTaken).isZero();
    }

    @Test void gemmIntoDeviceMemoryGoesToTheBackendThatOwnsIt() {
        HostMemoryBackend backend = new HostMemoryBackend(0);
        Tensor a = Tensor.ones(2, 3), b = Tensor.ones(3, 4);
        Tensor c = backend.zeros(MemoryKind.ACTIVATION, 2, 4);
        MatMul.gemm(1, a, b, 0, c);   // no active backend: the output's owner takes it (a device-resident model)
        assertThat(c.toFloatArray()).containsOnly(3f);
        HostMemoryBackend declines = new HostMemoryBackend(Long.MAX_VALUE);
        Tensor d = declines.zeros(MemoryKind.ACTIVATION, 2, 4);
        assertThatThrownBy(() -> MatMul.gemm(1, a, b, 0, d))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("did not take the product");
    }

    @Test void deviceMemoryIsCountedApartFromHostMemory() {
        HostMemoryBackend backend = new HostMemoryBackend(0);
        long host = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, false);
        long device = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, true);
        Tensor t = backend.zeros(MemoryKind.OPTIMIZER_STATE, 10, 10);
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, true)).isEqualTo(device + 400);
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, false)).isEqualTo(host);
        t.storage().release();
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE, true)).isEqualTo(device);
    }

    @Test void valuesCrossBetweenHostAndDeviceThroughEveryLayout() {
        Rng rng = new Rng(3);
        HostMemoryBackend backend = new HostMemoryBackend(0);
        Tensor host = Tensor.randn(rng, 4, 6);
        Tensor dev = backend.toDevice(host, MemoryKind.OTHER);
        assertThat(dev.storage()).isInstanceOf(DeviceStorage.class);
        assertThat(dev.toHost().toFloatArray()).containsExactly(host.toFloatArray());
        // strided views of device memory, read and written
        assertThat(dev.t().toHost().toFloatArray()).containsExactly(host.t().toFloatArray());
        assertThat(dev.narrow(1, 2, 3).toFloatArray()).containsExactly(host.narrow(1, 2, 3).toFloatArray());
        Tensor column = Tensor.of(new float[] {1, 2, 3, 4}, 4, 1);
        dev.narrow(1, 5, 1).copyFrom(column);
        host.narrow(1, 5, 1).copyFrom(column);
        assertThat(dev.toFloatArray()).containsExactly(host.toFloatArray());
        // broadcast and dtype conversion on the way in, device to device
        dev.copyFrom(Tensor.full(2.5, DType.F64, 6));
        assertThat(dev.toFloatArray()).containsOnly(2.5f);
        Tensor other = backend.zeros(MemoryKind.OTHER, 6, 4);
        other.copyFrom(dev.t());
        assertThat(other.toFloatArray()).containsOnly(2.5f);
    }

    @Test void deviceTensorsPrintAndGiveTheirValueThroughAHostCopy() {
        HostMemoryBackend backend = new HostMemoryBackend(0);
        Tensor dev = backend.toDevice(Tensor.of(new float[] {1, 2, 3}, 3), MemoryKind.OTHER);
        assertThat(dev.toString()).startsWith("tensor([1.0000, 2.0000, 3.0000]");
        assertThat(dev.narrow(0, 1, 1).item()).isEqualTo(2.0);
        assertThat(dev.copy().storage()).as("a copy stays where the tensor is").isInstanceOf(DeviceStorage.class);
        assertThat(dev.copy().toHost().storage()).isInstanceOf(HeapStorage.class);
    }

    @Test void cpuKernelsNeverReadDeviceMemoryElementByElement() {
        HostMemoryBackend backend = new HostMemoryBackend(0);
        Tensor dev = backend.toDevice(Tensor.ones(2, 2), MemoryKind.OTHER);
        assertThatThrownBy(dev::dense).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("device memory").hasMessageContaining("toHost()");
        assertThatThrownBy(dev::floatArray).isInstanceOf(IllegalStateException.class).hasMessageContaining("not on the heap");
        assertThatThrownBy(() -> dev.storage().get(0)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("host-memory device memory");
        assertThatThrownBy(() -> dev.fill(1)).isInstanceOf(IllegalStateException.class);
        // a kernel given a device tensor hands the call to its backend; one that has no kernel for it says so,
        // rather than moving the values through host memory behind the caller's back
        int before = backend.transfers;
        assertThatThrownBy(() -> dev.mulInPlace(2)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("host-memory has no device kernel for binary mul");
        assertThatThrownBy(() -> dev.add(Tensor.ones(2, 2))).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("host-memory has no device kernel for binary add");
        assertThatThrownBy(() -> dev.sum(0)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("no device kernel for sum");
        assertThat(backend.transfers).isEqualTo(before);
    }
}
