package jlisa.optim.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.optim.AdamW;
import jlisa.optim.Lisa;
import jlisa.optim.ParamGroup;
import jlisa.optim.Schedules;
import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    /** A test-only store: Java serialization of float arrays and shapes, written then renamed. */
    static final TensorStore STORE = new TensorStore() {
        @Override public void write(Path file, Map<String, Tensor> tensors) throws IOException {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            try (ObjectOutputStream out = new ObjectOutputStream(Files.newOutputStream(tmp))) {
                Map<String, Object[]> m = new LinkedHashMap<>();
                tensors.forEach((k, t) -> m.put(k, new Object[] {t.shape(), t.toDoubleArray()}));
                out.writeObject(m);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }

        @SuppressWarnings("unchecked")
        @Override public Map<String, Tensor> read(Path file) throws IOException {
            try (ObjectInputStream in = new ObjectInputStream(Files.newInputStream(file))) {
                Map<String, Object[]> m = (Map<String, Object[]>) in.readObject();
                Map<String, Tensor> out = new LinkedHashMap<>();
                m.forEach((k, v) -> out.put(k, Tensor.of((double[]) v[1], (int[]) v[0]).to(DType.F32)));
                return out;
            } catch (ClassNotFoundException e) {
                throw new IOException(e);
            }
        }
    };

    /** A tiny 6-layer MLP on random data whose data "loader" is a seeded RNG (so it has a position to save). */
    static final class Setup {
        final Map<String, Map<String, Parameter>> layers = new LinkedHashMap<>();
        final Map<String, Parameter> all = new LinkedHashMap<>();
        final Rng data = new Rng(123);
        final AdamW opt;
        final Lisa lisa;

        Setup(boolean useLisa) {
            this(useLisa ? new Lisa.Config(2, 3, Lisa.StatePolicy.DROP, new Lisa.Sampling.Uniform(), 9) : null);
        }

        /** With LISA over the six layers when {@code lisaConfig} is not null. */
        Setup(Lisa.Config lisaConfig) {
            Rng init = new Rng(5);
            for (int i = 0; i < 6; i++) {
                Parameter w = Parameter.of("w", Tensor.randn(init, 0, 0.4, DType.F32, 8, 8));
                layers.put("layer." + i, Map.of("layer." + i + ".w", w));
                all.put("layer." + i + ".w", w);
            }
            all.put("head", Parameter.of("head", Tensor.randn(init, 0, 0.4, DType.F32, 8, 3)));
            opt = new AdamW(List.of(new ParamGroup("all", all, 1, 0.01)), 1e-2);
            lisa = lisaConfig == null ? null : new Lisa(layers, opt, lisaConfig);
        }

        Trainer.LossStep lossStep() {
            return (step, micro) -> {
                Tensor x = Tensor.randn(data, 4, 8);
                int[] y = new int[4];
                for (int i = 0; i < 4; i++) y[i] = data.nextInt(3);
                Variable h = new Variable(x);
                for (Map<String, Parameter> l : layers.values()) h = h.matmul(l.values().iterator().next()).tanh();
                return h.matmul(all.get("head")).crossEntropy(Tensor.of(y, 4), -100);
            };
        }

        Stateful dataState() {
            return new Stateful() {
                @Override public long[] state() { return data.state(); }

                @Override public void restore(long[] s) { data.restore(s); }
            };
        }

        Trainer trainer(long steps, Checkpoints ck, List<Double> losses) { return trainer(steps, steps, 4, ck, losses); }

        /** Runs to {@code steps} of a {@code total}-step schedule, saving every {@code checkpointEvery} and at the end. */
        Trainer trainer(long steps, long total, int checkpointEvery, Checkpoints ck, List<Double> losses) {
            Trainer.Builder b = Trainer.builder(opt, lossStep()).steps(steps).gradientAccumulation(2).clipGradNorm(1.0)
                    .schedule(Schedules.warmupCosine(1e-2, 2, total, 1e-3))
                    .state("data", dataState()).listener(new Trainer.Listener() {
                        @Override public void onStep(long step, double loss) { losses.add(loss); }
                    });
            if (ck != null) b.checkpoints(ck, all, checkpointEvery);
            return (lisa == null ? b : b.lisa(lisa)).build();
        }
    }

    @Test
    void aResumedRunMatchesAnUninterruptedOneBitForBit(@TempDir Path dir) {
        for (boolean useLisa : new boolean[] {false, true}) {
            List<Double> straight = new ArrayList<>();
            Setup a = new Setup(useLisa);
            a.trainer(10, new Checkpoints(dir.resolve("a" + useLisa), STORE), straight).run(0);

            List<Double> firstHalf = new ArrayList<>();
            Setup b = new Setup(useLisa);
            Checkpoints ck = new Checkpoints(dir.resolve("b" + useLisa), STORE);
            Trainer.Builder kb = Trainer.builder(b.opt, b.lossStep()).steps(10).gradientAccumulation(2).clipGradNorm(1.0)
                    .schedule(Schedules.warmupCosine(1e-2, 2, 10, 1e-3)).checkpoints(ck, b.all, 4)
                    .state("data", b.dataState()).listener(new Trainer.Listener() {
                        @Override public void onStep(long step, double loss) {
                            firstHalf.add(loss);
                            if (step == 6) throw new RuntimeException("killed");
                        }
                    });
            Trainer killed = (b.lisa == null ? kb : kb.lisa(b.lisa)).build();
            assertThatThrownBy(() -> killed.run(0)).hasMessage("killed");

            Setup c = new Setup(useLisa);              // a fresh process: same init, then resume
            List<Double> resumed = new ArrayList<>();
            Trainer t = c.trainer(10, ck, resumed);
            long start = t.resume();
            assertThat(start).isEqualTo(4);
            t.run(start);
            assertThat(firstHalf.subList(0, 4)).isEqualTo(straight.subList(0, 4));
            assertThat(resumed).as("lisa=%s", useLisa).isEqualTo(straight.subList(4, 10));
            for (String name : a.all.keySet()) {
                assertThat(c.all.get(name).data().toFloatArray()).as(name).containsExactly(a.all.get(name).data().toFloatArray());
            }
        }
    }

    @Test
    void aStepThatFailsLeavesNoTrackerOpenToHoldOnToLaterAllocations() {
        Setup s = new Setup(false);
        Trainer.LossStep good = s.lossStep();
        Trainer t = Trainer.builder(s.opt, (step, micro) -> {
            good.loss(step, micro);
            throw new IllegalStateException("bad batch");
        }).steps(3).build();
        assertThatThrownBy(() -> t.run(0)).hasMessage("bad batch");
        // A tracker left open on this thread would record, and so keep reachable, everything allocated here later.
        jlisa.tensor.MemoryLedger.Account later = new jlisa.tensor.MemoryLedger.Account("after the failure");
        try (var charge = later.charge()) {
            Tensor.zeros(DType.F32, jlisa.tensor.MemoryKind.OTHER, 1000);   // unreachable at once
        }
        for (int i = 0; i < 10 && later.liveTotal() != 0; i++) jlisa.tensor.MemoryLedger.collectGarbage();
        assertThat(later.liveTotal()).isZero();
    }

    @Test
    void aNanLossStopsTheRunAndLeavesTheLastCheckpointIntact(@TempDir Path dir) throws IOException {
        Setup s = new Setup(false);
        Checkpoints ck = new Checkpoints(dir, STORE);
        Trainer.LossStep good = s.lossStep();
        Trainer.LossStep poisoned = (step, micro) -> step < 5 ? good.loss(step, micro)
                : good.loss(step, micro).mul(Double.NaN);
        Trainer t = Trainer.builder(s.opt, poisoned).steps(10).schedule(Schedules.constant(1e-2)).checkpoints(ck, s.all, 4)
                .state("data", s.dataState()).build();
        assertThatThrownBy(() -> t.run(0)).isInstanceOf(Trainer.DivergedException.class)
                .hasMessageContaining("NaN at step 6").hasMessageContaining("step-000000004");
        assertThat(ck.latest()).get().extracting(p -> p.getFileName().toString()).isEqualTo("step-000000004");
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("step-000000004");
        }
        // a checkpoint directory gets the mode any new directory gets (the umask's), not a temp directory's 0700
        if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Path plain = Files.createDirectory(dir.resolve("plain"));
            assertThat(Files.getPosixFilePermissions(ck.latest().orElseThrow()))
                    .isEqualTo(Files.getPosixFilePermissions(plain));
        }
    }

    @Test
    void everyStatePolicyWithAndWithoutWarmupResumesBitForBit(@TempDir Path dir) throws IOException {
        long total = 14;
        for (Lisa.StatePolicy policy : Lisa.StatePolicy.values()) {
            for (int warmup : new int[] {0, 2}) {
                for (int k : new int[] {4, 6}) {   // period 3: step 4 is mid-period, step 6 starts a period
                    String what = policy + " warmup " + warmup + " k " + k;
                    Lisa.Config config = new Lisa.Config(2, 3, policy, new Lisa.Sampling.Uniform(), 9).withWarmup(warmup);

                    Setup a = new Setup(config);
                    List<Double> straight = new ArrayList<>();
                    a.trainer(total, total, 0, null, straight).run(0);

                    Setup b = new Setup(config);
                    Checkpoints ck = new Checkpoints(dir.resolve(policy + "-" + warmup + "-" + k), STORE);
                    b.trainer(k, total, k, ck, new ArrayList<>()).run(0);
                    Map<String, Tensor> saved = STORE.read(ck.latest().orElseThrow().resolve("optimizer.safetensors"));
                    boolean parkedSaved = saved.keySet().stream().anyMatch(n -> n.startsWith(Checkpoints.LISA_PARKED));
                    assertThat(parkedSaved).as(what).isEqualTo(policy == Lisa.StatePolicy.PARK);
                    b.lisa.close();

                    Setup c = new Setup(config);           // a fresh process: same init, then resume
                    List<Double> resumed = new ArrayList<>();
                    Trainer t = c.trainer(total, total, 0, ck, resumed);
                    long start = t.resume();
                    assertThat(start).isEqualTo(k);
                    if (policy == Lisa.StatePolicy.PARK) {
                        assertThat(c.lisa.parkedBytesHeld()).as(what).isPositive();
                        for (Tensor parked : c.lisa.stateDict().values()) {
                            if (parked.numel() > 1) assertThat(parked.storage().kind()).isEqualTo(jlisa.tensor.MemoryKind.PARKED_STATE);
                        }
                    }
                    t.run(start);

                    assertThat(resumed).as(what).isEqualTo(straight.subList(k, (int) total));
                    for (String name : a.all.keySet()) {
                        assertThat(bits(c.all.get(name).data())).as(what + " " + name).containsExactly(bits(a.all.get(name).data()));
                    }
                    assertSameTensors(what + " optimizer", c.opt.stateDict(), a.opt.stateDict());
                    assertSameTensors(what + " parked", c.lisa.stateDict(), a.lisa.stateDict());
                    if (policy == Lisa.StatePolicy.PARK) assertThat(a.lisa.stateDict()).as(what).isNotEmpty();
                    assertThat(c.lisa.state()).as(what).containsExactly(a.lisa.state());
                    assertThat(c.lisa.parkedBytesHeld()).isEqualTo(a.lisa.parkedBytesHeld());
                    a.lisa.close();
                    c.lisa.close();
                }
            }
        }
    }

    private static int[] bits(Tensor t) {
        float[] f = t.toFloatArray();
        int[] out = new int[f.length];
        for (int i = 0; i < f.length; i++) out[i] = Float.floatToRawIntBits(f[i]);
        return out;
    }

    private static void assertSameTensors(String what, Map<String, Tensor> actual, Map<String, Tensor> expected) {
        assertThat(actual.keySet()).as(what).containsExactlyInAnyOrderElementsOf(expected.keySet());
        for (String k : expected.keySet()) {
            double[] e = expected.get(k).toDoubleArray(), x = actual.get(k).toDoubleArray();
            assertThat(x.length).isEqualTo(e.length);
            for (int i = 0; i < e.length; i++) {
                assertThat(Double.doubleToRawLongBits(x[i])).as("%s %s[%d]", what, k, i).isEqualTo(Double.doubleToRawLongBits(e[i]));
            }
        }
    }

    @Test
    void loadingACheckpointWithParkedStateWithoutItsLisaFails(@TempDir Path dir) throws IOException {
        Setup s = new Setup(new Lisa.Config(2, 1, Lisa.StatePolicy.PARK, new Lisa.Sampling.Uniform(), 9));
        Checkpoints ck = new Checkpoints(dir, STORE);
        s.trainer(5, 5, 5, ck, new ArrayList<>()).run(0);
        Setup fresh = new Setup(false);
        assertThatThrownBy(() -> ck.load(ck.latest().orElseThrow(), fresh.all, fresh.opt))
                .hasMessageContaining("parked optimizer state");
        s.lisa.close();
    }
}
