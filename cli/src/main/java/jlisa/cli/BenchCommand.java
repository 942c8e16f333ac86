package jlisa.cli;

import java.util.Locale;
import java.util.concurrent.Callable;

import jlisa.bench.GemmTiming;
import jlisa.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jlisa bench ...}: quick one-line measurements for side-by-side runs against reference libraries. */
@Command(name = "bench", description = "Quick benchmarks (JMH suites: java -jar bench/target/benchmarks.jar).",
        mixinStandardHelpOptions = true, subcommands = {BenchCommand.Gemm.class, BenchCommand.Memory.class})
final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }

    @Command(name = "gemm", mixinStandardHelpOptions = true,
            description = "fp32 GEMM throughput, n × n · n × n, median GFLOP/s after warm-up; compare with "
                    + "../shared/baselines/gemm_once.py N THREADS.")
    static final class Gemm implements Callable<Integer> {
        @Option(names = "--n", defaultValue = "1024", description = "matrix size (default: ${DEFAULT-VALUE})")
        int n;

        @Option(names = "--layout", defaultValue = "NN", description = "NN, NT or TN (TT also works); default ${DEFAULT-VALUE}")
        String layout;

        @Option(names = "--threads", description = "compute threads (default: -Djlisa.threads, else all processors)")
        Integer threads;

        @Override public Integer call() {
            String l = layout.toUpperCase(Locale.ROOT);
            if (!l.matches("NN|NT|TN|TT")) {
                throw new IllegalArgumentException("bench gemm: --layout must be NN, NT, TN or TT, got '" + layout + "'");
            }
            if (n < 1) throw new IllegalArgumentException("bench gemm: --n must be ≥ 1, got " + n);
            int t = threads == null ? Parallel.defaultThreads() : threads;
            if (t < 1) throw new IllegalArgumentException("bench gemm: --threads must be ≥ 1, got " + t);
            double g = GemmTiming.gflops(n, l, t);
            System.out.printf(Locale.ROOT, "gemm n=%d layout=%s threads=%d gflops=%.1f%n", n, l, t, g);
            return 0;
        }
    }

    @Command(name = "memory", mixinStandardHelpOptions = true,
            description = "Peak bytes by ledger kind for full, LoRA (r=8, 128) and LISA (γ=1,2,4 × drop/park/keep), "
                    + "as a Markdown table.")
    static final class Memory implements Callable<Integer> {
        @Option(names = "--model", defaultValue = "llama-thin",
                description = "preset: llama-thin, llama-tiny, tiny, d6, gpt2-124M (default ${DEFAULT-VALUE})")
        String model;

        @Option(names = "--batch", defaultValue = "2") int batch;

        @Option(names = "--seq", defaultValue = "64") int seq;

        @Option(names = "--steps", defaultValue = "4", description = "steps per configuration (LISA redraws each step)")
        int steps;

        @Override public Integer call() {
            if (batch < 1 || seq < 1 || steps < 1) {
                throw new IllegalArgumentException("bench memory: --batch, --seq and --steps must be >= 1");
            }
            System.out.print(MemoryTable.markdown(model, batch, seq, steps, MemoryTable.measure(model, batch, seq, steps)));
            return 0;
        }
    }
}
