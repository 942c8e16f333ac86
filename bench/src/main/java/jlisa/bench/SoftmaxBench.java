package jlisa.bench;

import java.util.concurrent.TimeUnit;

import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Softmax;
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
 * Softmax over the last dim, F32 raw kernels, all threads, against {@code System.arraycopy} of the same
 * array in the same run. Bytes moved at the minimum: forward reads x and writes y (8 bytes per element),
 * backward reads y and dy and writes dx (12); the copy reads and writes (8). GB/s = bytes / (ms/op) / 1e6.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class SoftmaxBench {
    /** rows x cols: attention scores of GPT-2 small (B·H·T rows of T), and rows over a GPT-2 vocabulary. */
    @Param({"12288x1024", "256x50257"})
    public String shape;

    int rows, cols;
    float[] x, y, dy, dx, copy;

    @Setup
    public void setup() {
        String[] p = shape.split("x");
        rows = Integer.parseInt(p[0]);
        cols = Integer.parseInt(p[1]);
        Rng rng = new Rng(42);
        x = Tensor.randn(rng, 0, 3, DType.F32, rows, cols).toFloatArray();
        dy = Tensor.randn(rng, 0, 1, DType.F32, rows, cols).toFloatArray();
        y = new float[x.length];
        dx = new float[x.length];
        copy = new float[x.length];
        Softmax.softmaxForward(y, 0, x, 0, rows, cols);
    }

    @Benchmark
    public float[] softmaxForward() {
        Softmax.softmaxForward(y, 0, x, 0, rows, cols);
        return y;
    }

    @Benchmark
    public float[] softmaxBackward() {
        Softmax.softmaxBackward(dx, 0, y, 0, dy, 0, rows, cols);
        return dx;
    }

    @Benchmark
    public float[] logSoftmaxForward() {
        Softmax.logSoftmaxForward(y, 0, x, 0, rows, cols);
        return y;
    }

    /** The floor: the same number of elements copied (read + write), one thread. */
    @Benchmark
    public float[] arraycopy() {
        System.arraycopy(x, 0, copy, 0, x.length);
        return copy;
    }
}
