package jlisa.transformer.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import jlisa.tensor.DType;
import jlisa.tensor.HeapStorage;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Shapes;
import jlisa.tensor.Storage;
import jlisa.tensor.Tensor;

/**
 * One memory-mapped safetensors file: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * naming each tensor's dtype, shape and byte range, then the data buffer those ranges index.
 *
 * <p>The header is checked completely on {@link SafeTensors#open}: every entry well-formed, every
 * byte range inside the data buffer and exactly as long as its shape needs, no two ranges
 * overlapping, and no byte of the buffer left uncovered (as the reference Rust implementation,
 * which calls a hole "MetadataIncompleteBuffer").
 *
 * <p>The file is mapped into a shared {@link Arena} that {@link #close()} closes: the mapping goes
 * away at a known moment instead of whenever the collector notices (a 10 GB checkpoint should not
 * wait for a GC that mapped memory does not trigger), and any thread may read the tensors. A
 * zero-copy tensor is valid until close; reading it afterwards throws IllegalStateException rather
 * than touching unmapped memory. A model that keeps mapped weights keeps the file open; one that
 * wants heap weights copies them ({@link Tensor#copy()}) and closes the file.
 */
public final class SafeTensorsFile implements TensorSource {
    /** Headers above this size are refused before they are read, as in the reference implementation. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    static final String METADATA_KEY = "__metadata__";

    static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, TensorInfo> infos;
    private final Map<String, String> metadata;
    private final List<Storage> views = new ArrayList<>();
    private boolean closed;

    private SafeTensorsFile(Path file, Arena arena, MemorySegment data, Map<String, TensorInfo> infos,
            Map<String, String> metadata) {
        this.file = file;
        this.arena = arena;
        this.data = data;
        this.infos = Collections.unmodifiableMap(infos);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /** Maps {@code file} and validates its header; see {@link SafeTensors#open(Path)}. */
    static SafeTensorsFile open(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw error(file, "is " + size + " bytes long; a safetensors file starts with an 8-byte header length");
            }
            Arena arena = Arena.ofShared();
            try {
                MemorySegment whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                long headerLength = whole.get(LE_LONG, 0);
                if (headerLength < 0 || headerLength > size - 8) {
                    throw error(file, "header length is " + Long.toUnsignedString(headerLength) + " bytes but only "
                            + (size - 8) + " bytes follow the 8-byte length (file size " + size + ")");
                }
                if (headerLength > MAX_HEADER_BYTES) {
                    throw error(file, "header length is " + headerLength + " bytes, above the limit of "
                            + MAX_HEADER_BYTES);
                }
                byte[] header = whole.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
                MemorySegment data = whole.asSlice(8 + headerLength);
                Map<String, String> metadata = new TreeMap<>();
                Map<String, TensorInfo> infos = parseHeader(file, header, data.byteSize(), metadata);
                return new SafeTensorsFile(file, arena, data, infos, metadata);
            } catch (IOException | RuntimeException | Error e) {
                arena.close();   // a refused file leaves no mapping behind
                throw e;
            }
        }
    }

    // ---------------------------------------------------------------- header

    private static Map<String, TensorInfo> parseHeader(Path file, byte[] header, long dataLength,
            Map<String, String> metadata) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(header)).toString();
        } catch (CharacterCodingException e) {
            throw error(file, "header is not valid UTF-8");
        }
        if (!text.startsWith("{")) {
            throw error(file, "header must start with '{', found " + (text.isEmpty() ? "an empty header" : quote(text)));
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + " column " + at.getColumnNr()
                    + " (char " + at.getCharOffset() + ")";
            throw new SafeTensorsException(file + ": header JSON does not parse" + where + ": " + e.getOriginalMessage(), e);
        }
        if (!root.isObject()) throw error(file, "header must be a JSON object, found " + root.getNodeType());

        Map<String, TensorInfo> infos = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String name = e.getKey();
            if (name.equals(METADATA_KEY)) {
                readMetadata(file, e.getValue(), metadata);
            } else {
                infos.put(name, readEntry(file, name, e.getValue(), dataLength));
            }
        }
        checkCoverage(file, infos.values(), dataLength);
        return infos;
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> metadata) {
        if (node.isNull()) return;
        if (!node.isObject()) throw error(file, METADATA_KEY + " must be an object of strings, found " + node.getNodeType());
        for (Map.Entry<String, JsonNode> m : node.properties()) {
            if (!m.getValue().isTextual()) {
                throw error(file, METADATA_KEY + " must map strings to strings, but \"" + m.getKey() + "\" maps to a "
                        + m.getValue().getNodeType() + " (" + m.getValue() + ")");
            }
            metadata.put(m.getKey(), m.getValue().textValue());
        }
    }

    private static TensorInfo readEntry(Path file, String name, JsonNode node, long dataLength) {
        String where = "tensor \"" + name + "\"";
        if (!node.isObject()) {
            throw error(file, where + ": expected an object with dtype, shape and data_offsets, found "
                    + node.getNodeType() + " " + node);
        }
        JsonNode dtypeNode = required(file, where, node, "dtype");
        if (!dtypeNode.isTextual()) throw error(file, where + ": \"dtype\" must be a string, found " + dtypeNode);
        SafeTensorsDType dtype = SafeTensorsDType.parse(dtypeNode.textValue());
        if (dtype == null) {
            throw error(file, where + ": unknown dtype \"" + dtypeNode.textValue() + "\"; known: " + SafeTensorsDType.known());
        }

        JsonNode shapeNode = required(file, where, node, "shape");
        if (!shapeNode.isArray()) throw error(file, where + ": \"shape\" must be an array of integers, found " + shapeNode);
        int[] shape = new int[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            long d = nonNegativeLong(file, where + ": shape " + shapeNode + " dimension " + i, shapeNode.get(i));
            if (d > Integer.MAX_VALUE) {
                throw error(file, where + ": shape " + shapeNode + " dimension " + i + " is " + d
                        + ", above the " + Integer.MAX_VALUE + " a jlisa tensor dimension can hold");
            }
            shape[i] = (int) d;
        }

        JsonNode offsets = required(file, where, node, "data_offsets");
        if (!offsets.isArray() || offsets.size() != 2) {
            throw error(file, where + ": \"data_offsets\" must be an array [begin, end], found " + offsets);
        }
        long begin = nonNegativeLong(file, where + ": data_offsets begin", offsets.get(0));
        long end = nonNegativeLong(file, where + ": data_offsets end", offsets.get(1));
        if (begin > end) throw error(file, where + ": data_offsets [" + begin + ", " + end + "] has begin > end");
        if (end > dataLength) {
            throw error(file, where + ": data_offsets [" + begin + ", " + end + "] reach beyond the data buffer of "
                    + dataLength + " bytes");
        }
        long expected;
        try {
            expected = dtype.byteSize();
            for (int d : shape) expected = Math.multiplyExact(expected, (long) d);
        } catch (ArithmeticException overflow) {
            throw error(file, where + ": shape " + Arrays.toString(shape) + " of " + dtype + " overflows a 64-bit byte count");
        }
        if (expected != end - begin) {
            throw error(file, where + ": shape " + Arrays.toString(shape) + " of " + dtype + " needs " + expected
                    + " bytes but data_offsets [" + begin + ", " + end + "] span " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static JsonNode required(Path file, String where, JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null) throw error(file, where + ": missing \"" + field + "\" (found " + node + ")");
        return v;
    }

    private static long nonNegativeLong(Path file, String what, JsonNode n) {
        if (!n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < 0) {
            throw error(file, what + " must be a non-negative integer, found " + n);
        }
        return n.longValue();
    }

    /** Ranges sorted by start must tile [0, dataLength) exactly: no overlap, no hole, nothing left over. */
    private static void checkCoverage(Path file, Iterable<TensorInfo> infos, long dataLength) {
        List<TensorInfo> sorted = new ArrayList<>();
        infos.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end)
                .thenComparing(TensorInfo::name));
        long covered = 0;
        TensorInfo previous = null;
        for (TensorInfo t : sorted) {
            if (t.begin() < covered) {
                throw error(file, "tensors \"" + previous.name() + "\" [" + previous.begin() + ", " + previous.end()
                        + ") and \"" + t.name() + "\" [" + t.begin() + ", " + t.end() + ") overlap");
            }
            if (t.begin() > covered) {
                throw error(file, "data bytes [" + covered + ", " + t.begin() + ") belong to no tensor (the next is \""
                        + t.name() + "\"); the data buffer must be fully covered");
            }
            covered = t.end();
            previous = t;
        }
        if (covered != dataLength) {
            throw error(file, "data bytes [" + covered + ", " + dataLength + ") belong to no tensor; the data buffer of "
                    + dataLength + " bytes must be fully covered");
        }
    }

    // ---------------------------------------------------------------- access

    /** The file this was read from. */
    public Path path() { return file; }

    @Override public Set<String> names() { return infos.keySet(); }

    @Override public boolean contains(String name) { return infos.containsKey(name); }

    @Override public TensorInfo info(String name) {
        TensorInfo info = infos.get(name);
        if (info == null) {
            throw new SafeTensorsException(file + ": no tensor named \"" + name + "\" (the file has " + infos.size()
                    + " tensors)");
        }
        return info;
    }

    @Override public Map<String, String> metadata() { return metadata; }

    @Override public synchronized Tensor tensor(String name, MemoryKind kind) {
        if (closed) throw new IllegalStateException(file + " is closed; cannot read tensor \"" + name + "\"");
        TensorInfo info = info(name);
        long numel = info.numel();
        if (numel > Integer.MAX_VALUE) {
            throw new SafeTensorsException(file + ": tensor \"" + name + "\" has " + numel
                    + " elements, above the " + Integer.MAX_VALUE + " a jlisa tensor can hold");
        }
        int n = (int) numel;
        int[] shape = info.shape();
        int[] strides = Shapes.contiguousStrides(shape);
        MemorySegment bytes = data.asSlice(info.begin(), info.byteSize());
        SafeTensorsDType dtype = info.dtype();
        if (dtype.isZeroCopy()) {
            SegmentStorage view = SegmentStorage.of(dtype.loadsAs(), bytes, kind);
            views.add(view);
            return new Tensor(view, shape, strides, 0);
        }
        return switch (dtype) {
            case F16 -> {
                float[] out = new float[n];
                for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(bytes.getAtIndex(LE_SHORT, i));
                yield new Tensor(HeapStorage.wrap(out, kind), shape, strides, 0);
            }
            case BOOL, U8, I8, I16, U16, U32, I64, U64 -> {
                int[] out = new int[n];
                for (int i = 0; i < n; i++) out[i] = intAt(bytes, dtype, name, i);
                yield new Tensor(HeapStorage.wrap(out, kind), shape, strides, 0);
            }
            default -> throw new SafeTensorsException(file + ": tensor \"" + name + "\" has dtype " + dtype
                    + ", which jlisa cannot load; loadable: F32, BF16, F64, I32 (in place), F16 (to F32), "
                    + "BOOL, U8, I8, I16, U16, U32, I64, U64 (to I32)");
        };
    }

    /** Element {@code i} of an integer tensor, checked to fit the I32 it loads as. */
    private int intAt(MemorySegment bytes, SafeTensorsDType dtype, String name, int i) {
        long v = switch (dtype) {
            case BOOL, U8 -> Byte.toUnsignedLong(bytes.get(ValueLayout.JAVA_BYTE, i));
            case I8 -> bytes.get(ValueLayout.JAVA_BYTE, i);
            case I16 -> bytes.getAtIndex(LE_SHORT, i);
            case U16 -> Short.toUnsignedLong(bytes.getAtIndex(LE_SHORT, i));
            case U32 -> Integer.toUnsignedLong(bytes.getAtIndex(LE_INT, i));
            case I64, U64 -> bytes.getAtIndex(LE_LONG, i);
            default -> throw new IllegalStateException("not an integer dtype: " + dtype);
        };
        boolean fits = dtype == SafeTensorsDType.U64 ? v >= 0 && v <= Integer.MAX_VALUE
                : v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE;
        if (!fits) {
            String shown = dtype == SafeTensorsDType.U64 ? Long.toUnsignedString(v) : Long.toString(v);
            throw new SafeTensorsException(file + ": tensor \"" + name + "\" (" + dtype + ") element " + i + " is "
                    + shown + ", outside the I32 range it loads as");
        }
        return (int) v;
    }

    /** Unmaps the file and releases the ledger entries of the views handed out. Idempotent. */
    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        for (Storage v : views) v.release();
        views.clear();
        arena.close();
    }

    /** True once {@link #close()} ran. */
    public synchronized boolean isClosed() { return closed; }

    @Override public String toString() { return "SafeTensorsFile(" + file + ", " + infos.size() + " tensors)"; }

    private static SafeTensorsException error(Path file, String message) {
        return new SafeTensorsException(file + ": " + message);
    }

    private static String quote(String s) {
        return "\"" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "\"";
    }
}
