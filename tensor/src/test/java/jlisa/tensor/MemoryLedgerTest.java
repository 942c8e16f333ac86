package jlisa.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * The ledger is global and the collector may un-count other tests' garbage at any moment, so exact
 * figures are asserted only for kinds that no other tensor test allocates (parameter, gradient,
 * optimizer state); the collector test uses activations.
 */
@Isolated
class MemoryLedgerTest {

    @Test
    void countsAKnownSequenceOfAllocationsExactly() {
        long param0 = MemoryLedger.live(MemoryKind.PARAMETER), grad0 = MemoryLedger.live(MemoryKind.GRADIENT);
        long state0 = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE), act0 = MemoryLedger.live(MemoryKind.ACTIVATION);
        long total0 = MemoryLedger.liveTotal();
        long other0 = MemoryLedger.live(MemoryKind.OTHER);
        MemoryLedger.resetPeaks();

        Tensor w = Tensor.zeros(DType.F32, MemoryKind.PARAMETER, 100, 10);         // 4000 bytes
        Tensor wBf16 = Tensor.zeros(DType.BF16, MemoryKind.PARAMETER, 50);           // 100 bytes
        Tensor g;
        try (var scope = MemoryLedger.scope(MemoryKind.GRADIENT)) {
            g = Tensor.zeros(100, 10);                                               // 4000 bytes
            try (var inner = MemoryLedger.scope(MemoryKind.OPTIMIZER_STATE)) {
                Tensor m = Tensor.zeros(DType.F64, 100, 10);                         // 8000 bytes
                assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE) - state0).isEqualTo(8000);
                m.storage().release();
                m.storage().release();                                               // idempotent
            }
            assertThat(MemoryLedger.currentKind()).isEqualTo(MemoryKind.GRADIENT);
        }
        assertThat(MemoryLedger.currentKind()).isEqualTo(MemoryKind.OTHER);
        Tensor view = g.t();                                                          // views allocate nothing
        assertThat(view.storage()).isSameAs(g.storage());

        assertThat(MemoryLedger.live(MemoryKind.PARAMETER) - param0).isEqualTo(4100);
        assertThat(MemoryLedger.live(MemoryKind.GRADIENT) - grad0).isEqualTo(4000);
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE) - state0).isZero();
        assertThat(MemoryLedger.peak(MemoryKind.OPTIMIZER_STATE) - state0).isEqualTo(8000);
        assertThat(MemoryLedger.live(MemoryKind.ACTIVATION)).isLessThanOrEqualTo(act0);    // nothing here was an activation
        assertThat(MemoryLedger.live(MemoryKind.OTHER)).isLessThanOrEqualTo(other0);  // nothing here was OTHER
        assertThat(MemoryLedger.peakTotal() - total0).isGreaterThanOrEqualTo(16100);

        g.storage().release();
        assertThat(MemoryLedger.live(MemoryKind.GRADIENT) - grad0).isZero();
        assertThat(MemoryLedger.peak(MemoryKind.GRADIENT) - grad0).isEqualTo(4000);
        MemoryLedger.resetPeaks();
        assertThat(MemoryLedger.peak(MemoryKind.GRADIENT)).isEqualTo(MemoryLedger.live(MemoryKind.GRADIENT));
        w.storage().release();
        wBf16.storage().release();
        assertThat(MemoryLedger.live(MemoryKind.PARAMETER)).isEqualTo(param0);
        assertThat(MemoryLedger.report()).contains("parameter live=").contains("total live=");
    }

    @Test
    void relabelMovesBytesBetweenKindsWithoutACopy() {
        long grad0 = MemoryLedger.live(MemoryKind.GRADIENT), state0 = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE);
        Tensor t = Tensor.zeros(DType.F32, MemoryKind.OPTIMIZER_STATE, 25);
        t.storage().relabel(MemoryKind.GRADIENT);
        assertThat(t.storage().kind()).isEqualTo(MemoryKind.GRADIENT);
        assertThat(MemoryLedger.live(MemoryKind.GRADIENT) - grad0).isEqualTo(100);
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE)).isEqualTo(state0);
        t.storage().release();
        t.storage().relabel(MemoryKind.OPTIMIZER_STATE);                            // no effect once released
        assertThat(t.storage().isReleased()).isTrue();
        assertThat(MemoryLedger.live(MemoryKind.GRADIENT)).isEqualTo(grad0);
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE)).isEqualTo(state0);
    }

    @Test
    void trackerRecordsOneThreadsAllocationsAndReleasesAllButTheKept() {
        long state0 = MemoryLedger.live(MemoryKind.OPTIMIZER_STATE);
        Tensor kept, inner;
        try (var outer = MemoryLedger.track()) {
            Tensor a = Tensor.zeros(DType.F32, MemoryKind.OPTIMIZER_STATE, 10);
            try (var nested = MemoryLedger.track()) {
                inner = Tensor.zeros(DType.F32, MemoryKind.OPTIMIZER_STATE, 20);
                assertThat(nested.storages()).containsExactly(inner.storage());
            }
            kept = a.add(1.0);                                                        // OTHER, kept
            assertThat(outer.storages()).hasSize(4);                                  // a, inner, the scalar 1.0, kept
            assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE) - state0).isEqualTo(120);
            outer.releaseAllExcept(java.util.List.of(kept.storage()));
            assertThat(a.storage().isReleased()).isTrue();
        }
        assertThat(kept.storage().isReleased()).isFalse();
        assertThat(inner.storage().isReleased()).isTrue();
        assertThat(MemoryLedger.live(MemoryKind.OPTIMIZER_STATE)).isEqualTo(state0);
        Tensor after = Tensor.zeros(3);                                               // no tracker open now
        assertThat(after.storage().isReleased()).isFalse();
    }

    @Test
    void unreachableStoragesAreUncountedByTheCollector() throws InterruptedException {
        long before = MemoryLedger.live(MemoryKind.ACTIVATION);
        try (var scope = MemoryLedger.scope(MemoryKind.ACTIVATION)) {
            for (int i = 0; i < 100; i++) Tensor.zeros(1000);                       // dropped at once
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (MemoryLedger.live(MemoryKind.ACTIVATION) > before && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertThat(MemoryLedger.live(MemoryKind.ACTIVATION)).isEqualTo(before);
    }
}
