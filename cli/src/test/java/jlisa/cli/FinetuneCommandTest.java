package jlisa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class FinetuneCommandTest {
    static final Path GOLDEN = Path.of("../transformer/src/test/resources/golden");
    private static final Pattern STEP = Pattern.compile("^step=(\\d+) loss=(\\d+\\.\\d{6})", Pattern.MULTILINE);

    static String[] run(String... args) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true));
        System.setErr(new PrintStream(e, true));
        try {
            return new String[] {String.valueOf(Main.run(args)), o.toString(), e.toString()};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    static List<Double> losses(String stdout) {
        List<Double> l = new ArrayList<>();
        Matcher m = STEP.matcher(stdout);
        while (m.find()) l.add(Double.parseDouble(m.group(2)));
        return l;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-gqa"})
    void fullAdamwMatchesTorchOptimAdamW(String name) throws Exception {
        Path dir = GOLDEN.resolve(name);
        String[] r = run("finetune", "--model", dir.toString(), "--tokens", dir.resolve("train_tokens.txt").toString(),
                "--method", "full", "--optimizer", "adamw", "--lr", "0.001", "--weight-decay", "0", "--steps", "5",
                "--batch-size", "all", "--no-shuffle", "--log-every", "1");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        JsonNode expected = new ObjectMapper().readTree(dir.resolve("finetune_expected.json").toFile()).get("losses");
        List<Double> got = losses(r[1]);
        assertThat(got).hasSize(5);
        for (int i = 0; i < 5; i++) {
            double want = expected.get(i).asDouble();
            assertThat(Math.abs(got.get(i) - want) / want).as("step %d: %s vs torch %s", i + 1, got.get(i), want).isLessThan(1e-4);
        }
    }

    @Test
    void loraAndLisaTrainAndResumeContinuesTheSameRun(@TempDir Path tmp) throws Exception {
        Path dir = GOLDEN.resolve("llama-gqa"), data = dir.resolve("train_tokens.txt");
        String[] lora = run("finetune", "--model", dir.toString(), "--tokens", data.toString(), "--method", "lora",
                "--lr", "0.01", "--steps", "6", "--batch-size", "2", "--log-every", "1", "--save", tmp.resolve("adapter").toString());
        assertThat(lora[0]).as(lora[2]).isEqualTo("0");
        assertThat(losses(lora[1])).hasSize(6);
        assertThat(Files.exists(tmp.resolve("adapter/adapter_model.safetensors"))).isTrue();

        String[] straight = run("finetune", "--model", dir.toString(), "--tokens", data.toString(), "--method", "lisa",
                "--lisa-gamma", "1", "--lisa-period", "2", "--lr", "0.01", "--steps", "8", "--batch-size", "2", "--log-every", "1");
        assertThat(straight[0]).as(straight[2]).isEqualTo("0");
        assertThat(straight[1]).contains("active=layer.");
        List<Double> all = losses(straight[1]);

        String ck = tmp.resolve("ck").toString();
        String[] first = run("finetune", "--model", dir.toString(), "--tokens", data.toString(), "--method", "lisa",
                "--lisa-gamma", "1", "--lisa-period", "2", "--lr", "0.01", "--steps", "8", "--batch-size", "2", "--log-every", "1",
                "--checkpoint-dir", ck, "--checkpoint-every", "3");
        assertThat(first[1]).contains("checkpoint step=3");
        // remove the later checkpoints so the resume starts from step 3, as after a crash there
        try (var s = Files.list(Path.of(ck))) {
            for (Path p : s.toList()) if (!p.getFileName().toString().equals("step-000000003")) deleteTree(p);
        }
        String[] resumed = run("finetune", "--model", dir.toString(), "--tokens", data.toString(), "--method", "lisa",
                "--lisa-gamma", "1", "--lisa-period", "2", "--lr", "0.01", "--steps", "8", "--batch-size", "2", "--log-every", "1",
                "--checkpoint-dir", ck, "--resume");
        assertThat(resumed[0]).as(resumed[2]).isEqualTo("0");
        assertThat(resumed[1]).contains("resumed at step 3");
        assertThat(losses(resumed[1])).isEqualTo(all.subList(3, 8));
    }

    @Test
    void compareRunsTheThreeMethodsOnTheUsersModelAndData(@TempDir Path tmp) throws Exception {
        Path dir = GOLDEN.resolve("llama-gqa");
        String[] r = run("compare", "--model", dir.toString(), "--tokens", dir.resolve("train_tokens.txt").toString(),
                "--steps", "3", "--batch-size", "2", "--eval-fraction", "0.25", "--eval-every", "1", "--quiet",
                "--out", tmp.toString(), "--lisa-gamma", "1");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("| full |").contains("| lora |").contains("| lisa |");
        try (var s = Files.list(tmp)) {
            Path run = s.findFirst().orElseThrow();
            JsonNode methods = new ObjectMapper().readTree(run.resolve("summary.json").toFile()).get("methods");
            assertThat(methods).hasSize(3);
            long fullGrad = methods.get(0).get("peak_bytes").get("gradient").asLong();
            assertThat(fullGrad).isEqualTo(4 * methods.get(0).get("trainable_params").asLong());
            assertThat(methods.get(2).get("peak_bytes").get("gradient").asLong()).isLessThan(fullGrad);
            assertThat(methods.get(1).get("eval_loss").asDouble()).isPositive();
        }
    }

    @Test
    void quietPrintsNothingPerStepAndJsonEndsWithOneLine() throws Exception {
        Path dir = GOLDEN.resolve("gpt2-tiny");
        String[] r = run("finetune", "--model", dir.toString(), "--tokens", dir.resolve("train_tokens.txt").toString(),
                "--steps", "2", "--batch-size", "all", "--log-every", "1", "--json");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1].strip().lines()).hasSize(1);
        JsonNode j = new ObjectMapper().readTree(r[1]);
        assertThat(j.get("method").asText()).isEqualTo("full");
        assertThat(j.get("steps").asInt()).isEqualTo(2);
        assertThat(j.get("last_loss").asDouble()).isPositive();
        assertThat(j.get("eval_loss").isNull()).isTrue();
        r = run("finetune", "--model", dir.toString(), "--tokens", dir.resolve("train_tokens.txt").toString(),
                "--steps", "2", "--batch-size", "all", "--log-every", "1", "--quiet");
        assertThat(r[1]).isEmpty();
    }

    @Test
    void badOptionsAreMessages() {
        String[] r = run("finetune", "--preset", "llama-tiny", "--tokens", "x.txt", "--method", "qlora");
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("--method must be full, lora or lisa, got 'qlora'");
        r = run("finetune", "--tokens", "x.txt");
        assertThat(r[2]).contains("exactly one of --model and --preset");
    }

    private static void deleteTree(Path p) throws java.io.IOException {
        if (Files.isDirectory(p)) try (var s = Files.list(p)) { for (Path c : s.toList()) deleteTree(c); }
        Files.delete(p);
    }
}
