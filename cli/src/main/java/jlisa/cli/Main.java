package jlisa.cli;

import jlisa.cli.demo.Progress;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code jlisa} command. Subcommands arrive with the issues that build them.
 *
 * <p>Not meant for use from several threads at once: each {@link #run} builds its own command tree, but commands print to the
 * process's stdout.
 */
@Command(name = "jlisa", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "A deep-learning engine in pure Java: tensors, autograd, transformers, LISA-AdamW.",
        subcommands = {DemoCommand.class, PretrainCommand.class, FinetuneCommand.class, CompareCommand.class, GenerateCommand.class, ScoreCommand.class, BenchCommand.class, InfoCommand.class, LearnCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    /** {@code jlisa <version>}, the version Maven built (jlisa/cli/version.properties, filtered from the pom). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override public String[] getVersion() throws java.io.IOException {
            java.util.Properties p = new java.util.Properties();
            try (var in = Main.class.getResourceAsStream("version.properties")) {
                if (in == null) throw new IllegalStateException("jlisa/cli/version.properties is missing from the build");
                p.load(in);
            }
            return new String[] {"jlisa " + p.getProperty("version"),
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")"};
        }
    }

    @Override public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        int code = run(args);
        DistributedJob.finish(code);
        System.exit(code);
    }

    /** The command tree; with {@code noColor} (NO_COLOR set) help is plain text, else picocli decides by terminal. */
    static CommandLine commandLine(boolean noColor) {
        CommandLine cl = new CommandLine(new Main());
        cl.setColorScheme(CommandLine.Help.defaultColorScheme(noColor ? CommandLine.Help.Ansi.OFF : CommandLine.Help.Ansi.AUTO));
        return cl;
    }

    /** Runs the command line and returns the exit code (tests call this). */
    public static int run(String... args) {
        // --debug anywhere on the line: stack traces instead of one-line messages.
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        String[] rest = java.util.Arrays.stream(args).filter(a -> !a.equals("--debug")).toArray(String[]::new);
        CommandLine cl = commandLine(Progress.noColor());
        // Bad input is one line on stderr and exit code 2, not a stack trace: the engine's exceptions say what
        // was expected and what came.
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (!debug && (e instanceof IllegalArgumentException || e instanceof IllegalStateException
                    || e instanceof java.io.IOException || e instanceof java.io.UncheckedIOException)) {
                String msg = e instanceof java.nio.file.NoSuchFileException ? "no such file: " + e.getMessage() : e.getMessage();
                String rank = DistributedJob.launchedByMpirun() ? "rank " + DistributedJob.rank() + ": " : "";
                cmd.getErr().println("jlisa: " + rank + msg + " (--debug shows the stack trace)");
                return 2;
            }
            throw e;
        });
        return cl.execute(rest);
    }
}
