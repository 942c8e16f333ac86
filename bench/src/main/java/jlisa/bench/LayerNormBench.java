package jlisa.bench;

import java.util.concurrent.TimeUnit;

import jlisa.tensor.DType;
import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.LayerNorm;
import jlisa.tensor.kernels.RmsNorm;
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
 * LayerNorm and RMSNorm F32 raw kernels on GPT-2-small activations (B·T rows of C = 768), all threads,
 * against {@code System.arraycopy} of the same array in the same run. Bytes at the minimum: forward reads x
 * and writes out (8 per element); backward reads dout and x and writes dx (12) — it actually reads dout and
 * x twice, once more for dweight/dbias. GB/s = bytes / (ms/op) / 1e6.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class LayerNormBench {
    @Param({"1024x768", "4096x768"})
    public String shape;

    int rows, cols;
    float[] x, out, dout, dx, w, b, dw, db, mean, rstd, copy;

    @Setup
    public void setup() {
        String[] p = shape.split("x");
        rows = Integer.parseInt(p[0]);
        cols = Integer.parseInt(p[1]);
        Rng rng = new Rng(42);
        x = Tensor.randn(rng, 0, 1, DType.F32, rows, cols).toFloatArray();
        dout = Tensor.randn(rng, 0, 1, DType.F32, rows, cols).toFloatArray();
        w = Tensor.randn(rng, 1, 0.1, DType.F32, cols).toFloatArray();
        b = Tensor.randn(rng, 0, 0.1, DType.F32, cols).toFloatArray();
        out = new float[x.length];
        dx = new float[x.length];
        copy = new float[x.length];
        dw = new float[cols];
        db = new float[cols];
        mean = new float[rows];
        rstd = new float[rows];
        LayerNorm.forward(out, 0, mean, rstd, x, 0, w, 0, b, 0, rows, cols, 1e-5f);
    }

    @Benchmark
    public float[] layerNormForward() {
        LayerNorm.forward(out, 0, mean, rstd, x, 0, w, 0, b, 0, rows, cols, 1e-5f);
        return out;
    }

    @Benchmark
    public float[] layerNormBackward() {
        LayerNorm.backward(dx, 0, dw, 0, db, 0, dout, 0, x, 0, w, 0, mean, rstd, rows, cols);
        return dx;
    }

    @Benchmark
    public float[] rmsNormForward() {
        RmsNorm.forward(out, 0, rstd, x, 0, w, 0, rows, cols, 1e-6f);
        return out;
    }

    /** The floor: the same number of elements copied (read + write), one thread. */
    @Benchmark
    public float[] arraycopy() {
        System.arraycopy(x, 0, copy, 0, x.length);
        return copy;
    }
}
