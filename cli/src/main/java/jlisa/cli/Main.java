package jlisa.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code jlisa} command. Subcommands arrive with the issues that build them. */
@Command(name = "jlisa", mixinStandardHelpOptions = true, version = "jlisa 0.1.0",
        description = "A deep-learning engine in pure Java: tensors, autograd, transformers, LISA-AdamW.",
        subcommands = {DemoCommand.class, FinetuneCommand.class, ScoreCommand.class, BenchCommand.class, InfoCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (tests call this). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        // Bad input is a message, not a stack trace: IllegalArgumentException from the engine says what was expected.
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException || e instanceof IllegalStateException
                    || e instanceof java.io.IOException || e instanceof java.io.UncheckedIOException) {
                cmd.getErr().println("jlisa: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cl.execute(args);
    }
}
