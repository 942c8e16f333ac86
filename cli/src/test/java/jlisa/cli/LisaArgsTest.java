package jlisa.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jlisa.optim.Lisa;
import org.junit.jupiter.api.Test;

class LisaArgsTest {

    @Test
    void policiesAndSamplingsParseFromTheirCommandLineNames() {
        assertThat(LisaArgs.policy(" Park ")).isEqualTo(Lisa.StatePolicy.PARK);
        assertThat(LisaArgs.sampling("uniform", 4)).isInstanceOf(Lisa.Sampling.Uniform.class);
        assertThat(LisaArgs.sampling("WEIGHT-NORM", 4)).isInstanceOf(Lisa.Sampling.WeightNorm.class);
        Lisa.Sampling w = LisaArgs.sampling("1,1,2,4", 4);
        assertThat(w).isInstanceOf(Lisa.Sampling.Weights.class);
        assertThat(((Lisa.Sampling.Weights) w).probabilities()).containsExactly(1.0, 1.0, 2.0, 4.0);
    }

    @Test
    void badValuesSayWhatWasExpected() {
        assertThatThrownBy(() -> LisaArgs.policy("freeze")).hasMessageContaining("drop, park or keep").hasMessageContaining("freeze");
        assertThatThrownBy(() -> LisaArgs.sampling("1,2", 4)).hasMessageContaining("one per middle layer (4), got 2");
        assertThatThrownBy(() -> LisaArgs.sampling("norm", 4)).hasMessageContaining("uniform, weight-norm or comma-separated layer weights").hasMessageContaining("norm");
    }
}
