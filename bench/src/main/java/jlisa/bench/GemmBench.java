package jlisa.bench;

import java.util.concurrent.TimeUnit;

import jlisa.tensor.Parallel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * fp32 GEMM throughput, n × n · n × n, in three layouts and two thread counts.
 * Score is calls per second; GFLOP/s = score · 2n³ / 1e9 ({@link #gflops}).
 *
 * <pre>
 * java -jar bench/target/benchmarks.jar GemmBench -p n=1024 -p threads=1,2 -p layout=NN,NT,TN
 * </pre>
 * The thread count is a parameter rather than a JVM property: each call runs inside
 * {@link Parallel#withThreads(int, Runnable)}, which binds the parallelism for the kernels it calls.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class GemmBench {

    @Param({"256", "512", "1024", "2048"})
    public int n;

    @Param({"1", "2"})
    public int threads;

    @Param({"NN", "NT", "TN"})
    public String layout;

    private GemmTiming.Problem problem;

    @Setup(Level.Trial)
    public void setup() {
        problem = new GemmTiming.Problem(n, layout);
    }

    @Benchmark
    public float[] sgemm() {
        Parallel.withThreads(threads, problem::run);
        return problem.c;
    }

    /** GFLOP/s for a JMH score in calls per second. */
    public static double gflops(int n, double callsPerSecond) {
        return callsPerSecond * 2.0 * n * n * n / 1e9;
    }
}
