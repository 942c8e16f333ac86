package jlisa.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

/** A model's or run's own view of the ledger: what it allocated, whatever other threads do meanwhile. */
class MemoryLedgerAccountTest {

    @Test void storageAllocatedWhileChargedCountsInTheAccountAndInTheProcessTotals() {
        MemoryLedger.Account account = new MemoryLedger.Account("model a");
        long globalBefore = MemoryLedger.live(MemoryKind.PARAMETER);
        Tensor t;
        try (var charge = account.charge()) {
            assertThat(MemoryLedger.chargedAccounts()).containsExactly(account);
            t = Tensor.zeros(DType.F32, MemoryKind.PARAMETER, 10, 10);
        }
        Tensor outside = Tensor.zeros(DType.F32, MemoryKind.PARAMETER, 7);
        assertThat(MemoryLedger.chargedAccounts()).isEmpty();
        assertThat(account.live(MemoryKind.PARAMETER)).isEqualTo(400);
        assertThat(account.liveTotal()).isEqualTo(400);
        assertThat(MemoryLedger.live(MemoryKind.PARAMETER) - globalBefore).isGreaterThanOrEqualTo(428);
        t.storage().release();
        outside.storage().release();
        assertThat(account.liveTotal()).isZero();
        assertThat(account.peak(MemoryKind.PARAMETER)).isEqualTo(400);
        assertThat(account.peakTotal()).isEqualTo(400);
        account.resetPeaks();
        assertThat(account.peakTotal()).isZero();
    }

    @Test void aReleaseOnAnotherThreadIsCreditedToTheAccountThatAllocated() throws Exception {
        MemoryLedger.Account owner = new MemoryLedger.Account("owner"), other = new MemoryLedger.Account("other");
        Tensor t;
        try (var charge = owner.charge()) {
            t = Tensor.zeros(DType.F32, MemoryKind.ACTIVATION, 256);
        }
        Thread freer = new Thread(() -> {
            try (var charge = other.charge()) {
                t.storage().release();
            }
        });
        freer.start();
        freer.join();
        assertThat(owner.live(MemoryKind.ACTIVATION)).isZero();
        assertThat(owner.peak(MemoryKind.ACTIVATION)).isEqualTo(1024);
        assertThat(other.live(MemoryKind.ACTIVATION)).isZero();
        assertThat(other.peak(MemoryKind.ACTIVATION)).isZero();
    }

    @Test void nestedChargesCountInEveryOpenAccountOnce() {
        MemoryLedger.Account run = new MemoryLedger.Account("run"), model = new MemoryLedger.Account("model");
        Tensor inner, outer;
        try (var r = run.charge()) {
            outer = Tensor.zeros(DType.F32, MemoryKind.GRADIENT, 10);
            try (var m = model.charge(); var again = run.charge()) {
                assertThat(MemoryLedger.chargedAccounts()).containsExactly(run, model);
                inner = Tensor.zeros(DType.F32, MemoryKind.PARAMETER, 100);
            }
            assertThat(MemoryLedger.chargedAccounts()).containsExactly(run);
        }
        assertThat(run.liveTotal()).isEqualTo(440);
        assertThat(model.liveTotal()).isEqualTo(400);
        assertThat(model.live(MemoryKind.GRADIENT)).isZero();
        inner.storage().release();
        outer.storage().release();
        assertThat(run.liveTotal()).isZero();
        assertThat(model.liveTotal()).isZero();
    }

    @Test void aRelabelledStorageStaysInItsAccountUnderTheNewKind() {
        MemoryLedger.Account account = new MemoryLedger.Account("run");
        Tensor t;
        try (var charge = account.charge()) {
            t = Tensor.zeros(DType.F32, MemoryKind.ACTIVATION, 50);
        }
        t.storage().relabel(MemoryKind.GRADIENT);   // e.g. on another thread, outside the charge
        assertThat(account.live(MemoryKind.ACTIVATION)).isZero();
        assertThat(account.live(MemoryKind.GRADIENT)).isEqualTo(200);
        assertThat(account.liveTotal()).isEqualTo(200);
        t.storage().release();
        assertThat(account.liveTotal()).isZero();
    }

    @Test void anAccountForgottenWithoutReleaseIsCreditedWhenTheCollectorFindsItsStorage() {
        MemoryLedger.Account account = new MemoryLedger.Account("leaky");
        try (var charge = account.charge()) {
            Tensor.zeros(DType.F32, MemoryKind.OTHER, 1000);   // unreachable at once
        }
        assertThat(account.peakTotal()).isEqualTo(4000);
        for (int i = 0; i < 10 && account.liveTotal() != 0; i++) MemoryLedger.collectGarbage();
        assertThat(account.liveTotal()).isZero();
    }

    @Test void twoThreadsAllocatingAtOnceEachSeeOnlyTheirOwnBytes() throws Exception {
        MemoryLedger.Account a = new MemoryLedger.Account("a"), b = new MemoryLedger.Account("b");
        CyclicBarrier together = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> fa = pool.submit(() -> allocateAndFree(a, 1_000, together));
            Future<?> fb = pool.submit(() -> allocateAndFree(b, 3_000, together));
            fa.get();
            fb.get();
        } finally {
            pool.shutdownNow();
        }
        // Each thread held 20 storages of its size at once, interleaved with the other's.
        assertThat(a.peak(MemoryKind.ACTIVATION)).isEqualTo(20 * 4_000L);
        assertThat(b.peak(MemoryKind.ACTIVATION)).isEqualTo(20 * 12_000L);
        assertThat(a.liveTotal()).isZero();
        assertThat(b.liveTotal()).isZero();
    }

    private static Void allocateAndFree(MemoryLedger.Account account, int floats, CyclicBarrier together) throws Exception {
        Tensor[] held = new Tensor[20];
        try (var charge = account.charge()) {
            together.await();
            for (int i = 0; i < held.length; i++) {
                held[i] = Tensor.zeros(DType.F32, MemoryKind.ACTIVATION, floats);
                Thread.yield();
            }
            together.await();
        }
        for (Tensor t : held) t.storage().release();
        return null;
    }

    @Test void anAccountNeedsAName() {
        assertThatThrownBy(() -> new MemoryLedger.Account(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("name");
    }
}
