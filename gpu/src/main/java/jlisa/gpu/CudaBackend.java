package jlisa.gpu;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jlisa.tensor.Backend;
import jlisa.tensor.DType;
import jlisa.tensor.DeviceStorage;
import jlisa.tensor.HeapStorage;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.SegmentStorage;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Attention;
import jlisa.tensor.kernels.CrossEntropy;
import jlisa.tensor.kernels.Elementwise;
import jlisa.tensor.kernels.LayerNorm;
import jlisa.tensor.kernels.RmsNorm;
import jlisa.tensor.kernels.Rope;

/**
 * The CUDA {@link Backend}: matrix products through cuBLAS in the chosen {@link Precision}, optimizer state
 * in device memory with AdamW as one fused NVRTC kernel, and the gradient-norm reduction.
 *
 * <p>Products: operands on the host are uploaded as the range of storage their view covers, and read by
 * cuBLAS through their strides (a transposed view is cuBLAS's transposed operand, never a host copy); only a
 * view cuBLAS cannot read (neither rows nor columns contiguous), or one that covers mostly elements it would
 * not read, is made contiguous on the host first. cuBLAS is column-major, so the row-major
 * {@code C = A·B} is computed as {@code Cᵀ = Bᵀ·Aᵀ}: the operands swap places. Batches of evenly spaced
 * matrices (attention's, broadcast weights) are one strided-batched call. Products below {@code minFlops}
 * with a host output stay on the CPU, where they cost less than the transfers.
 *
 * <p>Thread-safe: every call that uses the device holds the device's lock (one stream orders all work), so threads may share one backend; the tensors they pass are theirs to guard.
 */
public final class CudaBackend implements Backend {
    /** Default for {@code minFlops}: products smaller than this (e.g. 256 × 256 × 128) stay on the CPU. */
    public static final long DEFAULT_MIN_FLOPS = Long.getLong("jlisa.cuda.minFlops", 1L << 24);

    private final CudaDevice device;
    private final Precision precision;
    private final long minFlops;
    private final ResidentOps resident;

    public CudaBackend(CudaDevice device, Precision precision, long minFlops) {
        if (precision == null) throw new IllegalArgumentException("CUDA backend: precision is required (fp32, tf32 or bf16)");
        if (minFlops < 0) throw new IllegalArgumentException("CUDA backend: minFlops must be >= 0, got " + minFlops);
        this.device = device;
        this.precision = precision;
        this.minFlops = minFlops;
        this.resident = new ResidentOps(this);
    }

    public CudaDevice device() { return device; }

    public Precision precision() { return precision; }

    @Override public String name() { return "cuda"; }

    @Override public String description() { return "cuda: " + device.summary() + "; products in " + precision.label(); }

    // ------------------------------------------------------------------------------------------ memory

    @Override public Tensor zeros(MemoryKind kind, int... shape) {
        int n = Shapes.numel(shape);
        CudaStorage s = CudaStorage.allocate(this, n, kind);
        device.zero(s.address, n);
        return new Tensor(s, shape, Shapes.contiguousStrides(shape), 0);
    }

    @Override public Tensor toDevice(Tensor t, MemoryKind kind) {
        int[] shape = t.shape();
        CudaStorage s = CudaStorage.allocate(this, t.numel(), kind);
        Tensor out = new Tensor(s, shape, Shapes.contiguousStrides(shape), 0);
        if (t.isDense() && t.dtype() == DType.F32) device.upload(s.address, t.floatArray(), t.offset(), t.numel());
        else out.copyFrom(t);
        return out;
    }

    /** True when {@code t} is in this device's memory (from this backend or another one over the same device). */
    private boolean onThisDevice(Tensor t) {
        return t.storage() instanceof CudaStorage s && s.backend().device() == device;
    }

    private CudaStorage storageOf(Tensor t, String what) {
        if (!onThisDevice(t)) {
            throw new IllegalArgumentException(what + ": expected a tensor in this CUDA device's memory, got " + t.describe());
        }
        return (CudaStorage) t.storage();
    }

    /** Device address of element {@code t.offset()} of a tensor in this device's memory. */
    private static long address(Tensor t) { return ((CudaStorage) t.storage()).address + 4L * t.offset(); }

    /** Device blocks a single operation uses and gives back when it ends; counted as device OTHER bytes meanwhile. */
    private static final class Scratch implements AutoCloseable {
        private final CudaDevice device;
        private final List<long[]> blocks = new ArrayList<>();

        Scratch(CudaDevice device) { this.device = device; }

        long allocate(long bytes) {
            long pointer = device.allocate(bytes);
            blocks.add(new long[] {pointer, bytes});
            MemoryLedger.allocated(MemoryKind.OTHER, true, bytes);
            return pointer;
        }

        /** Releases {@code t} (a device temporary) when the operation ends. */
        void adopt(Tensor t) { tensors.add(t); }

        private final List<Tensor> tensors = new ArrayList<>();

        @Override public void close() {
            for (Tensor t : tensors) t.storage().release();
            tensors.clear();
            // Work already issued that reads these blocks runs before any later use of them: one stream orders all.
            for (long[] b : blocks) {
                device.free(b[0], b[1]);
                MemoryLedger.released(MemoryKind.OTHER, true, b[1]);
            }
            blocks.clear();
        }
    }

    // ------------------------------------------------------------------------------------------ products

    @Override public boolean gemm(double alpha, Tensor a, Tensor b, double beta, Tensor c) {
        if (c.dtype() != DType.F32) return false;
        boolean deviceOutput = c.storage() instanceof DeviceStorage;
        if (deviceOutput && !(onThisDevice(c) && c.isContiguous())) return false;
        if (foreignDevice(a) || foreignDevice(b)) return false;
        int m = a.size(-2), k = a.size(-1), n = b.size(-1);
        int[] batch = Arrays.copyOf(c.shape(), c.dim() - 2);
        int count = Shapes.numel(batch);
        if (m == 0 || n == 0 || k == 0 || count == 0) return false;
        if (!deviceOutput && 2.0 * m * n * k * count < minFlops) return false;
        synchronized (device) {
            try (Scratch scratch = new Scratch(device)) {
                Staged x = stage(a, batch, scratch), y = stage(b, batch, scratch);
                long out;
                if (deviceOutput) {
                    out = address(c);
                } else {
                    out = scratch.allocate(4L * c.numel());
                    if (beta != 0) device.upload(out, c.floatArray(), c.offset(), c.numel());
                }
                multiply((float) alpha, x, y, (float) beta, out, m, n, k, count);
                if (!deviceOutput) device.download(c.floatArray(), c.offset(), out, c.numel());
            }
        }
        return true;
    }

    private boolean foreignDevice(Tensor t) { return t.storage() instanceof DeviceStorage && !onThisDevice(t); }

    /** An operand on the device in the product's precision: the address of element {@code layout.lo()}. */
    private record Staged(long address, OperandLayout layout, int elementBytes) {
        /** Address of matrix {@code t} of the batch. */
        long matrix(int t) { return address + (long) elementBytes * layout.starts()[t]; }
    }

    /** Puts an operand where cuBLAS can read it: in place when it is on the device, else its covered range uploaded. */
    private Staged stage(Tensor t, int[] batch, Scratch scratch) {
        Tensor x = t;
        boolean readable = x.dtype() == DType.F32 && (onThisDevice(x) || x.storage() instanceof HeapStorage
                || (x.storage() instanceof SegmentStorage s && s.segment().isNative() && s.isNativeOrder()));
        if (!readable) x = hostCopy(x);   // BF16, F64, …: an F32 copy
        OperandLayout layout = layout(x, batch);
        if (layout == null && onThisDevice(x)) {
            // cuBLAS cannot read this device view: a contiguous copy on the device, never through the host
            Tensor copy = resident.empty(MemoryKind.OTHER, x.shape());
            resident.copy(x, copy);
            scratch.adopt(copy);
            x = copy;
            layout = layout(x, batch);
        } else if (layout == null || (!onThisDevice(x) && layout.span() > 2L * x.numel() + 4096)) {
            // cuBLAS cannot read this view, or it would move mostly elements it does not read: a contiguous host copy
            Tensor copy = hostCopy(x);
            if (x != t) x.storage().release();
            x = copy;
            layout = layout(x, batch);
        }
        long span = layout.span(), address;
        if (onThisDevice(x)) {
            address = ((CudaStorage) x.storage()).address + 4L * layout.lo();
        } else {
            address = scratch.allocate(4L * span);
            if (x.storage() instanceof SegmentStorage s) {
                device.upload(address, s.segment().asSlice(4L * layout.lo(), 4L * span), 4L * span);
            } else {
                device.upload(address, x.floatArray(), (int) layout.lo(), (int) span);
            }
            if (x != t) x.storage().release();   // uploaded: the host copy is done with
        }
        if (precision != Precision.BF16) return new Staged(address, layout, 4);
        long halves = scratch.allocate(2L * span);
        device.launch(CudaKernels.TO_BF16, device.gridFor(span), address, halves, span);
        return new Staged(halves, layout, 2);
    }

    /** A contiguous F32 copy of {@code t} in host memory (a scratch copy, counted as OTHER). */
    private static Tensor hostCopy(Tensor t) {
        return Tensor.empty(DType.F32, MemoryKind.OTHER, t.shape()).copyFrom(t);
    }

    /** The operand's matrix layout over {@code batch} (its batch dims broadcast to it), or null if cuBLAS cannot read it. */
    private static OperandLayout layout(Tensor x, int[] batch) {
        int[] shape = x.shape(), strides = x.strides();
        int r = shape.length;
        int[] batchStrides = Shapes.broadcastStrides(Arrays.copyOf(shape, r - 2), Arrays.copyOf(strides, r - 2), batch);
        long[] offsets = new long[Shapes.numel(batch)];
        int[] index = new int[batch.length];
        for (int t = 0; t < offsets.length; t++) {
            long o = 0;
            for (int d = 0; d < batch.length; d++) o += (long) index[d] * batchStrides[d];
            offsets[t] = o;
            for (int d = batch.length - 1; d >= 0 && ++index[d] == batch[d]; d--) index[d] = 0;
        }
        return OperandLayout.of(shape[r - 2], shape[r - 1], strides[r - 2], strides[r - 1], x.offset(), offsets);
    }

    /**
     * Row-major {@code C (m × n) = alpha·A·B + beta·C} for {@code count} matrices, C contiguous at {@code out}:
     * cuBLAS computes column-major {@code Cᵀ (n × m) = Bᵀ·Aᵀ}, so B is its first operand and A its second.
     */
    private void multiply(float alpha, Staged a, Staged b, float beta, long out, int m, int n, int k, int count) {
        Cublas blas = device.blas();
        int opB = b.layout().transposed() ? Cublas.OP_T : Cublas.OP_N, opA = a.layout().transposed() ? Cublas.OP_T : Cublas.OP_N;
        int ldb = b.layout().ld(), lda = a.layout().ld();
        long strideB = b.layout().batchStride(), strideA = a.layout().batchStride(), strideC = (long) m * n;
        boolean bf16 = precision == Precision.BF16;
        var handle = device.cublas(precision == Precision.TF32 ? Cublas.TF32_TENSOR_OP_MATH : Cublas.DEFAULT_MATH);
        if (count > 1 && strideA >= 0 && strideB >= 0) {
            if (bf16) {
                blas.gemmStridedBatchedEx(handle, opB, opA, n, m, k, alpha, b.matrix(0), Cublas.CUDA_R_16BF, ldb, strideB,
                        a.matrix(0), Cublas.CUDA_R_16BF, lda, strideA, beta, out, Cublas.CUDA_R_32F, n, strideC, count,
                        Cublas.COMPUTE_32F);
            } else {
                blas.sgemmStridedBatched(handle, opB, opA, n, m, k, alpha, b.matrix(0), ldb, strideB, a.matrix(0), lda, strideA,
                        beta, out, n, strideC, count);
            }
            return;
        }
        for (int t = 0; t < count; t++) {   // one matrix, or matrices not evenly spaced
            long c = out + 4L * t * strideC;
            if (bf16) {
                blas.gemmEx(handle, opB, opA, n, m, k, alpha, b.matrix(t), Cublas.CUDA_R_16BF, ldb, a.matrix(t), Cublas.CUDA_R_16BF,
                        lda, beta, c, Cublas.CUDA_R_32F, n, Cublas.COMPUTE_32F);
            } else {
                blas.sgemm(handle, opB, opA, n, m, k, alpha, b.matrix(t), ldb, a.matrix(t), lda, beta, c, n);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ device kernels

    @Override public Tensor empty(MemoryKind kind, int... shape) { return resident.empty(kind, shape); }

    @Override public void copy(Tensor src, Tensor dst) {
        storageOf(src, "copy: source");
        storageOf(dst, "copy: destination");
        resident.copy(src, dst);
    }

    @Override public Tensor unary(Elementwise.Unary op, Tensor x) { return resident.unary(op, x); }

    @Override public Tensor binaryInto(Elementwise.Binary op, Tensor a, Tensor b, Tensor out) {
        storageOf(out, op.name().toLowerCase() + ": destination");
        return resident.binaryInto(op, a, b, out);
    }

    @Override public Tensor sum(Tensor x, boolean keepDim, int[] dims, boolean mean) { return resident.sum(x, keepDim, dims, mean); }

    @Override public LayerNorm.Result layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        return resident.layerNorm(x, weight, bias, eps);
    }

    @Override public LayerNorm.Gradients layerNormBackward(Tensor dout, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                                                           boolean needDx, boolean needDweight, boolean needDbias) {
        return resident.layerNormBackward(dout, x, weight, mean, rstd, needDx, needDweight, needDbias);
    }

    @Override public RmsNorm.Result rmsNorm(Tensor x, Tensor weight, double eps) { return resident.rmsNorm(x, weight, eps); }

    @Override public RmsNorm.Gradients rmsNormBackward(Tensor dout, Tensor x, Tensor weight, Tensor rstd, boolean needDx,
                                                       boolean needDweight) {
        return resident.rmsNormBackward(dout, x, weight, rstd, needDx, needDweight);
    }

    @Override public Tensor silu(Tensor x) { return resident.silu(x); }

    @Override public Tensor siluBackward(Tensor x, Tensor dout) { return resident.siluBackward(x, dout); }

    @Override public Tensor rope(Tensor x, Rope.Cache cache, Rope.Layout layout, boolean inverse) {
        return resident.rope(x, cache, layout, inverse);
    }

    @Override public Tensor geluTanh(Tensor x) { return resident.geluTanh(x); }

    @Override public Tensor geluTanhBackward(Tensor x, Tensor dout) { return resident.geluTanhBackward(x, dout); }

    @Override public Tensor embedding(Tensor weight, int[] ids, int[] idsShape) { return resident.embedding(weight, ids, idsShape); }

    @Override public Tensor embeddingBackward(Tensor dout, int[] ids, int V) { return resident.embeddingBackward(dout, ids, V); }

    @Override public CrossEntropy.Rows crossEntropyRows(int[] targets, int tOff, int n, int V, int ignoreIndex, int count) {
        return resident.crossEntropyRows(targets, tOff, n, V, ignoreIndex, count);
    }

    @Override public Attention.Result attention(Tensor q, Tensor k, Tensor v, double scale, Tensor out) {
        storageOf(out, "attention: out");
        return resident.attention(q, k, v, scale, out);
    }

    @Override public Attention.Grads attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
                                                      double scale, Tensor dq, Tensor dk, Tensor dv) {
        for (Tensor t : List.of(dq, dk, dv)) storageOf(t, "attention backward: gradient");
        return resident.attentionBackward(dout, q, k, v, out, lse, scale, dq, dk, dv);
    }

    // ------------------------------------------------------------------------------------------ optimizer

    @Override public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep s) {
        long n = param.numel();
        storageOf(m, "adamw: exp_avg");
        storageOf(v, "adamw: exp_avg_sq");
        for (Tensor t : List.of(grad, m, v)) {
            if (t.numel() != n || !t.isContiguous()) {
                throw new IllegalArgumentException("adamw: expected contiguous tensors of " + n + " elements like the parameter "
                        + param.describe() + ", got " + t.describe());
            }
        }
        synchronized (device) {
            try (Scratch scratch = new Scratch(device)) {
                long p = onDevice(param, scratch, "adamw: parameter"), g = onDevice(grad, scratch, "adamw: gradient");
                long mm = address(m), vv = address(v);
                Object[] args = {p, g, mm, vv, n, s.beta1(), s.oneMinusBeta1(), s.beta2(), s.oneMinusBeta2(), s.eps(), s.decay(),
                        s.stepSize(), s.bc2Sqrt()};
                if (((p | g | mm | vv) & 15) == 0) device.launch(CudaKernels.ADAMW_X4, device.gridFor(n / 4), args);
                else device.launch(CudaKernels.ADAMW, device.gridFor(n), args);
                if (!onThisDevice(param)) device.download(param.floatArray(), param.offset(), p, (int) n);
            }
        }
    }

    /** The device address of a contiguous tensor: its own when it is on this device, else an uploaded copy. */
    private long onDevice(Tensor t, Scratch scratch, String what) {
        if (onThisDevice(t)) return address(t);
        if (!t.isDense() || t.dtype() != DType.F32) {
            throw new IllegalArgumentException(what + ": expected a dense F32 host tensor or one on this device, got " + t.describe());
        }
        long p = scratch.allocate(4L * t.numel());
        device.upload(p, t.floatArray(), t.offset(), t.numel());
        return p;
    }

    @Override public double sumOfSquares(Tensor t) {
        storageOf(t, "sumOfSquares");
        long n = t.numel();
        double sum = 0;
        if (!t.isContiguous()) {
            for (float x : t.toFloatArray()) sum += (double) x * x;
            return sum;
        }
        if (n == 0) return 0;
        synchronized (device) {
            try (Scratch scratch = new Scratch(device)) {
                int grid = device.gridFor(n);
                long partial = scratch.allocate(8L * grid);
                device.launch(CudaKernels.SUM_SQUARES, grid, address(t), n, partial);
                for (double p : device.downloadDoubles(partial, grid)) sum += p;   // in block order: the same sum every time
            }
        }
        return sum;
    }

    /** Every tensor's partial sums into one device buffer, brought to the host in one transfer; added as one by one. */
    @Override public double sumOfSquares(List<Tensor> tensors) {
        for (Tensor t : tensors) storageOf(t, "sumOfSquares");
        int[] grids = new int[tensors.size()];
        long blocks = 0;
        for (int i = 0; i < grids.length; i++) {
            Tensor t = tensors.get(i);
            grids[i] = t.isContiguous() && t.numel() > 0 ? device.gridFor(t.numel()) : 0;
            blocks += grids[i];
        }
        double[] partials = new double[0];
        if (blocks > 0) {
            synchronized (device) {
                try (Scratch scratch = new Scratch(device)) {
                    long partial = scratch.allocate(8L * blocks), at = partial;
                    for (int i = 0; i < grids.length; i++) {
                        if (grids[i] == 0) continue;
                        Tensor t = tensors.get(i);
                        device.launch(CudaKernels.SUM_SQUARES, grids[i], address(t), (long) t.numel(), at);
                        at += 8L * grids[i];
                    }
                    partials = device.downloadDoubles(partial, Math.toIntExact(blocks));
                }
            }
        }
        double total = 0;
        for (int i = 0, at = 0; i < grids.length; i++) {
            double sum = 0;
            if (grids[i] == 0) {
                sum = sumOfSquares(tensors.get(i));   // a strided view or an empty tensor
            } else {
                for (int b = 0; b < grids[i]; b++) sum += partials[at + b];   // in block order, as sumOfSquares(t)
                at += grids[i];
            }
            total += sum;
        }
        return total;
    }

    @Override public void scale(Tensor t, double factor) {
        storageOf(t, "scale");
        if (!t.isContiguous()) {
            t.copyFrom(Tensor.of(t.toFloatArray(), t.shape()).mul(factor));
            return;
        }
        long n = t.numel();
        if (n > 0) device.launch(CudaKernels.SCALE, device.gridFor(n), address(t), n, (float) factor);
        t.storage().bumpVersion();
    }
}
