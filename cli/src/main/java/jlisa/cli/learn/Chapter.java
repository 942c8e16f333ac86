package jlisa.cli.learn;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * One chapter of the course in {@code docs/learn/}: a Markdown file {@code NN-slug.md} whose {@code ```java} blocks are
 * JShell snippets run in order in one session, each optionally followed by an {@code ```output} block stating what it
 * prints. Its exercise's worked solution, when it has one, is {@code solutions/NN-slug.jsh}, checked by calling the
 * chapter's {@code checkExercise()}. Immutable and thread-safe.
 *
 * @param file     the Markdown file
 * @param number   NN
 * @param title    the first heading, without its '#'
 * @param blocks   the java blocks in order
 * @param solution the exercise's solution file, if there is one
 */
public record Chapter(Path file, int number, String title, List<Block> blocks, Optional<Path> solution) {

    /** A java block: its code, the line of the file it starts on, and the output it states, if any. */
    public record Block(String code, int line, Optional<String> expectedOutput) {}

    /** The chapters of {@code dir} in number order. */
    public static List<Chapter> all(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(dir + ": no course here (expected docs/learn/)");
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().matches("\\d\\d-.*\\.md")).sorted().map(Chapter::read).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": " + e.getMessage(), e);
        }
    }

    /** Parses one chapter file. */
    public static Chapter read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
        String name = file.getFileName().toString();
        int number = Integer.parseInt(name.substring(0, 2));
        String title = lines.stream().filter(l -> l.startsWith("# ")).findFirst().map(l -> l.substring(2).trim())
                .orElseThrow(() -> new IllegalArgumentException(file + ": no '# title' line"));
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String fence = lines.get(i).trim();
            if (!fence.equals("```java") && !fence.equals("```output")) continue;
            int start = i + 1, end = start;
            while (end < lines.size() && !lines.get(end).trim().equals("```")) end++;
            if (end == lines.size()) throw new IllegalArgumentException(file + ":" + (i + 1) + ": a " + fence + " block is not closed");
            String body = String.join("\n", lines.subList(start, end));
            if (fence.equals("```java")) {
                blocks.add(new Block(body, start + 1, Optional.empty()));
            } else {
                if (blocks.isEmpty() || blocks.getLast().expectedOutput().isPresent()) {
                    throw new IllegalArgumentException(file + ":" + (i + 1) + ": an output block must follow a java block");
                }
                Block last = blocks.removeLast();
                blocks.add(new Block(last.code(), last.line(), Optional.of(body)));
            }
            i = end;
        }
        Path solution = file.resolveSibling("solutions").resolve(name.replaceFirst("\\.md$", ".jsh"));
        return new Chapter(file, number, title, List.copyOf(blocks), Files.isRegularFile(solution) ? Optional.of(solution) : Optional.empty());
    }
}
