package jlisa.transformer.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Files written so that a crash never leaves a half-written one: the bytes go to a temporary sibling, are forced
 * to disk, and the sibling is renamed over the target. The temporary is created as any new file is (mode from the
 * umask, 0644 under the usual 022) — not as {@link Files#createTempFile} makes it (0600), which would leave a saved
 * {@code config.json} unreadable to the rest of a team.
 *
 * <p>Stateless; safe to call from any thread (each write has its own temporary file; the last rename wins).
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes {@code bytes} to {@code file} atomically (see the class comment). */
    public static void write(Path file, byte[] bytes) throws IOException {
        Path target = file.toAbsolutePath();
        Path tmp = temporarySibling(target);
        boolean moved = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) ch.write(b);
                ch.force(true);
            }
            replace(tmp, target);
            moved = true;
        } finally {
            if (!moved) Files.deleteIfExists(tmp);
        }
    }

    /** A fresh hidden name beside {@code target}: {@code .<name>.<random hex>.tmp}. */
    static Path temporarySibling(Path target) {
        return target.resolveSibling("." + target.getFileName() + "." + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong())
                + ".tmp");
    }

    /** Renames {@code tmp} over {@code target} (atomically where the file system can) and makes the rename durable. */
    static void replace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        syncDirectory(target.getParent());
    }

    /** Makes a rename durable; not every platform lets a directory be opened, so failure is ignored. */
    private static void syncDirectory(Path dir) {
        if (dir == null) return;
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // the file itself is already forced; only the rename's durability is best-effort here
        }
    }
}
