package jlisa.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

import org.junit.jupiter.api.Test;

class MainTest {
    /** Runs the command line; returns {exit code, stdout, stderr}. */
    static String[] run(String... args) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true));
        System.setErr(new PrintStream(e, true));
        try {
            int rc = Main.run(args);
            return new String[] {String.valueOf(rc), o.toString(), e.toString()};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    /** stdout of a --json run, parsed: it must be exactly one JSON document. */
    static com.fasterxml.jackson.databind.JsonNode json(String[] r) {
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper()
                    .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(r[1]);
        } catch (java.io.IOException e) {
            throw new AssertionError("stdout is not one JSON document: " + r[1], e);
        }
    }

    @Test
    void benchGemmPrintsTheOneLineContract() {
        String[] r = run("bench", "gemm", "--n", "64", "--layout", "nt", "--threads", "1");
        assertThat(r[0]).isEqualTo("0");
        assertThat(r[1].strip()).matches("gemm n=64 layout=NT threads=1 gflops=[0-9]+\\.[0-9]");
    }

    @Test
    void benchGenerateReportsDecodeBesideTheFloorAndTheSameTokensEveryRound() {
        java.nio.file.Path dir = java.nio.file.Path.of("../transformer/src/test/resources/golden/llama-gqa");
        String[] r = run("bench", "generate", "--model", dir.toString(), "--threads", "1,2", "--rounds", "2",
                "--prompt-tokens", "5", "--new-tokens", "6", "--json");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        var doc = json(r);
        assertThat(doc.get("engine").asText()).isEqualTo("jlisa");
        assertThat(doc.get("weight_bytes_per_token").asLong()).isPositive().isLessThanOrEqualTo(doc.get("weight_bytes").asLong());
        assertThat(doc.get("runs")).hasSize(2);
        for (var run : doc.get("runs")) {
            assertThat(run.get("decode_tok_s").asDouble()).isPositive();
            assertThat(run.get("floor_tok_s").asDouble()).isPositive();
            assertThat(run.get("tokens")).hasSize(7);   // one from the prompt, one per decode step
        }
        // greedy picks do not depend on the thread count
        assertThat(doc.get("runs").get(1).get("tokens")).isEqualTo(doc.get("runs").get(0).get("tokens"));
        r = run("bench", "generate", "--model", dir.toString(), "--random", "gpt3");
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("--random must be smollm-135m or tinyllama-8l, got 'gpt3'");
    }

    @Test
    void versionComesFromTheBuild() {
        String[] r = run("--version");
        assertThat(r[0]).isEqualTo("0");
        assertThat(r[1].lines().findFirst().orElse("")).matches("jlisa [0-9]+\\.[0-9]+\\.[0-9]+(-SNAPSHOT)?");
        assertThat(r[1]).contains("Java " + Runtime.version().feature());
    }

    @Test
    void badOptionsGiveAMessageAndANonZeroExit() {
        String[] r = run("bench", "gemm", "--layout", "XY");
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("--layout must be NN, NT, TN or TT, got 'XY'");
        r = run("bench", "gemm", "--n", "0");
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("--n must be ≥ 1, got 0");
        r = run("no-such-command");
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("no-such-command");
    }

    @Test
    void scorePrintsTheReferenceContractLine() {
        java.nio.file.Path dir = java.nio.file.Path.of("../transformer/src/test/resources/golden/llama-gqa");
        String[] r = run("score", "--model", dir.toString(), "--tokens", dir.resolve("tokens.txt").toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1].strip()).matches("loss=5\\.0462[0-9]{2} tokens=35");
        r = run("score", "--model", dir.toString(), "--tokens", dir.resolve("tokens.txt").toString(), "--json");
        var score = json(r);
        assertThat(score.get("loss").asDouble()).isBetween(5.0462, 5.0463);
        assertThat(score.get("tokens").asInt()).isEqualTo(35);
        r = run("score", "--model", "no/such/dir", "--tokens", dir.resolve("tokens.txt").toString());
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("no config.json");
    }

    @Test
    void errorsAreOneLineWithExitCode2AndDebugAddsTheTrace() {
        String[] r = run("finetune", "--preset", "llama-tiny", "--tokens", "no-such-file.txt", "--steps", "1");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2].strip().lines()).hasSize(1);
        assertThat(r[2]).contains("no such file").contains("no-such-file.txt");
        r = run("pretrain", "--preset", "llama-tiny", "--tokens", "x", "--method", "lora");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).as("pretrain trains every parameter, so it has no --method").contains("Unknown options: '--method', 'lora'");
        PrintStream err = System.err;
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setErr(new PrintStream(e, true));
        try {
            int rc = Main.run("score", "--model", "no/such/dir", "--tokens", "x", "--debug");
            assertThat(rc).isNotZero();
        } finally {
            System.setErr(err);
        }
        assertThat(e.toString()).contains("at jlisa.");
    }

    @Test
    void generateStreamsAndInfoDescribesAModel() {
        java.nio.file.Path dir = java.nio.file.Path.of("../transformer/src/test/resources/golden/llama-gqa");
        String[] r = run("info", "--model", dir.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("llama, 2 layers").contains("params    25,248").contains("lora r=8").contains("lisa γ=2");
        r = run("generate", "--model", dir.toString(), "--prompt", "hi");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("no tokenizer.json");
    }

    @Test
    void infoNamesTheJvmAndSimdWidth() {
        String[] r = run("info");
        assertThat(r[0]).isEqualTo("0");
        assertThat(r[1]).contains("java").contains("simd").contains("threads").contains("gemm      ")
                .contains("vector registers");
    }

    @Test
    void infoAndBenchPrintOneJsonDocumentWithJson() {
        java.nio.file.Path dir = java.nio.file.Path.of("../transformer/src/test/resources/golden/llama-gqa");
        var info = json(run("info", "--model", dir.toString(), "--json"));
        assertThat(info.get("machine").get("simd_bits").asInt()).isPositive();
        assertThat(info.get("machine").get("gemm").asText()).contains("tile").contains("KC ");
        assertThat(info.has("gpu")).isFalse();                       // not looked for without --device
        assertThat(info.get("model").get("model_type").asText()).isEqualTo("llama");
        assertThat(info.get("model").get("parameters").asLong()).isEqualTo(25_248);
        assertThat(info.get("model").get("methods").get(0).get("grad_and_adamw_bytes").asLong()).isEqualTo(12L * 25_248);
        assertThat(info.get("model").get("methods")).hasSize(3);

        var gemm = json(run("bench", "gemm", "--n", "32", "--threads", "1", "--json"));
        assertThat(gemm.get("n").asInt()).isEqualTo(32);
        assertThat(gemm.get("gflops").asDouble()).isPositive();

        var adamw = json(run("bench", "adamw", "--n", "4096", "--json"));
        assertThat(adamw.get("device").asText()).isEqualTo("cpu");
        assertThat(adamw.get("tb_per_s").asDouble()).isPositive();

        String[] r = run("bench", "train", "--model", "tiny", "--batch", "1", "--seq", "8", "--steps", "2", "--warmup", "0", "--json");
        var train = json(r);
        assertThat(train.get("ms_per_step").asDouble()).isPositive();
        assertThat(train.get("peak_bytes").asLong()).isPositive();
        assertThat(r[2]).contains("bench train");                    // the progress bar, on stderr

        var memory = json(run("bench", "memory", "--model", "llama-thin", "--batch", "1", "--seq", "8", "--steps", "1", "--json"));
        assertThat(memory.get("rows").get(0).get("method").asText()).isEqualTo("full");
        assertThat(memory.get("rows").get(0).get("peak_bytes").get("gradient").asLong()).isPositive();
    }
}
