package jlisa.optim.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jlisa.optim.data.DataLoader.Layout;
import jlisa.optim.data.DataLoader.Options;
import jlisa.tensor.DType;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;

class DataLoaderTest {
    static final int X = Batch.IGNORE;

    private static Options inOrder(int t, int b, Layout layout, int padId) {
        return new Options(t, b, layout, padId, false, 0);
    }

    /** A (B, T) I32 tensor as rows. */
    private static int[][] matrix(Tensor t) {
        assertThat(t.dtype()).isEqualTo(DType.I32);
        int b = t.size(0), n = t.size(1);
        int[] flat = t.intArray();
        int[][] m = new int[b][];
        for (int i = 0; i < b; i++) m[i] = Arrays.copyOfRange(flat, i * n, (i + 1) * n);
        return m;
    }

    @Test
    void packingConcatenatesAndCutsNonOverlappingBlocksOfTPlusOne() {
        // stream 1 2 3 | 4 5 6 | 7   (6 is a prompt token: not a target)
        List<Example> ex = List.of(Example.of(1, 2, 3, 4, 5), new Example(new int[] {6, 7}, new boolean[] {false, true}));
        DataLoader dl = new DataLoader(ex, inOrder(2, 8, Layout.PACK, 0));
        assertThat(dl.rowsPerEpoch()).isEqualTo(3);
        Batch b = dl.next();
        assertThat(matrix(b.inputs())).isDeepEqualTo(new int[][] {{1, 2}, {4, 5}, {7, 0}});
        assertThat(matrix(b.targets())).isDeepEqualTo(new int[][] {{2, 3}, {5, X}, {X, X}});
        assertThat(b.targetCount()).isEqualTo(3);
    }

    @Test
    void packedMasksFollowTheirTokensAcrossExampleBoundaries() {
        // prompt 10 11 | response 12 13 | next example 20 21 (all counted)
        Example chat = new Example(new int[] {10, 11, 12, 13}, new boolean[] {false, false, true, true});
        DataLoader dl = new DataLoader(List.of(chat, Example.of(20, 21), chat), inOrder(4, 1, Layout.PACK, 0));
        // stream 10 11 12 13 20 | 21 10 11 12 13
        Batch first = dl.next(), second = dl.next();
        assertThat(matrix(first.inputs())).isDeepEqualTo(new int[][] {{10, 11, 12, 13}});
        assertThat(matrix(first.targets())).isDeepEqualTo(new int[][] {{X, 12, 13, 20}});
        assertThat(matrix(second.inputs())).isDeepEqualTo(new int[][] {{21, 10, 11, 12}});
        assertThat(matrix(second.targets())).isDeepEqualTo(new int[][] {{X, X, 12, 13}});
    }

    @Test
    void paddingPutsOneExamplePerRowTruncatedToTPlusOneAndIgnoresPad() {
        Example chat = new Example(new int[] {1, 2, 3, 4, 5}, new boolean[] {false, false, true, true, true});
        DataLoader dl = new DataLoader(List.of(chat, Example.of(6, 7)), inOrder(3, 2, Layout.PAD, 99));
        Batch b = dl.next();
        assertThat(matrix(b.inputs())).isDeepEqualTo(new int[][] {{1, 2, 3}, {6, 7, 99}});
        assertThat(matrix(b.targets())).isDeepEqualTo(new int[][] {{X, 3, 4}, {7, X, X}});
    }

    @Test
    void batchSizeAllWithEqualLinesIsEachLineShiftedByOne() {
        List<Example> lines = List.of(Example.of(5, 6, 7, 8), Example.of(1, 2, 3, 4), Example.of(9, 9, 8, 8));
        for (Layout layout : Layout.values()) {
            DataLoader dl = new DataLoader(lines, inOrder(3, DataLoader.ALL, layout, 0));
            assertThat(dl.batchSize()).isEqualTo(3);
            assertThat(dl.batchesPerEpoch()).isEqualTo(1);
            Batch b = dl.next();
            assertThat(matrix(b.inputs())).isDeepEqualTo(new int[][] {{5, 6, 7}, {1, 2, 3}, {9, 9, 8}});
            assertThat(matrix(b.targets())).isDeepEqualTo(new int[][] {{6, 7, 8}, {2, 3, 4}, {9, 8, 8}});
            assertThat(b.targetCount()).isEqualTo(9);
        }
    }

    @Test
    void lastBatchOfAnEpochHoldsTheLeftoverRowsThenTheNextEpochStarts() {
        DataLoader dl = new DataLoader(numbered(5), inOrder(1, 2, Layout.PAD, 0));
        assertThat(dl.batchesPerEpoch()).isEqualTo(3);
        assertThat(dl.next().batchSize()).isEqualTo(2);
        assertThat(dl.next().batchSize()).isEqualTo(2);
        Batch last = dl.next();
        assertThat(last.batchSize()).isEqualTo(1);
        assertThat(matrix(last.inputs())).isDeepEqualTo(new int[][] {{4}});
        assertThat(dl.epoch()).isZero();
        assertThat(matrix(dl.next().inputs())).isDeepEqualTo(new int[][] {{0}, {1}});
        assertThat(dl.epoch()).isEqualTo(1);
        assertThat(dl.position()).isEqualTo(1);
    }

    @Test
    void shuffledEpochsArePermutationsDeterministicPerSeedAndDifferAcrossSeeds() {
        List<int[]> a = firstInputs(new DataLoader(numbered(20), Options.padded(1, 1, 0, 42)), 60);
        List<int[]> again = firstInputs(new DataLoader(numbered(20), Options.padded(1, 1, 0, 42)), 60);
        List<int[]> other = firstInputs(new DataLoader(numbered(20), Options.padded(1, 1, 0, 43)), 60);
        assertThat(a).usingRecursiveComparison().isEqualTo(again);
        assertThat(flatten(a)).isNotEqualTo(flatten(other));
        int[] ids = flatten(a);
        int[][] epochs = {Arrays.copyOfRange(ids, 0, 20), Arrays.copyOfRange(ids, 20, 40), Arrays.copyOfRange(ids, 40, 60)};
        int[] identity = new int[20];
        Arrays.setAll(identity, i -> i);
        for (int[] e : epochs) assertThat(e.clone()).satisfies(x -> { Arrays.sort(x); assertThat(x).isEqualTo(identity); });
        assertThat(epochs[0]).isNotEqualTo(identity);
        assertThat(epochs[1]).isNotEqualTo(epochs[0]);
    }

    @Test
    void stateRestoreMidEpochGivesTheSameBatchesAsAnUninterruptedRun() {
        List<Example> ex = ragged(13);
        Options opts = Options.packed(4, 3, 7);
        for (int stopAfter : new int[] {0, 1, 2, 3, 4, 5, 9}) {   // mid-epoch, exactly at the boundary, beyond
            DataLoader straight = new DataLoader(ex, opts);
            assertThat(straight.batchesPerEpoch()).isEqualTo(4);   // 49 tokens → 10 rows of 5 → batches of 3, 3, 3, 1
            DataLoader interrupted = new DataLoader(ex, opts);
            for (int i = 0; i < stopAfter; i++) {
                straight.next();
                interrupted.next();
            }
            long[] saved = interrupted.state();
            interrupted.next();   // runs on a little after the checkpoint: must not matter
            DataLoader resumed = new DataLoader(ex, opts);
            resumed.next();       // a fresh loader that has moved: restore must overwrite everything
            resumed.restore(saved);
            assertThat(resumed.epoch()).isEqualTo(straight.epoch());
            for (int i = 0; i < 8; i++) assertSameBatch(resumed.next(), straight.next());
        }
    }

    @Test
    void stateRestoreInPaddedModeAcrossAnEpochBoundary() {
        List<Example> ex = ragged(7);
        Options opts = Options.padded(3, 2, 5, 11);
        DataLoader straight = new DataLoader(ex, opts), copy = new DataLoader(ex, opts);
        for (int i = 0; i < 3; i++) straight.next();   // last batch of epoch 0 is next (4 batches per epoch)
        copy.restore(straight.state());
        for (int i = 0; i < 6; i++) assertSameBatch(copy.next(), straight.next());
        assertThat(copy.epoch()).isEqualTo(2);
    }

    @Test
    void restoreRejectsStateFromOtherDataOrOptions() {
        List<Example> ex = ragged(6);
        long[] s = new DataLoader(ex, Options.packed(4, 2, 1)).state();
        assertThatThrownBy(() -> new DataLoader(ragged(5), Options.packed(4, 2, 1)).restore(s))
                .hasMessageContaining("the data differ: state is for 6 examples");
        List<Example> changed = new ArrayList<>(ex);
        changed.set(0, Example.of(Arrays.stream(ex.getFirst().ids()).map(i -> i + 1).toArray()));
        assertThatThrownBy(() -> new DataLoader(changed, Options.packed(4, 2, 1)).restore(s))
                .hasMessageContaining("same sizes, different contents");
        assertThatThrownBy(() -> new DataLoader(ex, Options.packed(3, 2, 1)).restore(s))
                .hasMessageContaining("state is for T=4, B=2, PACK; this loader has T=3, B=2, PACK");
        assertThatThrownBy(() -> new DataLoader(ex, Options.packed(4, 2, 1)).restore(new long[] {1, 2}))
                .hasMessageContaining("not a version-1 data loader state");
        long[] broken = s.clone();
        broken[broken.length - 1] = broken[broken.length - 2];
        assertThatThrownBy(() -> new DataLoader(ex, Options.packed(4, 2, 1)).restore(broken))
                .hasMessageContaining("not a permutation");
    }

    @Test
    void badOptionsAndDataAreRejected() {
        assertThatThrownBy(() -> Options.packed(0, 1, 0)).hasMessageContaining("block size must be >= 1, got 0");
        assertThatThrownBy(() -> Options.packed(4, 0, 0)).hasMessageContaining("batch size must be >= 1 or ALL, got 0");
        assertThatThrownBy(() -> new DataLoader(List.of(), Options.packed(4, 1, 0))).hasMessageContaining("no examples");
        assertThatThrownBy(() -> new DataLoader(List.of(Example.of()), Options.packed(4, 1, 0))).hasMessageContaining("are empty");
        assertThatThrownBy(() -> new Example(new int[2], new boolean[3])).hasMessageContaining("2 ids but 3 mask entries");
    }

    private static void assertSameBatch(Batch actual, Batch expected) {
        assertThat(matrix(actual.inputs())).isDeepEqualTo(matrix(expected.inputs()));
        assertThat(matrix(actual.targets())).isDeepEqualTo(matrix(expected.targets()));
    }

    /** Example i is the tokens i i. */
    private static List<Example> numbered(int n) {
        List<Example> ex = new ArrayList<>();
        for (int i = 0; i < n; i++) ex.add(Example.of(i, i));
        return ex;
    }

    /** n examples of lengths 2..6 with distinct ids and a masked first token on every third. */
    private static List<Example> ragged(int n) {
        List<Example> ex = new ArrayList<>();
        int next = 1;
        for (int i = 0; i < n; i++) {
            int len = 2 + i % 5;
            int[] ids = new int[len];
            boolean[] mask = new boolean[len];
            for (int j = 0; j < len; j++) {
                ids[j] = next++;
                mask[j] = !(i % 3 == 0 && j == 0);
            }
            ex.add(new Example(ids, mask));
        }
        return ex;
    }

    private static List<int[]> firstInputs(DataLoader dl, int batches) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < batches; i++) out.add(dl.next().inputs().intArray().clone());
        return out;
    }

    private static int[] flatten(List<int[]> parts) {
        return parts.stream().flatMapToInt(Arrays::stream).toArray();
    }
}
