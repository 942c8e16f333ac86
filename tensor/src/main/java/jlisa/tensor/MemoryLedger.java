package jlisa.tensor;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Exact count of live and peak bytes per {@link MemoryKind}, for every storage that is allocated.
 *
 * <p>Each {@link Storage} records its bytes when it is created and releases them exactly once: when
 * {@link Storage#release()} is called, or, failing that, when the garbage collector finds it
 * unreachable. Counters are plain atomics, cheap enough to leave on. Host memory and device memory
 * are counted apart ({@link #live(MemoryKind, boolean)}), since they are different budgets.
 *
 * <p>The kind of a new storage comes from the allocating code: either an explicit argument or the
 * innermost {@link #scope(MemoryKind)} of the allocating thread (default {@link MemoryKind#OTHER}).
 *
 * <p>The static counters are the whole process's. An {@link Account} is one model's or one run's view: storage
 * allocated on a thread while the account is {@linkplain Account#charge() charged} counts in it as well, and its
 * release is credited back to the same account whatever thread frees it, so two runs in one JVM each see their own
 * bytes.
 *
 * <p>Thread-safe: the counters are atomics shared by all threads; the kind scope, the charged accounts and the
 * trackers are per thread.
 */
public final class MemoryLedger {
    private static final int KINDS = MemoryKind.values().length;
    /** Index [device ? 1 : 0][kind]; the last column is the total. */
    private static final AtomicLong[][] LIVE = counters();
    private static final AtomicLong[][] PEAK = counters();
    private static final ThreadLocal<MemoryKind> CURRENT = ThreadLocal.withInitial(() -> MemoryKind.OTHER);
    private static final ThreadLocal<Tracker> TRACKER = new ThreadLocal<>();
    private static final Account[] NO_ACCOUNTS = {};
    /** The accounts charged on this thread, outermost first; an immutable array, replaced on every charge. */
    private static final ThreadLocal<Account[]> CHARGED = ThreadLocal.withInitial(() -> NO_ACCOUNTS);

    private MemoryLedger() {}

    private static AtomicLong[][] counters() {
        AtomicLong[][] c = new AtomicLong[2][KINDS + 1];
        for (AtomicLong[] row : c) for (int i = 0; i < row.length; i++) row[i] = new AtomicLong();
        return c;
    }

    /** The kind new storages get on this thread when none is given explicitly. */
    public static MemoryKind currentKind() { return CURRENT.get(); }

    /**
     * Makes {@code kind} the default for allocations on this thread until the returned scope is
     * closed; scopes nest. Use with try-with-resources.
     */
    public static Scope scope(MemoryKind kind) {
        if (kind == null) throw new IllegalArgumentException("scope: kind must not be null");
        MemoryKind previous = CURRENT.get();
        CURRENT.set(kind);
        return () -> CURRENT.set(previous);
    }

    /** A scope opened by {@link #scope(MemoryKind)}; closing it restores the previous kind. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override void close();
    }

    /**
     * Starts recording every storage this thread allocates until the tracker is closed; trackers
     * nest (an inner one records only its own span). Autograd uses it to release an op's
     * temporaries the moment the op returns, instead of whenever the collector runs.
     */
    public static Tracker track() {
        Tracker t = new Tracker(TRACKER.get());
        TRACKER.set(t);
        return t;
    }

    /**
     * Hides this thread's allocations from its open trackers until the returned scope is closed: for storages that
     * must outlive the op that makes them, such as a backend's cached copy of tables every layer reads.
     */
    public static Scope untracked() {
        Tracker previous = TRACKER.get();
        TRACKER.set(null);
        return () -> TRACKER.set(previous);
    }

    /** The storages allocated on one thread while it was open; see {@link #track()}. */
    public static final class Tracker implements AutoCloseable {
        private final Tracker outer;
        private final java.util.ArrayList<Storage> storages = new java.util.ArrayList<>();
        private boolean closed;

        private Tracker(Tracker outer) { this.outer = outer; }

        /** What was allocated so far, in order. */
        public java.util.List<Storage> storages() { return java.util.Collections.unmodifiableList(storages); }

        /**
         * Releases every recorded storage except those in {@code keep} (compared by identity), e.g. an
         * op's output and what it saved for backward.
         */
        public void releaseAllExcept(java.util.Collection<Storage> keep) {
            java.util.Set<Storage> k = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            k.addAll(keep);
            for (Storage s : storages) if (!k.contains(s)) s.release();
        }

        /** Releases every recorded storage whose kind is one of {@code kinds}. */
        public void releaseKinds(MemoryKind... kinds) {
            java.util.Set<MemoryKind> k = java.util.EnumSet.noneOf(MemoryKind.class);
            k.addAll(java.util.Arrays.asList(kinds));
            for (Storage s : storages) if (k.contains(s.kind())) s.release();
        }

        @Override public void close() {
            if (closed) return;
            closed = true;
            if (TRACKER.get() == this) TRACKER.set(outer);
            if (outer != null) outer.storages.addAll(storages);   // the enclosing span saw these too
        }
    }

    /** Called by every new storage: records it with this thread's open tracker, if any. */
    static void track(Storage s) {
        Tracker t = TRACKER.get();
        if (t != null) t.storages.add(s);
    }

    /**
     * Counts {@code bytes} as newly allocated in the process's totals only, not in any {@link Account} (a backend's
     * scratch memory that belongs to no model). Storages call {@link #charge} instead.
     */
    public static void allocated(MemoryKind kind, boolean device, long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("allocated: bytes must be >= 0, got " + bytes);
        add(LIVE, PEAK, kind, device, bytes);
    }

    /** Counts {@code bytes} as released from the process's totals; the counterpart of {@link #allocated}. */
    public static void released(MemoryKind kind, boolean device, long bytes) {
        subtract(LIVE, kind, device, bytes);
    }

    /**
     * Counts a new storage's bytes in the process's totals and in every account charged on this thread, and returns
     * those accounts, which the storage keeps so that {@link #release} credits the same ones from any thread.
     */
    static Account[] charge(MemoryKind kind, boolean device, long bytes) {
        add(LIVE, PEAK, kind, device, bytes);
        Account[] accounts = CHARGED.get();
        for (Account a : accounts) add(a.live, a.peak, kind, device, bytes);
        return accounts;
    }

    /** Counts a relabelled storage's bytes under their new kind, in the totals and in the accounts it was charged to. */
    static void recharge(MemoryKind kind, boolean device, long bytes, Account[] accounts) {
        add(LIVE, PEAK, kind, device, bytes);
        for (Account a : accounts) add(a.live, a.peak, kind, device, bytes);
    }

    /** Un-counts what {@link #charge} counted: the process's totals and the same {@code accounts}. */
    static void release(MemoryKind kind, boolean device, long bytes, Account[] accounts) {
        subtract(LIVE, kind, device, bytes);
        for (Account a : accounts) subtract(a.live, kind, device, bytes);
    }

    private static void add(AtomicLong[][] liveCounters, AtomicLong[][] peakCounters, MemoryKind kind, boolean device, long bytes) {
        AtomicLong[] live = liveCounters[device ? 1 : 0], peak = peakCounters[device ? 1 : 0];
        long k = live[kind.ordinal()].addAndGet(bytes);
        peak[kind.ordinal()].accumulateAndGet(k, Math::max);
        long t = live[KINDS].addAndGet(bytes);
        peak[KINDS].accumulateAndGet(t, Math::max);
    }

    private static void subtract(AtomicLong[][] liveCounters, MemoryKind kind, boolean device, long bytes) {
        AtomicLong[] live = liveCounters[device ? 1 : 0];
        live[kind.ordinal()].addAndGet(-bytes);
        live[KINDS].addAndGet(-bytes);
    }

    /** The accounts new storages on this thread are charged to, outermost first (empty: the process's totals only). */
    public static java.util.List<Account> chargedAccounts() { return java.util.List.of(CHARGED.get()); }

    /**
     * One model's or one run's share of the ledger: live and peak bytes per kind, on the host and on devices, of
     * the storages allocated while it was {@linkplain #charge() charged} on the allocating thread. Charges nest: an
     * allocation counts in every account charged on its thread (a run's account and, inside it, its model's), and
     * once in the process's totals. A storage remembers its accounts, so its release is credited to them whatever
     * thread frees it. Thread-safe: the counters are atomics; a charge is confined to the thread that opened it.
     */
    public static final class Account {
        private final String name;
        private final AtomicLong[][] live = counters(), peak = counters();

        /** A new, empty account; {@code name} is for reports (a model's directory, a run's method). */
        public Account(String name) {
            if (name == null || name.isBlank()) throw new IllegalArgumentException("account: a name is required");
            this.name = name;
        }

        public String name() { return name; }

        /**
         * Charges storage allocated on this thread to this account (as well as to the accounts already charged here)
         * until the returned scope is closed. Opening it again inside itself changes nothing. Use with
         * try-with-resources on the thread that allocates.
         */
        public Scope charge() {
            Account[] previous = CHARGED.get();
            for (Account a : previous) if (a == this) return () -> {};
            Account[] now = java.util.Arrays.copyOf(previous, previous.length + 1);
            now[previous.length] = this;
            CHARGED.set(now);
            return () -> CHARGED.set(previous);
        }

        /** Live host bytes of one kind. */
        public long live(MemoryKind kind) { return live(kind, false); }

        /** Peak host bytes of one kind since the account was made or its last {@link #resetPeaks()}. */
        public long peak(MemoryKind kind) { return peak(kind, false); }

        /** Live bytes of one kind, on the host or on a device. */
        public long live(MemoryKind kind, boolean device) { return live[device ? 1 : 0][kind.ordinal()].get(); }

        /** Peak bytes of one kind, on the host or on a device. */
        public long peak(MemoryKind kind, boolean device) { return peak[device ? 1 : 0][kind.ordinal()].get(); }

        /** Live host bytes of all kinds. */
        public long liveTotal() { return live[0][KINDS].get(); }

        /** Peak of the live host total. */
        public long peakTotal() { return peak[0][KINDS].get(); }

        /** Live device bytes of all kinds. */
        public long liveDeviceTotal() { return live[1][KINDS].get(); }

        /** Peak device bytes of all kinds. */
        public long peakDeviceTotal() { return peak[1][KINDS].get(); }

        /** Sets every peak to the current live value, so a new phase can be measured. */
        public void resetPeaks() {
            for (int d = 0; d < 2; d++) for (int i = 0; i <= KINDS; i++) peak[d][i].set(live[d][i].get());
        }

        /** A one-line report as {@link MemoryLedger#report()}'s, of this account, headed by its name. */
        public String report() {
            return name + ": " + MemoryLedger.report(this::live, this::peak, liveTotal(), peakTotal());
        }

        @Override public String toString() { return "MemoryLedger.Account(" + name + ")"; }
    }

    /** Live host bytes of one kind. */
    public static long live(MemoryKind kind) { return live(kind, false); }

    /** Peak host bytes of one kind since the last {@link #resetPeaks()}. */
    public static long peak(MemoryKind kind) { return peak(kind, false); }

    /** Live bytes of one kind, on the host or on a device. */
    public static long live(MemoryKind kind, boolean device) { return LIVE[device ? 1 : 0][kind.ordinal()].get(); }

    /** Peak bytes of one kind, on the host or on a device. */
    public static long peak(MemoryKind kind, boolean device) { return PEAK[device ? 1 : 0][kind.ordinal()].get(); }

    /** Live host bytes of all kinds. */
    public static long liveTotal() { return LIVE[0][KINDS].get(); }

    /** Peak of the live host total (not the sum of the per-kind peaks, which may occur at different times). */
    public static long peakTotal() { return PEAK[0][KINDS].get(); }

    /** Live device bytes of all kinds. */
    public static long liveDeviceTotal() { return LIVE[1][KINDS].get(); }

    /** Peak device bytes of all kinds. */
    public static long peakDeviceTotal() { return PEAK[1][KINDS].get(); }

    /**
     * Runs the collector until storages that are already unreachable have been un-counted (the live
     * total stops changing), so a measurement that follows sees only storages still in use. For tests
     * and reports; explicit {@link Storage#release()} needs no collector.
     */
    public static void collectGarbage() {
        long previous = Long.MIN_VALUE;
        for (int i = 0; i < 20; i++) {
            System.gc();
            try {
                Thread.sleep(10 + 5L * i);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            long now = LIVE[0][KINDS].get() + LIVE[1][KINDS].get();
            if (now == previous) return;
            previous = now;
        }
    }

    /** Sets every peak to the current live value, so a new phase can be measured. */
    public static void resetPeaks() {
        for (int d = 0; d < 2; d++) for (int i = 0; i <= KINDS; i++) PEAK[d][i].set(LIVE[d][i].get());
    }

    /** Live and peak host bytes per kind, for reports. */
    public static Map<MemoryKind, long[]> snapshot() {
        Map<MemoryKind, long[]> m = new EnumMap<>(MemoryKind.class);
        for (MemoryKind k : MemoryKind.values()) m.put(k, new long[] {live(k), peak(k)});
        return m;
    }

    /** A one-line report: live and peak MiB per kind and in total. */
    public static String report() {
        return report(MemoryLedger::live, MemoryLedger::peak, liveTotal(), peakTotal());
    }

    private static String report(java.util.function.ToLongFunction<MemoryKind> live, java.util.function.ToLongFunction<MemoryKind> peak,
                                 long liveTotal, long peakTotal) {
        StringBuilder sb = new StringBuilder();
        for (MemoryKind k : MemoryKind.values()) {
            sb.append(String.format("%s live=%.2f peak=%.2f MiB; ", k.name().toLowerCase(), mib(live.applyAsLong(k)),
                    mib(peak.applyAsLong(k))));
        }
        return sb.append(String.format("total live=%.2f peak=%.2f MiB", mib(liveTotal), mib(peakTotal))).toString();
    }

    private static double mib(long bytes) { return bytes / (1024.0 * 1024.0); }
}
