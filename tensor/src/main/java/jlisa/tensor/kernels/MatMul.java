package jlisa.tensor.kernels;

import jlisa.tensor.Backend;
import jlisa.tensor.Backends;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceStorage;
import jlisa.tensor.HeapStorage;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;

/**
 * Matrix products on tensors, with PyTorch's {@code matmul} semantics: 1-D operands are promoted
 * (and the added dim removed again), batch dims broadcast, and transposed operands are read
 * through their strides by {@link Gemm} (its packing step), never copied here.
 *
 * <p>Stateless; safe to call from any thread on outputs no other thread touches. The backend it hands products to is the calling thread's ({@link jlisa.tensor.Backends}).
 */
public final class MatMul {
    private static final java.util.concurrent.atomic.LongAdder GEMM_CALLS = new java.util.concurrent.atomic.LongAdder();
    private static final java.util.concurrent.atomic.LongAdder GEMM_FLOPS = new java.util.concurrent.atomic.LongAdder();

    private MatMul() {}

    /** How many {@link #gemm} calls ran in this JVM (tests prove that skipped gradients skip their matmul). */
    public static long gemmCalls() { return GEMM_CALLS.sum(); }

    /** Floating-point operations (2·m·n·k per product) of all {@link #gemm} calls so far. */
    public static long gemmFlops() { return GEMM_FLOPS.sum(); }

    /** {@code a @ b}. */
    public static Tensor matmul(Tensor a, Tensor b) {
        if (a.dim() == 0 || b.dim() == 0) {
            throw new IllegalArgumentException("matmul: both operands need at least 1 dim, got " + Shapes.str(a.shape())
                    + " and " + Shapes.str(b.shape()));
        }
        boolean vecA = a.dim() == 1, vecB = b.dim() == 1;
        Tensor x = vecA ? a.unsqueeze(0) : a;
        Tensor y = vecB ? b.unsqueeze(1) : b;
        int m = x.size(-2), k = x.size(-1), n = y.size(-1);
        if (y.size(-2) != k) {
            throw new IllegalArgumentException("matmul: " + Shapes.str(a.shape()) + " · " + Shapes.str(b.shape())
                    + " — inner dims " + k + " ≠ " + y.size(-2));
        }
        int[] batch = Shapes.broadcast(batchShape(x), batchShape(y), "matmul (batch dims)");
        int[] outShape = new int[batch.length + 2];
        System.arraycopy(batch, 0, outShape, 0, batch.length);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        DType dtype = DType.promote(a.dtype(), b.dtype());
        Tensor out = Tensor.empty(dtype, outShape); // beta = 0: gemm overwrites every element
        gemm(1, x, y, 0, out);
        Tensor r = out;
        if (vecA) r = r.squeeze(-2);
        if (vecB) r = r.squeeze(-1);
        return r;
    }

    /**
     * {@code c = alpha · a @ b + beta · c} for {@code a (..., m, k)}, {@code b (..., k, n)} whose batch
     * dims broadcast to {@code c}'s; {@code c} must be a dense heap tensor of the compute dtype (or device
     * memory of the active {@link Backend}, which is asked first and may take any product).
     * This is what backward passes use to accumulate ({@code dW += dyᵀ · x} is
     * {@code gemm(1, dy.transpose(-1, -2), x, 1, dW)}).
     */
    public static void gemm(double alpha, Tensor a, Tensor b, double beta, Tensor c) {
        if (a.dim() < 2 || b.dim() < 2 || c.dim() < 2) {
            throw new IllegalArgumentException("gemm: operands need at least 2 dims, got " + Shapes.str(a.shape()) + " · "
                    + Shapes.str(b.shape()) + " → " + Shapes.str(c.shape()));
        }
        int m = a.size(-2), k = a.size(-1), n = b.size(-1);
        if (b.size(-2) != k || c.size(-2) != m || c.size(-1) != n) {
            throw new IllegalArgumentException("gemm: " + Shapes.str(a.shape()) + " · " + Shapes.str(b.shape()) + " → "
                    + Shapes.str(c.shape()) + " — expected (…, " + m + ", " + k + ") · (…, " + k + ", " + n + ") → (…, "
                    + m + ", " + n + ")");
        }
        int[] batch = batchShape(c);
        int[] bb = Shapes.broadcast(Shapes.broadcast(batchShape(a), batchShape(b), "gemm (batch dims)"), batch, "gemm (batch dims)");
        if (!java.util.Arrays.equals(bb, batch)) {
            throw new IllegalArgumentException("gemm: batch dims of " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape())
                    + " do not broadcast to the output's " + Shapes.str(batch));
        }
        DType dtype = c.dtype();
        boolean deviceOutput = c.storage() instanceof DeviceStorage;
        if (!deviceOutput && (!c.isDense() || (dtype != DType.F32 && dtype != DType.F64))) {
            throw new IllegalArgumentException("gemm: output must be a dense F32 or F64 heap tensor, got " + c.describe());
        }
        GEMM_CALLS.increment();
        GEMM_FLOPS.add(2L * m * n * k * Shapes.numel(batch));
        // An output in device memory goes to the backend that owns it (a device-resident model); otherwise an active
        // accelerator (the gpu module) takes the product when it pays; it declines F64 and small products.
        Backend accelerator = c.storage() instanceof DeviceStorage d ? d.backend() : Backends.active();
        if (accelerator != null && accelerator.gemm(alpha, a, b, beta, c)) return;
        if (deviceOutput) {
            throw new IllegalStateException("gemm: the output is in device memory (" + c.describe()
                    + ") but its backend did not take the product (no active backend took the product)");
        }
        if (MatVec.takes(a, b, c)) {   // a few rows against a weight (decoding): stream it where it lies, F32 or BF16
            MatVec.multiply((float) alpha, a, b, (float) beta, c);
            return;
        }
        Tensor x = readable(a, dtype);
        // a BF16 B (a BF16 checkpoint's weight) is widened as GEMM packs it, not copied to F32 first
        Tensor y = dtype == DType.F32 && b.dtype() == DType.BF16 && b.storage().isCpu() && !(b.storage() instanceof DeviceStorage)
                ? b : readable(b, dtype);
        int[] sa = Shapes.broadcastStrides(batchShape(x), batchStrides(x), batch);
        int[] sb = Shapes.broadcastStrides(batchShape(y), batchStrides(y), batch);
        int count = Shapes.numel(batch);
        int[] index = new int[batch.length];
        int xRow = x.stride(-2), xCol = x.stride(-1), yRow = y.stride(-2), yCol = y.stride(-1);
        for (int t = 0; t < count; t++) {
            int offA = x.offset(), offB = y.offset(), offC = c.offset() + t * m * n;
            for (int d = 0; d < batch.length; d++) {
                offA += index[d] * sa[d];
                offB += index[d] * sb[d];
            }
            if (dtype == DType.F64) {
                Gemm.dgemm(m, n, k, alpha, x.doubleArray(), offA, xRow, xCol, y.doubleArray(), offB, yRow, yCol,
                        beta, c.doubleArray(), offC, n);
            } else if (y.dtype() == DType.BF16) {
                Gemm.sgemmBf16B(m, n, k, (float) alpha, segment(x), offA, xRow, xCol, segment(y), offB, yRow, yCol,
                        (float) beta, c.floatArray(), offC, n);
            } else if (x.storage() instanceof HeapStorage && y.storage() instanceof HeapStorage) {
                Gemm.sgemm(m, n, k, (float) alpha, x.floatArray(), offA, xRow, xCol, y.floatArray(), offB, yRow, yCol,
                        (float) beta, c.floatArray(), offC, n);
            } else {
                Gemm.sgemm(m, n, k, (float) alpha, segment(x), offA, xRow, xCol, segment(y), offB, yRow, yCol,
                        (float) beta, c.floatArray(), offC, n);
            }
            for (int d = batch.length - 1; d >= 0 && ++index[d] == batch[d]; d--) index[d] = 0;
        }
    }

    /** {@code t} itself when Gemm can read its storage as {@code dtype}, else a converted copy (same shape). */
    private static Tensor readable(Tensor t, DType dtype) {
        boolean ok = t.dtype() == dtype && (t.storage() instanceof HeapStorage
                || (dtype == DType.F32 && t.storage() instanceof SegmentStorage s && s.isNativeOrder()));
        return ok ? t : Tensor.empty(dtype, t.shape()).copyFrom(t);
    }

    private static java.lang.foreign.MemorySegment segment(Tensor t) {
        if (t.storage() instanceof SegmentStorage s) return s.segment();
        HeapStorage h = (HeapStorage) t.storage();
        return t.dtype() == DType.BF16 ? java.lang.foreign.MemorySegment.ofArray(h.bf16Bits())
                : java.lang.foreign.MemorySegment.ofArray(h.floats());
    }

    private static int[] batchShape(Tensor t) {
        int[] s = t.shape();
        return java.util.Arrays.copyOf(s, s.length - 2);
    }

    private static int[] batchStrides(Tensor t) {
        int[] s = t.strides();
        return java.util.Arrays.copyOf(s, s.length - 2);
    }
}
