package jlisa.cli.learn;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.stream.Collectors;

import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;

/**
 * Runs a chapter's code as a reader would type it into {@code ./jlisa shell}: one JShell session (with jlisa on the
 * class path and the course's imports made), each block's snippets in order. The snippets run in this JVM (JShell's
 * local execution): a separate JShell JVM runs under the debugger agent, which keeps the JIT from holding vectors in
 * registers and makes the kernels chapter's figures meaningless; this JVM already has the Vector API module.
 * A snippet that does not compile or throws is an error naming the chapter's file and line; each block's printed
 * output is captured and compared with its {@code ```output} block. Not thread-safe: one chapter at a time per runner.
 */
public final class ChapterRunner implements AutoCloseable {
    /** What every chapter and {@code ./jlisa shell} start with. */
    // not jlisa.tensor.kernels.* nor jlisa.autograd.functions.*: their Activations and Layers would clash with nn's
    public static final List<String> IMPORTS = List.of("jlisa.tensor.*", "jlisa.autograd.*", "jlisa.nn.*", "java.util.*",
            "java.util.function.*");

    /** A block's result: what it printed. */
    public record BlockResult(Chapter.Block block, String output) {}

    private final JShell shell;
    private final ByteArrayOutputStream jshellOut = new ByteArrayOutputStream();
    private final PrintStream systemOut = System.out;   // the snippets redirect System.out while they run

    /** A fresh session with {@code classPath} (entries separated by the path separator). */
    public ChapterRunner(String classPath) {
        shell = JShell.builder()
                .out(new PrintStream(jshellOut, true, StandardCharsets.UTF_8))
                .err(new PrintStream(jshellOut, true, StandardCharsets.UTF_8))
                .executionEngine("local")
                .compilerOptions("--add-modules", "jdk.incubator.vector")
                .build();
        for (String entry : classPath.split(File.pathSeparator)) if (!entry.isBlank()) shell.addToClasspath(entry);
        for (String i : IMPORTS) eval("import " + i + ";", "<imports>");
        // printed output is caught in the session's own JVM and handed back whole after each block
        eval("java.io.ByteArrayOutputStream __learnOut = new java.io.ByteArrayOutputStream();", "<setup>");
        eval("System.setOut(new java.io.PrintStream(__learnOut, true, java.nio.charset.StandardCharsets.UTF_8));", "<setup>");
    }

    /** This JVM's class path as the test or the launcher sees it (Surefire names the real one apart). */
    public static String currentClassPath() {
        return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    }

    /** Runs every block of {@code chapter}, checking stated outputs; returns each block's output. */
    public List<BlockResult> run(Chapter chapter) {
        List<BlockResult> results = new ArrayList<>();
        for (Chapter.Block b : chapter.blocks()) {
            String where = chapter.file() + ":" + b.line();
            evalAll(b.code(), chapter.file().toString(), b.line());
            String out = takeOutput(where);
            b.expectedOutput().ifPresent(want -> {
                if (!normalise(out).equals(normalise(want))) {
                    throw new ChapterException(where + ": the block printed\n" + out + "\nbut the chapter says\n" + want);
                }
            });
            results.add(new BlockResult(b, out));
        }
        return results;
    }

    /** Runs source text (a .jsh file's contents) as snippets; returns what it printed. */
    public String runSource(String source, String where) {
        evalAll(source, where, 1);
        return takeOutput(where);
    }

    /** Evaluates {@code source} snippet by snippet; errors name {@code file}:line, {@code firstLine} being its first line. */
    private void evalAll(String source, String file, int firstLine) {
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        String rest = source;
        while (!rest.isBlank()) {
            int at = source.length() - rest.length() + (rest.length() - rest.stripLeading().length());
            String where = file + ":" + (firstLine + source.substring(0, at).chars().filter(c -> c == '\n').count());
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(rest);
            if (info.completeness() == SourceCodeAnalysis.Completeness.EMPTY) break;
            if (!info.completeness().isComplete()) throw new ChapterException(where + ": incomplete snippet: " + rest.strip());
            eval(info.source(), where);
            rest = info.remaining();
        }
    }

    private List<SnippetEvent> eval(String snippet, String where) {
        List<SnippetEvent> events = shell.eval(snippet);
        for (SnippetEvent e : events) {
            if (e.status() == Snippet.Status.REJECTED) {
                String diags = shell.diagnostics(e.snippet()).map(d -> d.getMessage(java.util.Locale.ROOT))
                        .collect(Collectors.joining("; "));
                throw new ChapterException(where + ": does not compile: " + diags + "\n" + snippet.strip());
            }
            if (e.exception() != null) {
                Throwable t = e.exception();
                String type = t instanceof EvalException ee ? ee.getExceptionClassName() : t.getClass().getName();
                throw new ChapterException(where + ": " + type + ": " + t.getMessage()
                        + "\n" + snippet.strip() + "\nprinted so far:\n" + takeOutput(where), t);
            }
        }
        return events;
    }

    private String takeOutput(String where) {
        List<SnippetEvent> ev = shell.eval("java.util.Base64.getEncoder().encodeToString(__learnOut.toByteArray())");
        String v = ev.isEmpty() ? null : ev.getLast().value();
        shell.eval("__learnOut.reset();");
        if (v == null || v.length() < 2) throw new ChapterException(where + ": could not read the session's output");
        return new String(Base64.getDecoder().decode(v.substring(1, v.length() - 1)), StandardCharsets.UTF_8);
    }

    /** Lines with trailing spaces cut and trailing blank lines dropped. */
    static String normalise(String s) {
        return s.lines().map(String::stripTrailing).collect(Collectors.joining("\n")).stripTrailing();
    }

    @Override public void close() {
        shell.close();
        System.setOut(systemOut);
    }

    /** A chapter's code failed or printed what the chapter does not say. */
    public static final class ChapterException extends IllegalStateException {
        ChapterException(String message) { super(message); }

        ChapterException(String message, Throwable cause) { super(message, cause); }
    }
}
