package jlisa.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Properties;

import org.junit.jupiter.api.Test;

class GemmPlanTest {

    private static final long KIB = 1 << 10, MIB = 1 << 20;

    @Test
    void thirtyTwoRegistersGetTheSixByFourTileReadingAInPlace() {
        for (GemmPlan p : new GemmPlan[] {GemmPlan.choose(512, "amd64", "AuthenticAMD", 32 * KIB, MIB, 32 * MIB),
                GemmPlan.choose(128, "aarch64", "", 64 * KIB, MIB, 0)}) {
            assertThat(p.rows()).isEqualTo(6);
            assertThat(p.vectorsPerRow()).isEqualTo(4);
            assertThat(p.aInPlace()).isTrue();
            assertThat(p.aPanelOuter()).isFalse();
            assertThat(p.kc()).isEqualTo(1024);
            assertThat(p.reason()).contains("32 vector registers").contains("6 × 4");
        }
    }

    @Test
    void intelWithAvx512GetsTheSixByFourTileWithAPacked() {
        GemmPlan p = GemmPlan.choose(512, "amd64", "GenuineIntel", 48 * KIB, 1280 * KIB, 48 * MIB);
        assertThat(p.rows()).isEqualTo(6);
        assertThat(p.vectorsPerRow()).isEqualTo(4);
        assertThat(p.aInPlace()).isFalse();
        assertThat(p.aPanelOuter()).isFalse();
        assertThat(p.reason()).contains("GenuineIntel").contains("A packed").contains("L2 1280 KiB");
        // AVX2 on Intel is the 16-register plan, which packs A anyway
        assertThat(GemmPlan.choose(256, "amd64", "GenuineIntel", 32 * KIB, MIB, 32 * MIB).rows()).isEqualTo(5);
    }

    @Test
    void sixteenRegistersGetTheFiveByTwoTileWithAPackedAndTheBPanelSizedByL3() {
        GemmPlan p = GemmPlan.choose(256, "amd64", "AuthenticAMD", 32 * KIB, 512 * KIB, 32 * MIB);
        assertThat(p.rows()).isEqualTo(5);
        assertThat(p.vectorsPerRow()).isEqualTo(2);
        assertThat(p.aInPlace()).isFalse();
        assertThat(p.aPanelOuter()).isTrue();
        assertThat(p.mc() % 5).isZero();
        assertThat(4L * p.kc() * p.nc()).isEqualTo(8 * MIB);                 // a quarter of L3
        assertThat(p.reason()).contains("16 vector registers").contains("L3 32 MiB").contains("5 × 2");
        assertThat(GemmPlan.choose(256, "amd64", "", 0, 0, 8 * MIB).nc()).isEqualTo(512);
        assertThat(GemmPlan.choose(256, "amd64", "", 0, 0, 0).nc()).isEqualTo(2048);   // unknown L3: 32 MiB assumed
        assertThat(GemmPlan.choose(256, "amd64", "", 0, 0, 1L << 40).nc()).isEqualTo(4096);
        assertThat(GemmPlan.choose(256, "amd64", "", 0, 0, 0).reason()).contains("L3 unknown");
    }

    @Test
    void propertiesForceTheKernelAndBlocksAndTheReasonSaysSo() {
        GemmPlan wide = GemmPlan.choose(512, "amd64", "AuthenticAMD", 32 * KIB, MIB, 32 * MIB);
        Properties props = new Properties();
        assertThat(force(props)).isEqualTo(wide);
        props.setProperty("jlisa.gemm.kernel", "5x2");
        props.setProperty("jlisa.gemm.kc", "300");
        GemmPlan forced = force(props);
        assertThat(forced.rows()).isEqualTo(5);
        assertThat(forced.aInPlace()).isFalse();
        assertThat(forced.kc()).isEqualTo(300);
        assertThat(forced.reason()).contains("512-bit").contains("forced by -Djlisa.gemm.*: kernel=5x2 kc=300");

        props.setProperty("jlisa.gemm.kernel", "6x4");
        props.setProperty("jlisa.gemm.ainplace", "false");
        GemmPlan packed = force(props);
        assertThat(packed.aInPlace()).isFalse();
        assertThat(packed.reason()).contains("ainplace=false kc=300");
        props.setProperty("jlisa.gemm.ainplace", "yes");
        assertThatThrownBy(() -> force(props)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("jlisa.gemm.ainplace").hasMessageContaining("true or false").hasMessageContaining("'yes'");
        props.setProperty("jlisa.gemm.kernel", "5x2");
        props.setProperty("jlisa.gemm.ainplace", "true");
        assertThatThrownBy(() -> force(props)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("only the 6 × 4 kernel reads A in place");
        props.remove("jlisa.gemm.ainplace");

        props.setProperty("jlisa.gemm.kernel", "8x3");
        assertThatThrownBy(() -> force(props)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("6x4 or 5x2").hasMessageContaining("8x3");
        props.setProperty("jlisa.gemm.kernel", "6x4");
        props.setProperty("jlisa.gemm.kc", "0");
        assertThatThrownBy(() -> force(props)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("jlisa.gemm.kc").hasMessageContaining("'0'");
    }

    /** The plan of the 512-bit CPU above, with these properties. */
    private static GemmPlan force(Properties props) {
        return GemmPlan.choose(512, "amd64", "AuthenticAMD", 32 * KIB, MIB, 32 * MIB, props);
    }

    @Test
    void onlyTheSixByFourKernelReadsAInPlace() {
        assertThatThrownBy(() -> new GemmPlan(5, 2, 1024, 250, 2048, true, true, "test"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("only the 6 × 4 kernel reads A in place");
        assertThatThrownBy(() -> new GemmPlan(4, 3, 1024, 250, 2048, false, true, "test"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("6 × 4 or 5 × 2");
    }

    @Test
    void theVendorIsReadOrEmpty() {
        String v = GemmPlan.vendor();
        if (System.getProperty("os.arch", "").equals("amd64") && java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/cpuinfo")))
            assertThat(v).isNotEmpty().doesNotContain(":").isEqualTo(v.trim());
        assertThat(GemmPlan.CHOSEN.reason()).contains(v);
    }

    @Test
    void sysfsSizesParse() {
        assertThat(GemmPlan.parseSize("32K")).isEqualTo(32 * KIB);
        assertThat(GemmPlan.parseSize("1024K")).isEqualTo(MIB);
        assertThat(GemmPlan.parseSize("32M")).isEqualTo(32 * MIB);
        assertThat(GemmPlan.parseSize("4096")).isEqualTo(4096);
        assertThat(GemmPlan.parseSize("")).isZero();
        assertThat(GemmPlan.parseSize("big")).isZero();
    }

    @Test
    void theChosenPlanDescribesItself() {
        String line = GemmPlan.CHOSEN.describe();
        assertThat(line).contains("tile").contains("KC " + GemmPlan.CHOSEN.kc()).contains(GemmPlan.CHOSEN.reason());
    }
}
