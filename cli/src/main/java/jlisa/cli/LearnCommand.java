package jlisa.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jlisa.cli.learn.Chapter;
import jlisa.cli.learn.ChapterRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jlisa learn [N]}: the course in docs/learn/, listed, or one chapter's code run with its output. */
@Command(name = "learn", mixinStandardHelpOptions = true,
        description = "List the chapters of the course in docs/learn/, or run chapter N: each code block is shown and run "
                + "in JShell as ./jlisa shell would run it, with what it prints. Type the code yourself in ./jlisa shell.")
final class LearnCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "N", description = "the chapter to run (default: list them)")
    Integer chapter;

    @Option(names = "--solution", description = "after the chapter, run the exercise's worked solution and its check "
            + "(default: off)")
    boolean solution;

    @Option(names = "--course", description = "the course directory (default: docs/learn of the jlisa checkout)")
    Path course;

    @Option(names = "--json", description = "print one JSON object (the chapters, or the blocks with their output) "
            + "and nothing else on stdout (default: off)")
    boolean json;

    @Override public Integer call() throws Exception {
        Path dir = course != null ? course : Path.of(System.getProperty("jlisa.home", ".")).resolve("docs/learn");
        List<Chapter> chapters = Chapter.all(dir);
        if (chapter == null) {
            if (json) {
                ObjectNode root = JsonOut.object();
                ArrayNode rows = root.putArray("chapters");
                for (Chapter c : chapters) {
                    rows.addObject().put("number", c.number()).put("title", c.title()).put("file", c.file().toString())
                            .put("code_blocks", c.blocks().size()).put("has_solution", c.solution().isPresent());
                }
                System.out.println(root.toPrettyString());
                return 0;
            }
            System.out.println("The course (" + dir + "); run one with ./jlisa learn N, type along in ./jlisa shell:");
            for (Chapter c : chapters) {
                System.out.printf("  %-48s %2d code blocks  %s%n", c.title(), c.blocks().size(), c.file().getFileName());
            }
            return 0;
        }
        Chapter c = chapters.stream().filter(x -> x.number() == chapter).findFirst().orElseThrow(() ->
                new IllegalArgumentException("learn: no chapter " + chapter + " in " + dir + " (there are "
                        + chapters.stream().map(x -> String.valueOf(x.number())).toList() + ")"));
        if (!json) System.err.println("jlisa learn: starting JShell for " + c.title() + " ...");
        List<ChapterRunner.BlockResult> results;
        String solved = null;
        // the snippets run in this JVM with System.out caught: print only once the session is closed
        try (ChapterRunner runner = new ChapterRunner(ChapterRunner.currentClassPath())) {
            results = runner.run(c);
            if (solution) {
                Path s = c.solution().orElseThrow(() -> new IllegalArgumentException("learn: " + c.file() + " has no solution file"));
                solved = runner.runSource(Files.readString(s), s.toString()) + runner.runSource("checkExercise();", s + " check");
            }
        }
        if (json) {
            ObjectNode root = JsonOut.object().put("chapter", c.number()).put("title", c.title());
            ArrayNode rows = root.putArray("blocks");
            for (var r : results) rows.addObject().put("line", r.block().line()).put("code", r.block().code()).put("output", r.output());
            if (solution) root.put("exercise_check", "passed").put("solution_output", solved);
            System.out.println(root.toPrettyString());
            return 0;
        }
        System.out.println("# " + c.title());
        for (var r : results) {
            System.out.println();
            r.block().code().lines().forEach(l -> System.out.println("jshell> " + l));
            if (!r.output().isEmpty()) System.out.print(r.output().endsWith("\n") ? r.output() : r.output() + "\n");
        }
        if (solution) {
            System.out.println();
            System.out.print(solved);
            System.out.println("exercise check passed with " + c.solution().get().getFileName());
        }
        return 0;
    }
}
