package jlisa.bench;

import java.util.concurrent.TimeUnit;

import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.CrossEntropy;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Fused cross-entropy (loss + dlogits) over GPT-2 vocabularies, F32 raw kernel, all threads, against
 * {@code System.arraycopy} of the logits in the same run. Bytes at the minimum: loss + dlogits reads the
 * logits and writes dlogits (8 per element); the eval form only reads (4). GB/s = bytes / (ms/op) / 1e6.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class CrossEntropyBench {
    /** rows (B·T tokens) x V: GPT-2's vocabulary, and the padded one llm.c uses. */
    @Param({"512x50257", "1024x50304"})
    public String shape;

    int rows, V;
    float[] logits, dlogits, copy;
    int[] targets;

    @Setup
    public void setup() {
        String[] p = shape.split("x");
        rows = Integer.parseInt(p[0]);
        V = Integer.parseInt(p[1]);
        Rng rng = new Rng(42);
        logits = Tensor.randn(rng, 0, 2, DType.F32, rows, V).toFloatArray();
        dlogits = new float[logits.length];
        copy = new float[logits.length];
        targets = new int[rows];
        for (int r = 0; r < rows; r++) targets[r] = rng.nextInt(V);
    }

    @Benchmark
    public float[] lossAndDlogits() {
        CrossEntropy.forward(dlogits, 0, null, logits, 0, targets, 0, rows, V, CrossEntropy.DEFAULT_IGNORE_INDEX);
        return dlogits;
    }

    @Benchmark
    public double lossOnly() {
        return CrossEntropy.forward(null, 0, null, logits, 0, targets, 0, rows, V, CrossEntropy.DEFAULT_IGNORE_INDEX);
    }

    /** The floor: the logits copied once (read + write), one thread. */
    @Benchmark
    public float[] arraycopy() {
        System.arraycopy(logits, 0, copy, 0, logits.length);
        return copy;
    }
}
