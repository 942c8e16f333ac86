package jlisa.transformer.io;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonProcessingException;

import jlisa.tensor.DType;
import jlisa.tensor.HeapStorage;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Tensor;

/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors): an
 * 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * {@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"k": "v"}}}, then the data buffer, little-endian, that the offsets index.
 *
 * <p>Stateless; safe to call from any thread (a file being written is another matter).
 */
public final class SafeTensors {
    /** The single-file checkpoint name Hugging Face uses. */
    public static final String MODEL_FILE = "model.safetensors";
    /** The index of a sharded checkpoint. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private static final int CHUNK_BYTES = 1 << 20;

    private SafeTensors() {}

    /**
     * Memory-maps {@code file} and validates its whole header. Format errors throw
     * {@link SafeTensorsException} naming the file and what was expected; I/O errors throw IOException.
     */
    public static SafeTensorsFile open(Path file) throws IOException { return SafeTensorsFile.open(file); }

    /**
     * Opens the checkpoint in {@code dir}: {@value #MODEL_FILE} if present, else {@value #INDEX_FILE}
     * and every shard its weight_map names (each once).
     */
    public static TensorSource openModel(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new SafeTensorsException(dir + ": not a directory");
        Path single = dir.resolve(MODEL_FILE);
        if (Files.isRegularFile(single)) return SafeTensorsFile.open(single);
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) return ShardedSafeTensors.open(index);
        throw new SafeTensorsException(dir + ": no checkpoint found; looked for " + MODEL_FILE + " and " + INDEX_FILE);
    }

    /**
     * Writes {@code tensors} to {@code file}: tensors in sorted name order, each stored as its own
     * dtype (F32, BF16, F64, I32), data contiguous in that order, header padded with spaces so the data starts
     * 64-byte aligned (see {@link #header}). {@code metadata} may be null or empty (then no "__metadata__" entry).
     *
     * <p>The bytes go to a temporary file in the same directory, which is forced to disk and then
     * renamed over {@code file} in one atomic step: a crash or a failing tensor leaves the previous
     * {@code file} as it was and no temporary behind.
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        Map<String, Tensor> sorted = new TreeMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey() == null) throw new IllegalArgumentException("write " + file + ": a tensor name is null");
            if (e.getKey().equals(SafeTensorsFile.METADATA_KEY)) {
                throw new IllegalArgumentException("write " + file + ": \"" + SafeTensorsFile.METADATA_KEY
                        + "\" is reserved for metadata and cannot name a tensor");
            }
            if (e.getValue() == null) throw new IllegalArgumentException("write " + file + ": tensor \"" + e.getKey() + "\" is null");
            sorted.put(e.getKey(), e.getValue());
        }
        byte[] header = header(file, sorted, metadata);

        Path target = file.toAbsolutePath();
        Path tmp = AtomicFiles.temporarySibling(target);
        boolean moved = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
                writeFully(ch, prefix);
                writeFully(ch, ByteBuffer.wrap(header));
                ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK_BYTES);
                for (Tensor t : sorted.values()) writeData(ch, t, chunk);
                ch.force(true);
            }
            AtomicFiles.replace(tmp, target);
            moved = true;
        } finally {
            if (!moved) Files.deleteIfExists(tmp);
        }
    }

    /**
     * The JSON header, padded with spaces so that the data buffer (after the 8 length bytes and the header) starts
     * on a 64-byte boundary, which keeps a mapped weight's rows on cache lines when their sizes are multiples of 64
     * bytes: decoding reads each row with 64-byte vector loads, and rows off the line boundary read ~20% slower
     * (measured). The spec asks for 8; a multiple of 64 minus the 8 length bytes is one too.
     */
    static byte[] header(Path file, Map<String, Tensor> sorted, Map<String, String> metadata) {
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) {
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                if (m.getKey() == null || m.getValue() == null) {
                    throw new IllegalArgumentException("write " + file + ": metadata has a null key or value: " + m);
                }
            }
            header.put(SafeTensorsFile.METADATA_KEY, new TreeMap<>(metadata));
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
            Tensor t = e.getValue();
            SafeTensorsDType dtype = SafeTensorsDType.of(t.dtype());
            long bytes = (long) t.numel() * dtype.byteSize();
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", dtype.name());
            entry.put("shape", t.shape());
            entry.put("data_offsets", new long[] {offset, offset + bytes});
            header.put(e.getKey(), entry);
            offset += bytes;
        }
        byte[] json;
        try {
            json = SafeTensorsFile.JSON.writeValueAsBytes(header);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("write " + file + ": cannot serialise the header", e);
        }
        int padded = (json.length + 8 + 63) / 64 * 64 - 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** Appends {@code t}'s elements in row-major order, little-endian, through {@code chunk}. */
    private static void writeData(FileChannel ch, Tensor t, ByteBuffer chunk) throws IOException {
        long n = t.numel();
        if (n == 0) return;
        DType dtype = t.dtype();
        int size = dtype.byteSize();
        Tensor c = t.contiguous();
        MemorySegment src;
        ValueLayout srcLayout;
        if (c.storage() instanceof SegmentStorage s) {
            src = s.segment();
            srcLayout = layout(dtype, ByteOrder.LITTLE_ENDIAN);
        } else {
            if (c.isOnDevice()) c = c.toHost();                        // device memory: one transfer to the heap
            else if (!(c.storage() instanceof HeapStorage)) c = c.copy();
            HeapStorage h = (HeapStorage) c.storage();
            src = switch (dtype) {
                case F32 -> MemorySegment.ofArray(h.floats());
                case F64 -> MemorySegment.ofArray(h.doubles());
                case BF16 -> MemorySegment.ofArray(h.bf16Bits());
                case I32 -> MemorySegment.ofArray(h.ints());
            };
            srcLayout = layout(dtype, ByteOrder.nativeOrder());
        }
        ValueLayout fileLayout = layout(dtype, ByteOrder.LITTLE_ENDIAN);
        MemorySegment chunkSegment = MemorySegment.ofBuffer(chunk.clear());   // the whole buffer, whatever the last write left
        long start = (long) c.offset() * size;
        long perChunk = chunk.capacity() / size;
        for (long done = 0; done < n; ) {
            long k = Math.min(perChunk, n - done);
            MemorySegment.copy(src, srcLayout, start + done * size, chunkSegment, fileLayout, 0, k);
            chunk.clear().limit((int) (k * size));
            writeFully(ch, chunk);
            done += k;
        }
    }

    private static ValueLayout layout(DType dtype, ByteOrder order) {
        return switch (dtype) {
            case F32 -> ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(order);
            case F64 -> ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(order);
            case BF16 -> ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(order);
            case I32 -> ValueLayout.JAVA_INT_UNALIGNED.withOrder(order);
        };
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

}
