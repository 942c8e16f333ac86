package jlisa.transformer.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

class GenerationConfigTest {
    final GenerationConfig base = GenerationConfig.sampling(10, 1.0, 1);

    @Test
    void badValuesAreRejectedWithClearMessages() {
        assertThatThrownBy(() -> base.withMaxNewTokens(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxNewTokens must be ≥ 0, got -1");
        assertThatThrownBy(() -> base.withTemperature(-0.5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("temperature").hasMessageContaining("-0.5");
        assertThatThrownBy(() -> base.withTemperature(Double.NaN)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("temperature");
        assertThatThrownBy(() -> base.withTemperature(Double.POSITIVE_INFINITY)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> base.withTopK(-3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("topK must be ≥ 0 (0 = off), got -3");
        for (double p : new double[] {0.0, -0.1, 1.0001, Double.NaN}) {
            assertThatThrownBy(() -> base.withTopP(p)).as("topP %s", p).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("topP must be in (0, 1]");
        }
        assertThatThrownBy(() -> base.withRepetitionPenalty(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("repetitionPenalty");
        assertThatThrownBy(() -> base.withStopTokens(2, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("stop token ids must be ≥ 0, got -1");
        Set<Integer> withNull = new HashSet<>();
        withNull.add(null);
        assertThatThrownBy(() -> new GenerationConfig(1, 0, 0, 1, withNull, 0, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("stop token");
        assertThatThrownBy(() -> new GenerationConfig(1, 0, 0, 1, null, 0, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("stopTokens must not be null");
    }

    @Test
    void edgesAreAccepted() {
        GenerationConfig c = base.withMaxNewTokens(0).withTemperature(0).withTopK(0).withTopP(1.0).withStopTokens(0, 5, 5);
        assertThat(c.isGreedy()).isTrue();
        assertThat(c.stopTokens()).containsExactlyInAnyOrder(0, 5);
        assertThat(GenerationConfig.greedy(4).withTopP(1e-12).topP()).isEqualTo(1e-12);
    }
}
