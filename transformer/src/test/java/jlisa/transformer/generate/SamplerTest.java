package jlisa.transformer.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.BitSet;
import java.util.Set;
import java.util.TreeSet;

import jlisa.tensor.Rng;
import org.junit.jupiter.api.Test;

class SamplerTest {
    /** Indices whose value survived a filter. */
    static Set<Integer> kept(double[] x) {
        Set<Integer> s = new TreeSet<>();
        for (int i = 0; i < x.length; i++) if (x[i] != Double.NEGATIVE_INFINITY) s.add(i);
        return s;
    }

    /** Probabilities 0.05, 0.5, 0.15, 0.2, 0.1 at indices 0..4, as logits. */
    static double[] fiveTokens() {
        double[] p = {0.05, 0.5, 0.15, 0.2, 0.1};
        double[] x = new double[p.length];
        for (int i = 0; i < p.length; i++) x[i] = Math.log(p[i]) + 3.0;
        return x;
    }

    @Test
    void topKKeepsTheKLargestAndTiesWithTheKth() {
        double[] x = {1, 3, 2, 5, 4};
        Sampler.keepTopK(x, 2);
        assertThat(kept(x)).containsExactly(3, 4);
        assertThat(x[3]).isEqualTo(5.0);   // survivors are untouched

        double[] ties = {1, 2, 2, 0};
        Sampler.keepTopK(ties, 2);
        assertThat(kept(ties)).containsExactly(1, 2);

        double[] tieAtK = {2, 3, 2, 1};
        Sampler.keepTopK(tieAtK, 2);
        assertThat(kept(tieAtK)).as("HF keeps values equal to the k-th").containsExactly(0, 1, 2);

        double[] off = {1, 2, 3};
        Sampler.keepTopK(off, 0);
        assertThat(kept(off)).containsExactly(0, 1, 2);
        Sampler.keepTopK(off, 7);
        assertThat(kept(off)).containsExactly(0, 1, 2);
    }

    @Test
    void topPKeepsTheSmallestMostLikelySetReachingP() {
        double[] x = fiveTokens();
        Sampler.keepTopP(x, 0.6);          // 0.5 < 0.6 ≤ 0.5 + 0.2
        assertThat(kept(x)).containsExactly(1, 3);

        x = fiveTokens();
        Sampler.keepTopP(x, 0.75);         // 0.7 < 0.75 ≤ 0.85
        assertThat(kept(x)).containsExactly(1, 2, 3);

        x = fiveTokens();
        Sampler.keepTopP(x, 0.3);
        assertThat(kept(x)).containsExactly(1);

        x = fiveTokens();
        Sampler.keepTopP(x, 1e-9);
        assertThat(kept(x)).as("the most likely token always stays").containsExactly(1);

        x = fiveTokens();
        Sampler.keepTopP(x, 0.99);
        assertThat(kept(x)).containsExactly(0, 1, 2, 3, 4);

        x = fiveTokens();
        Sampler.keepTopP(x, 1.0);
        assertThat(kept(x)).containsExactly(0, 1, 2, 3, 4);
    }

    @Test
    void topPWorksOnWhatTopKAndTemperatureLeft() {
        // temperature 2 flattens 0.5/0.2/0.15/0.1/0.05 to ≈ .340/.215/.186/.152/.107: top-p 0.6 now needs three tokens
        double[] x = fiveTokens();
        Sampler.applyTemperature(x, 2.0);
        Sampler.keepTopP(x, 0.6);
        assertThat(kept(x)).containsExactly(1, 2, 3);

        // after top-k 2 the survivors renormalise to 0.714/0.286: top-p 0.6 keeps only the first
        x = fiveTokens();
        Sampler.keepTopK(x, 2);
        Sampler.keepTopP(x, 0.6);
        assertThat(kept(x)).containsExactly(1);
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOnce() {
        double[] x = {2, -2, 1, 4};
        BitSet seen = new BitSet();
        seen.set(0);
        seen.set(1);
        seen.set(9);   // beyond the vocabulary: ignored
        Sampler.applyRepetitionPenalty(x, seen, 2.0);
        assertThat(x).containsExactly(1, -4, 1, 4);
    }

    @Test
    void argmaxTakesTheFirstMaximum() {
        assertThat(Sampler.argmax(new double[] {1, 3, 3, 2})).isEqualTo(1);
        assertThat(Sampler.argmax(new double[] {7})).isEqualTo(0);
    }

    @Test
    void samplingFollowsTheSoftmaxProbabilities() {
        double[] x = fiveTokens();
        double[] p = Sampler.softmax(x);
        Rng rng = new Rng(7);
        int n = 40_000;
        int[] counts = new int[x.length];
        for (int i = 0; i < n; i++) counts[Sampler.sample(x, rng)]++;
        for (int i = 0; i < x.length; i++) {
            assertThat((double) counts[i] / n).as("token %d", i).isCloseTo(p[i], org.assertj.core.data.Offset.offset(0.01));
        }
        double[] filtered = {0, Double.NEGATIVE_INFINITY, 1, Double.NEGATIVE_INFINITY};
        for (int i = 0; i < 1000; i++) assertThat(Sampler.sample(filtered, rng)).isIn(0, 2);
    }

    @Test
    void nextLeavesTheLogitsUnchangedAndRejectsNaN() {
        double[] x = fiveTokens(), copy = x.clone();
        Sampler s = new Sampler(GenerationConfig.sampling(1, 0.7, 3).withTopK(2).withTopP(0.9).withRepetitionPenalty(1.3));
        BitSet seen = new BitSet();
        seen.set(1);
        s.next(x, seen);
        assertThat(x).containsExactly(copy);

        double[] bad = {0, Double.NaN, 1};
        assertThatThrownBy(() -> s.next(bad, null)).isInstanceOf(IllegalStateException.class).hasMessageContaining("logit 1 is NaN");
    }
}
