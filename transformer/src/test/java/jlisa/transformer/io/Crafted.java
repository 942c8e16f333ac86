package jlisa.transformer.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/** Safetensors files built byte by byte, for tests: an 8-byte length, the header text as given, then data. */
final class Crafted {
    private static final AtomicInteger COUNT = new AtomicInteger();

    private Crafted() {}

    /** A file whose header is {@code header} (UTF-8, unpadded) followed by {@code data}. */
    static Path file(Path dir, String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return raw(dir, b.array());
    }

    /** A file whose header is {@code header} followed by {@code dataLength} bytes 0, 1, 2, …. */
    static Path file(Path dir, String header, int dataLength) {
        byte[] data = new byte[dataLength];
        for (int i = 0; i < dataLength; i++) data[i] = (byte) i;
        return file(dir, header, data);
    }

    /** A file holding exactly {@code bytes}. */
    static Path raw(Path dir, byte[] bytes) {
        try {
            return Files.write(dir.resolve("crafted-" + COUNT.incrementAndGet() + ".safetensors"), bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
