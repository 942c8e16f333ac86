package jlisa.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jlisa.autograd.Parameter;
import jlisa.optim.Lisa.StatePolicy;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Tensor;
import jlisa.transformer.model.KvCache;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Models;

/** A run's memory figures are its own, whatever else the JVM runs. */
class FineTuneMemoryTest {

    private static FineTune.Builder base(Path model, Path data, Method method) {
        return FineTune.builder().model(model).jsonl(data).method(method).learningRate(2e-3).steps(4).batchSize(4).seed(1)
                .logEvery(0);
    }

    @Test void twoRunsOnTwoThreadsAtOnceEachReportTheirOwnPeak(@TempDir Path tmp) throws Exception {
        Path model = TinyModels.llamaDirectory(tmp.resolve("model"));
        Path data = TinyModels.reverseJsonl(tmp.resolve("train.jsonl"), 24);
        Method full = Method.full(), lora = Method.lora().withRank(2);
        long fullAlone = base(model, data, full).build().run().peakBytes();
        long loraAlone = base(model, data, lora).build().run().peakBytes();
        // Full fine-tuning holds writable weights, gradients and two AdamW moments; LoRA the mapped weights and a little.
        assertThat(fullAlone).isGreaterThan(loraAlone * 3 / 2);   // so the other run's bytes would show in either figure

        // Both runs wait for each other at their second step, so each holds its state while the other runs.
        CyclicBarrier bothTraining = new CyclicBarrier(2);
        FineTuneListener meet = new FineTuneListener() {
            @Override public void onProgress(Progress p) {
                if (p.step() != 2) return;
                try {
                    bothTraining.await(60, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new IllegalStateException("the other run did not reach step 2", e);
                }
            }
        };
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
            Future<FineTuneResult> f = threads.submit(() -> base(model, data, full).listener(meet).build().run());
            Future<FineTuneResult> l = threads.submit(() -> base(model, data, lora).listener(meet).build().run());
            long fullTogether = f.get().peakBytes(), loraTogether = l.get().peakBytes();
            // The collector's timing moves a peak a little; the other run's bytes would move it by a multiple.
            assertThat(fullTogether).isBetween(fullAlone * 8 / 10, fullAlone * 12 / 10);
            assertThat(loraTogether).isBetween(loraAlone * 8 / 10, loraAlone * 12 / 10);
        } finally {
            threads.shutdownNow();
        }
    }

    @Test void aRunOnALoadedModelLeavesTheWritableCopiesInTheModelsAccountUntilItCloses(@TempDir Path tmp) throws Exception {
        Path dir = TinyModels.llamaDirectory(tmp.resolve("model"));
        Path data = TinyModels.reverseJsonl(tmp.resolve("train.jsonl"), 16);
        CausalLM model = Models.load(dir);
        long weights = 0;
        for (Parameter p : model.namedParameters().values()) weights += p.data().storage().byteSize();
        FineTuneResult r = FineTune.builder().jsonl(data).steps(2).batchSize(4).logEvery(0).build().run(model);
        assertThat(r.peakBytes()).isGreaterThanOrEqualTo(weights);   // the writable copies are the run's too
        assertThat(model.memory().live(MemoryKind.PARAMETER)).isEqualTo(weights);
        assertThat(model.memory().live(MemoryKind.GRADIENT)).isZero();
        model.close();
        assertThat(model.memory().live(MemoryKind.PARAMETER)).isZero();
    }

    @Test void everythingThatHoldsMemoryGivesItBackOnClose(@TempDir Path tmp) throws Exception {
        MemoryLedger.Account account = trainAndCloseEverything(TinyModels.llamaDirectory(tmp.resolve("model")));
        // What is left are the forward passes' temporaries nobody holds any more: the collector credits them back.
        for (int i = 0; i < 10 && account.liveTotal() != 0; i++) MemoryLedger.collectGarbage();
        assertThat(account.liveTotal()).as(() -> java.util.Arrays.stream(MemoryKind.values())
                .map(k -> k + "=" + account.live(k)).toList().toString()).isZero();
    }

    /** Trains LISA a few steps with a cache open, closes it all, and returns the account that was charged. */
    private static MemoryLedger.Account trainAndCloseEverything(Path dir) {
        MemoryLedger.Account account = new MemoryLedger.Account("closing test");
        Tensor ids = Tensor.of(new int[] {1, 5, 9, 2, 7, 3, 0, 4}, 2, 4);
        try (var charge = account.charge()) {
            CausalLM model = Models.load(dir);
            TrainingSetup setup = TrainingSetup.of(model, Method.lisa().withGamma(1).withPeriod(1).withPolicy(StatePolicy.PARK),
                    FineTune.OptimizerChoice.ADAMW, 1e-3, 0, 7);
            for (long step = 0; step < 4; step++) {   // a new layer every step: the old one's moments are parked
                setup.lisa().orElseThrow().beforeStep(step);
                model.loss(ids, -1).backward();
                setup.optimizer().step();
            }
            KvCache cache = model.newCache(1, 8);
            assertThat(account.live(MemoryKind.OPTIMIZER_STATE)).isPositive();
            assertThat(account.live(MemoryKind.PARKED_STATE)).isPositive();
            assertThat(account.live(MemoryKind.GRADIENT)).isPositive();
            assertThat(account.live(MemoryKind.ACTIVATION)).isPositive();

            cache.close();
            setup.close();
            assertThat(account.live(MemoryKind.ACTIVATION)).isZero();
            assertThat(account.live(MemoryKind.OPTIMIZER_STATE)).isZero();
            assertThat(account.live(MemoryKind.PARKED_STATE)).isZero();
            assertThat(account.live(MemoryKind.GRADIENT)).isZero();
            assertThat(account.live(MemoryKind.PARAMETER)).isPositive();
            model.close();
            assertThat(account.live(MemoryKind.PARAMETER)).isZero();   // all at once, without the collector
        }
        return account;   // nothing it counted is reachable from here on
    }
}
