package jlisa.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import jlisa.tensor.kernels.Elementwise;
import org.junit.jupiter.api.Test;

/** What ties the Java side to the CUDA C of {@link ResidentKernelSource}, checked without a device or a compiler. */
class ResidentKernelSourceTest {

    @Test void opCodesAreTheOrdinalsTheKernelsSwitchOn() {
        // unary_f32 and binary_op switch on these ordinals: a new or reordered constant needs its case there too
        assertThat(Elementwise.Unary.values()).extracting(Enum::name).containsExactly("NEG", "EXP", "LOG", "SQRT", "RSQRT",
                "ABS", "TANH", "SIGMOID", "RELU", "SQUARE", "RECIPROCAL", "SIGN", "STEP");
        assertThat(Elementwise.Binary.values()).extracting(Enum::name).containsExactly("ADD", "SUB", "MUL", "DIV", "MAX", "MIN",
                "POW");
    }

    @Test void everyEntryIsAKernelOfTheSourceAndIsLaunchable() {
        for (String entry : ResidentKernelSource.ENTRIES) {
            assertThat(CudaKernels.SOURCE).contains("extern \"C\" __global__ void " + entry + "(");
            assertThat(CudaKernels.ENTRIES).contains(entry);
        }
    }
}
