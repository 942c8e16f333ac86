package jlisa.transformer.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import jlisa.tensor.DType;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BF16 out is PyTorch's BF16: float32 values written as BF16 give, bit for bit, the bytes {@code tensor.to(torch.bfloat16)}
 * gives (src/test/golden/make_bf16_golden.py made the file: random values over 60 decades, exact ties, values just
 * beside ties, subnormals, the largest floats, signed zeros, infinities, NaN).
 */
class Bf16RoundingTest {
    static final Path GOLDEN = Path.of("src/test/resources/bf16/rounding.safetensors");

    @Test
    void writtenBf16BytesAreTorchsBits(@TempDir Path dir) throws Exception {
        Path ours = dir.resolve("ours.safetensors");
        try (SafeTensorsFile golden = SafeTensorsFile.open(GOLDEN)) {
            Tensor f32 = golden.tensor("f32", MemoryKind.OTHER);
            assertThat(f32.dtype()).isEqualTo(DType.F32);
            SafeTensors.write(ours, Map.of("bf16", f32.to(DType.BF16)), Map.of());
        }
        short[] torch = rawShorts(GOLDEN, "bf16"), jlisa = rawShorts(ours, "bf16");
        assertThat(jlisa).hasSize(torch.length).hasSizeGreaterThan(3000);
        int mismatches = 0;
        for (int i = 0; i < torch.length; i++) {
            // NaN's bits are not rounded but chosen: torch 1.13 writes 0xFFFF, newer torch 0x7FC0; both must stay NaN
            if (Float.isNaN(Float.intBitsToFloat((torch[i] & 0xFFFF) << 16))) {
                if (!Float.isNaN(Float.intBitsToFloat((jlisa[i] & 0xFFFF) << 16))) mismatches++;
            } else if (torch[i] != jlisa[i]) mismatches++;
        }
        assertThat(mismatches).as("elements whose BF16 bits differ from PyTorch's").isZero();
    }

    @Test
    void readBf16WidensExactlyToTheValuesTorchHolds() throws Exception {
        short[] torch = rawShorts(GOLDEN, "bf16");
        try (SafeTensorsFile golden = SafeTensorsFile.open(GOLDEN)) {
            Tensor bf16 = golden.tensor("bf16", MemoryKind.OTHER);
            assertThat(bf16.dtype()).isEqualTo(DType.BF16);
            float[] widened = bf16.toFloatArray();
            for (int i = 0; i < torch.length; i++) {
                float expected = Float.intBitsToFloat((torch[i] & 0xFFFF) << 16);
                if (Float.isNaN(expected)) assertThat(widened[i]).isNaN();
                else assertThat(Float.floatToRawIntBits(widened[i])).as("element %d", i).isEqualTo(Float.floatToRawIntBits(expected));
            }
        }
    }

    /** The raw little-endian 16-bit words of tensor {@code name}, read from the file's bytes, not through jlisa's loader. */
    static short[] rawShorts(Path file, String name) throws Exception {
        byte[] all = Files.readAllBytes(file);
        TensorInfo info;
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            info = f.info(name);
        }
        long dataStart = 8 + ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        byte[] raw = Arrays.copyOfRange(all, (int) (dataStart + info.begin()), (int) (dataStart + info.end()));
        short[] out = new short[raw.length / 2];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().get(out);
        return out;
    }
}
