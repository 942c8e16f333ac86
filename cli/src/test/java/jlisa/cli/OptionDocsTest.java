package jlisa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

import picocli.CommandLine;
import picocli.CommandLine.Help.Ansi;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import org.junit.jupiter.api.Test;

/** Every option of every command says what it does, and what it is when not given. */
class OptionDocsTest {

    @Test
    void everyOptionHasADescriptionThatShowsItsDefault() {
        List<String> problems = new ArrayList<>();
        walk(Main.commandLine(true), problems);
        assertThat(problems).as("options without a description, or with a default their help does not show").isEmpty();
    }

    @Test
    void noColorMakesHelpPlainText() {
        String help = Main.commandLine(true).getSubcommands().get("finetune").getUsageMessage();
        assertThat(help).contains("--method").doesNotContain("\u001b[");
        assertThat(Main.commandLine(true).getColorScheme().ansi()).isEqualTo(Ansi.OFF);
    }

    private static void walk(CommandLine cl, List<String> problems) {
        CommandSpec spec = cl.getCommandSpec();
        if (spec.userObject() instanceof CommandLine.HelpCommand) return;
        for (ArgSpec arg : spec.args()) {
            if (arg instanceof OptionSpec o && (o.usageHelp() || o.versionHelp())) continue;
            String name = spec.qualifiedName() + " " + (arg instanceof OptionSpec o ? o.longestName() : arg.paramLabel());
            String text = String.join(" ", arg.description());
            if (text.isBlank()) {
                problems.add(name + ": no description");
                continue;
            }
            String def = arg.defaultValue();
            boolean flagOff = arg.type() == boolean.class && (def == null || def.equals("false"));
            // picocli puts ${DEFAULT-VALUE} in place when it renders; an explicit "default" in the text counts too
            if (def != null && !flagOff && !text.contains("${DEFAULT-VALUE}") && !text.toLowerCase().contains("default")) {
                problems.add(name + ": default '" + def + "' not shown in \"" + text + "\"");
            }
        }
        for (CommandLine sub : cl.getSubcommands().values()) walk(sub, problems);
    }
}
