package jlisa.transformer.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jlisa.tensor.DType;
import jlisa.tensor.HeapStorage;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Rng;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Storage;
import jlisa.tensor.Tensor;

class SafeTensorsTest {
    @TempDir Path dir;

    // ---------------------------------------------------------------- round trips

    @Test
    void everyDtypeAndOddShapeRoundTripsWithItsValues() throws IOException {
        Rng rng = new Rng(7);
        Map<String, Tensor> written = new LinkedHashMap<>();
        written.put("f32.matrix", Tensor.randn(rng, 0, 1, DType.F32, 7, 1, 3));
        written.put("f32.scalar", Tensor.scalar(-3.25));
        written.put("f32.empty", Tensor.zeros(0, 3));
        written.put("bf16", Tensor.randn(rng, 0, 1, DType.BF16, 5, 3));
        written.put("f64", Tensor.randn(rng, 0, 1, DType.F64, 3, 1, 2));
        written.put("i32", Tensor.of(new int[] {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 42}, 5));
        written.put("bf16.empty", Tensor.zeros(DType.BF16, 2, 0));
        Path file = dir.resolve("all.safetensors");
        SafeTensors.write(file, written, null);

        try (SafeTensorsFile f = SafeTensors.open(file)) {
            assertThat(f.names()).containsExactly("bf16", "bf16.empty", "f32.empty", "f32.matrix", "f32.scalar", "f64", "i32");
            assertThat(f.metadata()).isEmpty();
            for (Map.Entry<String, Tensor> e : written.entrySet()) {
                Tensor expected = e.getValue(), read = f.tensor(e.getKey(), MemoryKind.PARAMETER);
                assertThat(read.dtype()).as(e.getKey()).isEqualTo(expected.dtype());
                assertThat(read.shape()).as(e.getKey()).containsExactly(expected.shape());
                // copy(): Tensor.toDoubleArray() does not yet read segment-backed F64 itself
                assertThat(read.copy().toDoubleArray()).as(e.getKey()).containsExactly(expected.toDoubleArray());
                assertThat(read.storage().kind()).isEqualTo(MemoryKind.PARAMETER);
            }
            assertThat(f.info("f32.scalar").shape()).isEmpty();
            assertThat(f.info("f32.scalar").byteSize()).isEqualTo(4);
            assertThat(f.info("f32.empty").byteSize()).isZero();
        }
    }

    @Test
    void stridedAndMappedTensorsAreWrittenInRowMajorOrder() throws IOException {
        Tensor base = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Path first = dir.resolve("first.safetensors");
        SafeTensors.write(first, Map.of("t", base.t(), "narrow", base.narrow(1, 1, 2)), Map.of());
        Path second = dir.resolve("second.safetensors");
        try (SafeTensorsFile f = SafeTensors.open(first)) {
            assertThat(f.tensor("t", MemoryKind.OTHER).toFloatArray()).containsExactly(1, 4, 2, 5, 3, 6);
            assertThat(f.tensor("narrow", MemoryKind.OTHER).toFloatArray()).containsExactly(2, 3, 5, 6);
            // Re-save straight from the mapped views, one of them transposed again.
            Tensor mapped = f.tensor("t", MemoryKind.OTHER);
            SafeTensors.write(second, Map.of("same", mapped, "back", mapped.t()), null);
        }
        try (SafeTensorsFile f = SafeTensors.open(second)) {
            assertThat(f.tensor("same", MemoryKind.OTHER).toFloatArray()).containsExactly(1, 4, 2, 5, 3, 6);
            assertThat(f.tensor("back", MemoryKind.OTHER).toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
        }
    }

    @Test
    void metadataRoundTrips() throws IOException {
        Map<String, String> meta = Map.of("format", "pt", "note", "héllo \"quoted\" ✓", "empty", "");
        Path file = dir.resolve("meta.safetensors");
        SafeTensors.write(file, Map.of("x", Tensor.ones(2)), meta);
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            assertThat(f.metadata()).containsExactlyInAnyOrderEntriesOf(meta);
        }
    }

    // ---------------------------------------------------------------- zero copy and conversion

    @Test
    void f32IsAReadOnlyViewOfTheMappedFileThatKernelsRead() throws IOException {
        Tensor w = Tensor.randn(new Rng(3), 0, 1, DType.F32, 5, 4);
        Path file = dir.resolve("w.safetensors");
        SafeTensors.write(file, Map.of("w", w), null);
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            Tensor mapped = f.tensor("w", MemoryKind.PARAMETER);
            assertThat(mapped.storage()).isInstanceOf(SegmentStorage.class);
            assertThat(mapped.storage().isReadOnly()).isTrue();
            assertThat(mapped.isContiguous()).isTrue();
            assertThatThrownBy(() -> mapped.fill(0)).isInstanceOf(IllegalStateException.class);
            Tensor x = Tensor.randn(new Rng(4), 3, 5);
            assertThat(x.matmul(mapped).toFloatArray()).containsExactly(x.matmul(w).toFloatArray());
        }
    }

    @Test
    void bf16LoadsWithoutACopyAndWidensOnRead() throws IOException {
        short[] bits = {DType.floatToBf16(1.5f), DType.floatToBf16(-2f), DType.floatToBf16(0.15625f),
                DType.floatToBf16(Float.NEGATIVE_INFINITY)};
        Path file = dir.resolve("bf16.safetensors");
        SafeTensors.write(file, Map.of("b", new Tensor(HeapStorage.wrapBf16(bits, MemoryKind.OTHER), new int[] {2, 2},
                new int[] {2, 1}, 0)), null);
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            Tensor b = f.tensor("b", MemoryKind.PARAMETER);
            assertThat(b.storage()).isInstanceOf(SegmentStorage.class);
            assertThat(b.dtype()).isEqualTo(DType.BF16);
            assertThat(b.storage().isReadOnly()).isTrue();
            assertThat(b.dense().toFloatArray()).containsExactly(1.5f, -2f, 0.15625f, Float.NEGATIVE_INFINITY);
        }
    }

    @Test
    void f16IsConvertedToF32IncludingSubnormalsInfinitiesAndNaN() throws IOException {
        short[] half = {0x3C00, (short) 0xC000, 0x0001, 0x03FF, 0x7C00, (short) 0xFC00, 0x7E00, 0x7BFF, (short) 0x8000};
        ByteBuffer data = ByteBuffer.allocate(half.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (short h : half) data.putShort(h);
        Path file = Crafted.file(dir, "{\"h\":{\"dtype\":\"F16\",\"shape\":[3,3],\"data_offsets\":[0,18]}}", data.array());
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            Tensor h = f.tensor("h", MemoryKind.PARAMETER);
            assertThat(h.dtype()).isEqualTo(DType.F32);
            assertThat(h.storage()).isInstanceOf(HeapStorage.class);
            assertThat(h.shape()).containsExactly(3, 3);
            assertThat(h.toFloatArray()).containsExactly(1f, -2f, 0x1p-24f, 1023 * 0x1p-24f, Float.POSITIVE_INFINITY,
                    Float.NEGATIVE_INFINITY, Float.NaN, 65504f, -0f);
        }
    }

    @Test
    void integerTypesWidenToI32WithARangeCheck() throws IOException {
        ByteBuffer data = ByteBuffer.allocate(24 + 3 + 8).order(ByteOrder.LITTLE_ENDIAN);
        data.putLong(5).putLong(-7).putLong(1L << 40);          // I64: two fit, one does not
        data.put((byte) 200).put((byte) 0).put((byte) 1);      // U8
        data.putLong(-1);                                      // U64: 2^64 - 1
        Path file = Crafted.file(dir, "{\"ok\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                + "\"big\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[16,24]},"
                + "\"u8\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[24,27]},"
                + "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[27,35]}}", data.array());
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            assertThat(f.tensor("ok", MemoryKind.OTHER).intArray()).containsExactly(5, -7);
            assertThat(f.tensor("u8", MemoryKind.OTHER).intArray()).containsExactly(200, 0, 1);
            assertThatThrownBy(() -> f.tensor("big", MemoryKind.OTHER)).isInstanceOf(SafeTensorsException.class)
                    .hasMessageContaining("\"big\"").hasMessageContaining("1099511627776").hasMessageContaining("I32");
            assertThatThrownBy(() -> f.tensor("u64", MemoryKind.OTHER)).isInstanceOf(SafeTensorsException.class)
                    .hasMessageContaining("18446744073709551615");
        }
    }

    @Test
    void fp8TensorsAreListedButNotLoaded() throws IOException {
        Path file = Crafted.file(dir, "{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            assertThat(f.info("q").dtype()).isEqualTo(SafeTensorsDType.F8_E4M3);
            assertThatThrownBy(() -> f.tensor("q", MemoryKind.OTHER)).isInstanceOf(SafeTensorsException.class)
                    .hasMessageContaining("F8_E4M3").hasMessageContaining("cannot load");
        }
    }

    @Test
    void unknownNameIsAClearError() throws IOException {
        Path file = dir.resolve("x.safetensors");
        SafeTensors.write(file, Map.of("x", Tensor.ones(1)), null);
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            assertThatThrownBy(() -> f.info("y")).isInstanceOf(SafeTensorsException.class)
                    .hasMessageContaining(file.toString()).hasMessageContaining("\"y\"");
        }
    }

    @Test
    void closingUnmapsAndReleasesTheViewsLedgerEntries() throws IOException {
        Path file = dir.resolve("c.safetensors");
        SafeTensors.write(file, Map.of("x", Tensor.ones(3)), null);
        SafeTensorsFile f = SafeTensors.open(file);
        Tensor x = f.tensor("x", MemoryKind.PARAMETER);
        Tensor kept = x.copy();
        f.close();
        f.close();   // idempotent
        assertThat(f.isClosed()).isTrue();
        assertThat(x.storage().isReleased()).isTrue();
        assertThatThrownBy(() -> f.tensor("x", MemoryKind.PARAMETER)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(x::toFloatArray).isInstanceOf(IllegalStateException.class);   // unmapped: refused, no crash
        assertThat(kept.toFloatArray()).containsExactly(1, 1, 1);
    }

    // ---------------------------------------------------------------- sharded checkpoints

    @Test
    void shardedDirectoryOpensEachShardOnceAndServesEveryTensor() throws IOException {
        SafeTensors.write(dir.resolve("model-00001-of-00002.safetensors"),
                Map.of("a", Tensor.of(new float[] {1, 2}, 2), "b", Tensor.scalar(3)), null);
        SafeTensors.write(dir.resolve("model-00002-of-00002.safetensors"),
                Map.of("c", Tensor.of(new float[] {4, 5, 6}, 3, 1)), null);
        Files.writeString(dir.resolve(SafeTensors.INDEX_FILE), """
                {"metadata": {"total_size": 24},
                 "weight_map": {"a": "model-00001-of-00002.safetensors",
                                "b": "model-00001-of-00002.safetensors",
                                "c": "model-00002-of-00002.safetensors"}}""");
        TensorSource model = SafeTensors.openModel(dir);
        try (model) {
            assertThat(model).isInstanceOf(ShardedSafeTensors.class);
            assertThat(((ShardedSafeTensors) model).shardCount()).isEqualTo(2);
            assertThat(model.names()).containsExactly("a", "b", "c");
            assertThat(model.metadata()).containsEntry("total_size", "24");
            assertThat(model.tensor("a", MemoryKind.PARAMETER).toFloatArray()).containsExactly(1, 2);
            assertThat(model.tensor("b", MemoryKind.PARAMETER).item()).isEqualTo(3.0);
            assertThat(model.info("c").shape()).containsExactly(3, 1);
            assertThat(model.tensor("c", MemoryKind.PARAMETER).toFloatArray()).containsExactly(4, 5, 6);
            assertThatThrownBy(() -> model.tensor("d", MemoryKind.PARAMETER)).isInstanceOf(SafeTensorsException.class)
                    .hasMessageContaining("\"d\"");
        }
        assertThatThrownBy(() -> model.tensor("a", MemoryKind.PARAMETER)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void singleFileCheckpointIsPreferredWhenPresent() throws IOException {
        SafeTensors.write(dir.resolve(SafeTensors.MODEL_FILE), Map.of("w", Tensor.ones(2)), Map.of("format", "pt"));
        try (TensorSource model = SafeTensors.openModel(dir)) {
            assertThat(model).isInstanceOf(SafeTensorsFile.class);
            assertThat(model.names()).containsExactly("w");
            assertThat(model.metadata()).containsEntry("format", "pt");
        }
    }

    @Test
    void checkpointDirectoryProblemsAreNamed() throws IOException {
        assertThatThrownBy(() -> SafeTensors.openModel(dir)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining(SafeTensors.MODEL_FILE).hasMessageContaining(SafeTensors.INDEX_FILE);

        Path index = dir.resolve(SafeTensors.INDEX_FILE);
        Files.writeString(index, "{\"weight_map\": {\"a\": \"missing.safetensors\"}}");
        assertThatThrownBy(() -> SafeTensors.openModel(dir)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("missing.safetensors").hasMessageContaining("does not exist");

        Files.writeString(index, "{\"weight_map\": {\"a\": \"../outside.safetensors\"}}");
        assertThatThrownBy(() -> SafeTensors.openModel(dir)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("not a file name");

        SafeTensors.write(dir.resolve("s.safetensors"), Map.of("a", Tensor.ones(1)), null);
        Files.writeString(index, "{\"weight_map\": {\"a\": \"s.safetensors\", \"zz\": \"s.safetensors\"}}");
        assertThatThrownBy(() -> SafeTensors.openModel(dir)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("\"zz\"").hasMessageContaining("s.safetensors");

        Files.writeString(index, "{\"metadata\": {}}");
        assertThatThrownBy(() -> SafeTensors.openModel(dir)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("weight_map");

        Files.writeString(index, "{\"weight_map\": ");
        assertThatThrownBy(() -> SafeTensors.openModel(dir)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("does not parse");
    }

    // ---------------------------------------------------------------- writing

    @Test
    void writtenBytesMatchTheSpecByteForByte() throws IOException {
        Path file = dir.resolve("golden.safetensors");
        SafeTensors.write(file, Map.of("a", Tensor.of(new float[] {1f, -2f}, 2)), Map.of("format", "pt"));
        // 85 bytes of JSON, padded with 35 spaces to 120 = 0x78 (8 + 120 = 128: the data on a cache line); then 1.0f
        // and -2.0f, little-endian.
        String json = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"
                + " ".repeat(35);
        byte[] expected = concat(HexFormat.of().parseHex("7800000000000000"), json.getBytes(StandardCharsets.UTF_8),
                HexFormat.of().parseHex("0000803f000000c0"));
        assertThat(Files.readAllBytes(file)).containsExactly(expected);
    }

    @Test
    void handMadeFileWithPaddingAndMetadataLastReads() throws IOException {
        // As another writer might lay it out: metadata after the tensors, spaces inside and after the JSON.
        String json = "{ \"b\" : {\"shape\":[1],\"dtype\":\"F32\",\"data_offsets\":[4,8]},"
                + " \"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}, \"__metadata__\":{\"k\":\"v\"} }      ";
        byte[] data = HexFormat.of().parseHex("0000c03f" + "000020c1");   // 1.5f, -10.0f
        Path file = Crafted.file(dir, json, data);
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            assertThat(f.names()).containsExactly("a", "b");
            assertThat(f.tensor("a", MemoryKind.OTHER).item()).isEqualTo(1.5);
            assertThat(f.tensor("b", MemoryKind.OTHER).toFloatArray()).containsExactly(-10f);
            assertThat(f.metadata()).containsExactly(Map.entry("k", "v"));
        }
    }

    @Test
    void headerIsPaddedToAMultipleOfEightWithTheDataOnACacheLineAndDataIsInSortedNameOrder() throws IOException {
        Path file = dir.resolve("order.safetensors");
        SafeTensors.write(file, Map.of("zeta", Tensor.ones(3), "alpha", Tensor.zeros(2), "mid", Tensor.scalar(1)), null);
        long headerLength = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(headerLength % 8).isZero();
        assertThat((8 + headerLength) % 64).as("the data starts on a cache line").isZero();
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            assertThat(f.info("alpha").begin()).isZero();
            assertThat(f.info("mid").begin()).isEqualTo(8);
            assertThat(f.info("zeta").begin()).isEqualTo(12);
            assertThat(f.info("zeta").end()).isEqualTo(24);
        }
    }

    @Test
    void failedWriteLeavesThePreviousFileIntactAndNoTemporary() throws IOException {
        Path file = dir.resolve("ckpt.safetensors");
        SafeTensors.write(file, Map.of("a", Tensor.ones(4)), Map.of("step", "1"));
        byte[] before = Files.readAllBytes(file);

        Storage broken = new Storage(DType.F32, 4, MemoryKind.OTHER, false) {
            @Override public boolean isCpu() { return false; }
            @Override public double get(long i) { throw new IllegalStateException("device lost"); }
            @Override public void set(long i, double value) { throw new IllegalStateException("device lost"); }
        };
        Map<String, Tensor> tensors = Map.of("a", Tensor.full(2, DType.F32, 1000),   // written first, then "z" fails
                "z", new Tensor(broken, new int[] {4}, new int[] {1}, 0));
        assertThatThrownBy(() -> SafeTensors.write(file, tensors, Map.of("step", "2")))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("device lost");

        assertThat(Files.readAllBytes(file)).containsExactly(before);
        assertThat(listing()).containsExactly("ckpt.safetensors");
    }

    @Test
    void successfulWriteReplacesTheTargetAndLeavesNoTemporary() throws IOException {
        Path file = dir.resolve("ckpt.safetensors");
        SafeTensors.write(file, Map.of("a", Tensor.ones(4)), null);
        SafeTensors.write(file, Map.of("b", Tensor.zeros(2)), null);
        assertThat(listing()).containsExactly("ckpt.safetensors");
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            assertThat(f.names()).containsExactly("b");
        }
    }

    @Test
    void writeRefusesTheReservedMetadataName() {
        assertThatThrownBy(() -> SafeTensors.write(dir.resolve("m.safetensors"), Map.of("__metadata__", Tensor.ones(1)), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserved");
        assertThat(listing()).isEmpty();
    }

    private List<String> listing() {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) b.put(p);
        return b.array();
    }
}
