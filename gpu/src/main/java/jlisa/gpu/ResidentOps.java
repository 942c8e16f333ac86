package jlisa.gpu;

import static jlisa.gpu.ResidentKernelSource.RANK;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

import jlisa.tensor.MemoryKind;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;
import jlisa.tensor.kernels.Attention;
import jlisa.tensor.kernels.CrossEntropy;
import jlisa.tensor.kernels.Elementwise;
import jlisa.tensor.kernels.LayerNorm;
import jlisa.tensor.kernels.RmsNorm;
import jlisa.tensor.kernels.Rope;

/**
 * The device kernels of {@link CudaBackend} ({@link jlisa.tensor.DeviceKernels}): what a training step runs when the
 * model lives in device memory. Each method launches the NVRTC kernels of {@link ResidentKernelSource} or cuBLAS on
 * the device's one stream and returns at once; outputs are new device tensors. Host memory is touched only for
 * token ids and targets (uploaded) and the loss (downloaded).
 */
final class ResidentOps {
    private static final boolean POISON = Boolean.getBoolean("jlisa.pool.poison");
    private static final int NAN_BITS = 0x7fc00000;

    private final CudaBackend backend;
    private final CudaDevice device;

    ResidentOps(CudaBackend backend) {
        this.backend = backend;
        this.device = backend.device();
    }

    // ------------------------------------------------------------------------------------------ memory

    Tensor empty(MemoryKind kind, int... shape) {
        int n = Shapes.numel(shape);
        CudaStorage s = CudaStorage.allocate(backend, n, kind);
        if (POISON) device.fill(s.address, n, NAN_BITS);   // as Tensor.empty under test: an unwritten element shows
        return new Tensor(s, shape, Shapes.contiguousStrides(shape), 0);
    }

    private Tensor empty(int... shape) { return empty(MemoryLedger.currentKind(), shape); }

    private boolean onThisDevice(Tensor t) { return t.storage() instanceof CudaStorage s && s.backend().device() == device; }

    /** Device address of element {@code t.offset()}. */
    private static long address(Tensor t) { return ((CudaStorage) t.storage()).address + 4L * t.offset(); }

    /**
     * {@code t} as a contiguous tensor in this device's memory: itself, a device copy of a strided view, or an upload of
     * a host tensor (a parameter left on the host); copies made here go into {@code temporaries}.
     */
    private Tensor dense(Tensor t, List<Tensor> temporaries) {
        if (t == null) return null;
        if (onThisDevice(t) && t.isContiguous()) return t;
        Tensor copy;
        if (onThisDevice(t)) {
            copy = empty(MemoryKind.OTHER, t.shape());
            copy(t, copy);
        } else {
            copy = backend.toDevice(t, MemoryKind.OTHER);
        }
        temporaries.add(copy);
        return copy;
    }

    private static void release(List<Tensor> temporaries) {
        for (Tensor t : temporaries) t.storage().release();   // one stream: the kernels reading them run first
        temporaries.clear();
    }

    // ------------------------------------------------------------------------------------------ strided views

    /**
     * Sizes and per-operand strides of a walk over {@code shape}, with size-1 dims dropped and dims that every operand
     * walks as one merged, padded in front to {@link ResidentKernelSource#RANK}.
     */
    private record Walk(int[] sizes, long[][] strides) {
        static Walk of(int[] shape, int[]... operandStrides) {
            List<Integer> sizes = new ArrayList<>();
            List<long[]> strides = new ArrayList<>();
            for (int d = 0; d < shape.length; d++) {
                if (shape[d] == 1) continue;
                long[] st = new long[operandStrides.length];
                for (int o = 0; o < st.length; o++) st[o] = operandStrides[o][d];
                int last = sizes.size() - 1;
                boolean merge = last >= 0;
                for (int o = 0; merge && o < st.length; o++) merge = strides.get(last)[o] == st[o] * shape[d];
                if (merge) {
                    sizes.set(last, sizes.get(last) * shape[d]);
                    strides.set(last, st);
                } else {
                    sizes.add(shape[d]);
                    strides.add(st);
                }
            }
            if (sizes.size() > RANK) {
                throw new IllegalArgumentException("cuda: a strided view of " + sizes.size() + " dims that cannot be merged "
                        + "(shape " + Shapes.str(shape) + "); at most " + RANK + " are supported");
            }
            int pad = RANK - sizes.size();
            int[] s = new int[RANK];
            long[][] t = new long[operandStrides.length][RANK];
            Arrays.fill(s, 1);
            for (int d = 0; d < sizes.size(); d++) {
                s[pad + d] = sizes.get(d);
                for (int o = 0; o < t.length; o++) t[o][pad + d] = strides.get(d)[o];
            }
            return new Walk(s, t);
        }

        /** The kernel arguments: the sizes as ints. */
        void sizes(List<Object> args) { for (int s : sizes) args.add(s); }

        void strides(List<Object> args, int operand) { for (long s : strides[operand]) args.add(s); }
    }

    /** {@code dst = src} (src broadcast to dst's shape), both in this device's memory, any strides. */
    void copy(Tensor src, Tensor dst) {
        long n = dst.numel();
        if (n == 0) return;
        int[] srcStrides = Shapes.broadcastStrides(src.shape(), src.strides(), dst.shape());
        if (dst.isContiguous() && src.isContiguous() && Arrays.equals(src.shape(), dst.shape())) {
            device.copy(address(dst), address(src), 4L * n);
            return;
        }
        Walk w = Walk.of(dst.shape(), dst.strides(), srcStrides);
        List<Object> args = new ArrayList<>();
        args.add(n);
        w.sizes(args);
        args.add(address(dst));
        w.strides(args, 0);
        args.add(address(src));
        w.strides(args, 1);
        device.launch(ResidentKernelSource.COPY, device.gridFor(n), args.toArray());
    }

    // ------------------------------------------------------------------------------------------ elementwise

    Tensor unary(Elementwise.Unary op, Tensor x) {
        List<Tensor> temporaries = new ArrayList<>();
        Tensor in = dense(x, temporaries);
        Tensor out = empty(x.shape());
        if (out.numel() > 0) {
            device.launch(ResidentKernelSource.UNARY, device.gridFor(out.numel()), op.ordinal(), (long) out.numel(), address(out),
                    address(in));
        }
        release(temporaries);
        return out;
    }

    /** out (contiguous, this device's) = op(a, b) with broadcasting; a one-element host operand is a scalar. */
    Tensor binaryInto(Elementwise.Binary op, Tensor a, Tensor b, Tensor out) {
        long n = out.numel();
        if (n == 0) return out;
        List<Tensor> temporaries = new ArrayList<>();
        boolean aScalar = !onThisDevice(a) && a.numel() == 1, bScalar = !onThisDevice(b) && b.numel() == 1;
        float aValue = aScalar ? (float) a.item() : 0, bValue = bScalar ? (float) b.item() : 0;
        Tensor x = aScalar ? null : onThisDevice(a) ? a : dense(a, temporaries);
        Tensor y = bScalar ? null : onThisDevice(b) ? b : dense(b, temporaries);
        int[] shape = out.shape();
        boolean xFlat = x == null || (x.isContiguous() && Arrays.equals(x.shape(), shape));
        boolean yFlat = y == null || (y.isContiguous() && Arrays.equals(y.shape(), shape));
        long outAddress = address(out);
        if (xFlat && yFlat) {
            device.launch(ResidentKernelSource.BINARY_CONTIGUOUS, device.gridFor(n), op.ordinal(), n, outAddress,
                    x == null ? outAddress : address(x), aScalar ? 1 : 0, aValue, y == null ? outAddress : address(y),
                    bScalar ? 1 : 0, bValue);
        } else {
            int[] zero = new int[shape.length];
            int[] sx = x == null ? zero : Shapes.broadcastStrides(x.shape(), x.strides(), shape);
            int[] sy = y == null ? zero : Shapes.broadcastStrides(y.shape(), y.strides(), shape);
            Walk w = Walk.of(shape, out.strides(), sx, sy);
            List<Object> args = new ArrayList<>();
            args.add(op.ordinal());
            args.add(n);
            w.sizes(args);
            args.add(outAddress);
            args.add(x == null ? outAddress : address(x));
            w.strides(args, 1);
            args.add(aScalar ? 1 : 0);
            args.add(aValue);
            args.add(y == null ? outAddress : address(y));
            w.strides(args, 2);
            args.add(bScalar ? 1 : 0);
            args.add(bValue);
            device.launch(ResidentKernelSource.BINARY, device.gridFor(n), args.toArray());
        }
        release(temporaries);
        return out;
    }

    // ------------------------------------------------------------------------------------------ reductions

    /** Sum (or mean) over the sorted, distinct {@code dims}; columns and rows are added in a fixed order. */
    Tensor sum(Tensor x, boolean keepDim, int[] dims, boolean mean) {
        int rank = x.dim();
        boolean[] reduced = new boolean[rank];
        for (int d : dims) reduced[d] = true;
        int[] shape = x.shape();
        List<Integer> outShape = new ArrayList<>();
        int[] order = new int[rank];
        int k = 0;
        long outer = 1, inner = 1;
        for (int i = 0; i < rank; i++) {
            if (!reduced[i]) { order[k++] = i; outer *= shape[i]; outShape.add(shape[i]); }
            else if (keepDim) outShape.add(1);
        }
        for (int i = 0; i < rank; i++) if (reduced[i]) { order[k++] = i; inner *= shape[i]; }
        Tensor out = empty(outShape.stream().mapToInt(Integer::intValue).toArray());
        if (outer == 0) return out;
        float divisor = mean ? (float) inner : 1f;
        List<Tensor> temporaries = new ArrayList<>();
        boolean leading = dims.length > 0 && dims[dims.length - 1] == dims.length - 1;   // dims are 0 .. k-1
        if (leading && dims.length < rank && onThisDevice(x) && x.isContiguous()) {
            columnSums(address(x), inner, outer, address(out), divisor);   // e.g. a bias gradient
        } else {
            Tensor rows = dense(x.permute(order), temporaries);   // kept dims first, reduced dims last
            device.launch(ResidentKernelSource.SUM_ROWS, device.gridForRows(outer), address(rows), address(out), outer, inner,
                    divisor);
        }
        release(temporaries);
        return out;
    }

    /** Rows per part of a column sum's first pass. */
    private static final long COLUMN_CHUNK = 64;

    /**
     * {@code out[c] = Σ_r x[r·cols + c] / divisor} for a contiguous (rows, cols) array: parts of
     * {@value #COLUMN_CHUNK} rows summed in parallel, then the parts in order; the same bits every run.
     */
    private void columnSums(long x, long rows, long cols, long out, float divisor) {
        if (cols == 0) return;
        long parts = Math.max(1, (rows + COLUMN_CHUNK - 1) / COLUMN_CHUNK);
        long tiles = (cols + CudaKernels.BLOCK - 1) / CudaKernels.BLOCK;
        Tensor partial = empty(MemoryKind.OTHER, Math.toIntExact(parts * cols));
        device.launch(ResidentKernelSource.SUM_COLUMNS_PARTIAL, device.gridForRows(tiles * parts), x, address(partial), rows, cols,
                COLUMN_CHUNK, parts);
        device.launch(ResidentKernelSource.SUM_COLUMNS, device.gridFor(cols), address(partial), out, parts, cols, divisor);
        partial.storage().release();   // one stream: the second pass reads it before any reuse
    }

    /**
     * The weight gradient of a norm, {@code dw[c] = Σ_r dout·n} with n the normalised input ((x − mean)·rstd, or x·rstd
     * when {@code mean} is 0): the products, then their column sums.
     */
    private void normWeightGradient(long dw, long dout, long x, long mean, long rstd, long rows, int cols) {
        long n = rows * cols;
        if (n == 0) {
            columnSums(dout, 0, cols, dw, 1f);   // zeros
            return;
        }
        Tensor product = empty(MemoryKind.OTHER, Math.toIntExact(n));
        device.launch(ResidentKernelSource.NORMALIZED_PRODUCT, device.gridFor(n), address(product), dout, x, mean == 0 ? rstd : mean,
                mean == 0 ? 0 : 1, rstd, rows, cols);
        columnSums(address(product), rows, cols, dw, 1f);
        product.storage().release();
    }

    // ------------------------------------------------------------------------------------------ LayerNorm

    LayerNorm.Result layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        List<Tensor> temporaries = new ArrayList<>();
        Tensor xd = dense(x, temporaries), w = dense(weight, temporaries), b = dense(bias, temporaries);
        int cols = x.size(-1);
        long rows = x.numel() / cols;
        int[] stats = Arrays.copyOf(x.shape(), x.dim() - 1);
        Tensor out = empty(x.shape()), mean = empty(stats), rstd = empty(stats);
        if (rows > 0) {
            long xa = address(xd);
            device.launch(ResidentKernelSource.LAYERNORM, device.gridForRows(rows), address(out), address(mean), address(rstd), xa,
                    w == null ? xa : address(w), w == null ? 0 : 1, b == null ? xa : address(b), b == null ? 0 : 1, rows, cols,
                    (float) eps);
        }
        release(temporaries);
        return new LayerNorm.Result(out, mean, rstd);
    }

    LayerNorm.Gradients layerNormBackward(Tensor dout, Tensor x, Tensor weight, Tensor mean, Tensor rstd, boolean needDx,
                                          boolean needDweight, boolean needDbias) {
        List<Tensor> temporaries = new ArrayList<>();
        Tensor xd = dense(x, temporaries), g = dense(dout, temporaries), w = dense(weight, temporaries);
        Tensor m = dense(mean, temporaries), s = dense(rstd, temporaries);
        int cols = x.size(-1);
        long rows = x.numel() / cols;
        Tensor dx = needDx ? empty(x.shape()) : null;
        Tensor dw = needDweight ? empty(cols) : null, db = needDbias ? empty(cols) : null;
        long xa = address(xd);
        if (dx != null && rows > 0) {
            device.launch(ResidentKernelSource.LAYERNORM_DX, device.gridForRows(rows), address(dx), address(g), xa,
                    w == null ? xa : address(w), w == null ? 0 : 1, address(m), address(s), rows, cols);
        }
        if (dw != null) normWeightGradient(address(dw), address(g), xa, address(m), address(s), rows, cols);
        if (db != null) columnSums(address(g), rows, cols, address(db), 1f);
        release(temporaries);
        return new LayerNorm.Gradients(dx, dw, db);
    }

    // ------------------------------------------------------------------------------------------ RMSNorm

    RmsNorm.Result rmsNorm(Tensor x, Tensor weight, double eps) {
        List<Tensor> temporaries = new ArrayList<>();
        Tensor xd = dense(x, temporaries), w = dense(weight, temporaries);
        int cols = x.size(-1);
        long rows = x.numel() / cols;
        Tensor out = empty(x.shape()), rstd = empty(Arrays.copyOf(x.shape(), x.dim() - 1));
        if (rows > 0) {
            long xa = address(xd);
            device.launch(ResidentKernelSource.RMSNORM, device.gridForRows(rows), address(out), address(rstd), xa,
                    w == null ? xa : address(w), w == null ? 0 : 1, rows, cols, (float) eps);
        }
        release(temporaries);
        return new RmsNorm.Result(out, rstd);
    }

    RmsNorm.Gradients rmsNormBackward(Tensor dout, Tensor x, Tensor weight, Tensor rstd, boolean needDx, boolean needDweight) {
        List<Tensor> temporaries = new ArrayList<>();
        Tensor xd = dense(x, temporaries), g = dense(dout, temporaries), w = dense(weight, temporaries);
        Tensor s = dense(rstd, temporaries);
        int cols = x.size(-1);
        long rows = x.numel() / cols;
        Tensor dx = needDx ? empty(x.shape()) : null, dw = needDweight ? empty(cols) : null;
        long xa = address(xd);
        if (dx != null && rows > 0) {
            device.launch(ResidentKernelSource.RMSNORM_DX, device.gridForRows(rows), address(dx), address(g), xa,
                    w == null ? xa : address(w), w == null ? 0 : 1, address(s), rows, cols);
        }
        if (dw != null) normWeightGradient(address(dw), address(g), xa, 0, address(s), rows, cols);
        release(temporaries);
        return new RmsNorm.Gradients(dx, dw);
    }

    // ------------------------------------------------------------------------------------------ SiLU and RoPE

    Tensor silu(Tensor x) { return activation(ResidentKernelSource.SILU, x); }

    Tensor siluBackward(Tensor x, Tensor dout) { return activationBackward(ResidentKernelSource.SILU_BACKWARD, x, dout); }

    /** {@code out = f(x)} by the one-input elementwise {@code kernel} (out, x, n): a new contiguous tensor. */
    private Tensor activation(String kernel, Tensor x) {
        List<Tensor> temporaries = new ArrayList<>();
        Tensor in = dense(x, temporaries), out = empty(x.shape());
        long n = out.numel();
        if (n > 0) device.launch(kernel, device.gridFor(n), address(out), address(in), n);
        release(temporaries);
        return out;
    }

    /** {@code dx = f'(x) · dout} by the elementwise {@code kernel} (dx, x, dout, n): a new contiguous tensor. */
    private Tensor activationBackward(String kernel, Tensor x, Tensor dout) {
        List<Tensor> temporaries = new ArrayList<>();
        Tensor in = dense(x, temporaries), g = dense(dout, temporaries), dx = empty(x.shape());
        long n = dx.numel();
        if (n > 0) device.launch(kernel, device.gridFor(n), address(dx), address(in), address(g), n);
        release(temporaries);
        return dx;
    }

    /** Device copies of RoPE tables, uploaded once per table set (a forward's, reused by every layer and the backward). */
    private final Map<Rope.Cache, Tensor[]> ropeTables = Collections.synchronizedMap(new WeakHashMap<>());

    Tensor rope(Tensor x, Rope.Cache cache, Rope.Layout layout, boolean inverse) {
        Tensor[] tables = ropeTables.computeIfAbsent(cache, c -> {
            // the tables outlive this op (every layer and the backward read them): no tracker may release them
            try (var untracked = MemoryLedger.untracked()) {
                int n = Math.max(1, c.cos().length);   // (T, rotaryDim/2)
                float[] cos = c.cos().length == 0 ? new float[1] : c.cos(), sin = c.sin().length == 0 ? new float[1] : c.sin();
                return new Tensor[] {backend.toDevice(Tensor.of(cos, n), MemoryKind.OTHER),
                        backend.toDevice(Tensor.of(sin, n), MemoryKind.OTHER)};
            }
        });
        List<Tensor> temporaries = new ArrayList<>();
        Tensor in = dense(x, temporaries), out = empty(x.shape());
        int[] s = x.shape();
        long rows = (long) s[0] * s[1] * s[2];
        if (out.numel() > 0) {
            device.launch(ResidentKernelSource.ROPE, device.gridFor(out.numel()), address(out), address(in), address(tables[0]),
                    address(tables[1]), rows, s[2], s[3], cache.rotaryDim(), layout == Rope.Layout.INTERLEAVED ? 1 : 0,
                    inverse ? -1f : 1f);
        }
        release(temporaries);
        return out;
    }

    // ------------------------------------------------------------------------------------------ GELU

    Tensor geluTanh(Tensor x) { return activation(ResidentKernelSource.GELU, x); }

    Tensor geluTanhBackward(Tensor x, Tensor dout) { return activationBackward(ResidentKernelSource.GELU_BACKWARD, x, dout); }

    // ------------------------------------------------------------------------------------------ embedding

    /** A device copy of {@code ids} (counted as OTHER device bytes) for the kernels of one call. */
    private final class DeviceIds implements AutoCloseable {
        final long address;
        private final long bytes;

        DeviceIds(int[] ids, int from, int count) {
            bytes = 4L * Math.max(1, count);
            address = device.allocate(bytes);
            MemoryLedger.allocated(MemoryKind.OTHER, true, bytes);
            if (count > 0) device.uploadInts(address, ids, from, count);
        }

        @Override public void close() {
            device.free(address, bytes);   // one stream: the kernels that read it run before any later reuse
            MemoryLedger.released(MemoryKind.OTHER, true, bytes);
        }
    }

    Tensor embedding(Tensor weight, int[] ids, int[] idsShape) {
        int C = weight.size(1);
        int[] outShape = Arrays.copyOf(idsShape, idsShape.length + 1);
        outShape[idsShape.length] = C;
        Tensor out = empty(outShape);
        List<Tensor> temporaries = new ArrayList<>();
        Tensor w = dense(weight, temporaries);
        if (out.numel() > 0) {
            try (DeviceIds d = new DeviceIds(ids, 0, ids.length)) {
                device.launch(ResidentKernelSource.EMBEDDING, device.gridFor(out.numel()), address(out), address(w), d.address,
                        (long) ids.length, C);
            }
        }
        release(temporaries);
        return out;
    }

    /**
     * The weight gradient (V, C): the ids grouped on the host (distinct ids, where each group starts, the positions of
     * each group in order), one upload, then one thread per (distinct id, column) sums its rows in order.
     */
    Tensor embeddingBackward(Tensor dout, int[] ids, int V) {
        int C = dout.size(-1), n = ids.length;
        Tensor dw = backend.zeros(MemoryLedger.currentKind(), V, C);
        if (n == 0 || C == 0) return dw;
        int[] count = new int[V + 1];
        for (int id : ids) count[id + 1]++;
        int distinct = 0;
        for (int v = 1; v <= V; v++) if (count[v] > 0) distinct++;
        int[] groups = new int[2 * distinct + 1 + n];   // ids | start (distinct + 1) | positions
        int[] next = new int[V];
        for (int v = 0, u = 0, at = 0; v < V; v++) {
            if (count[v + 1] == 0) continue;
            groups[u] = v;
            groups[distinct + u] = at;
            next[v] = at;
            at += count[v + 1];
            u++;
        }
        groups[2 * distinct] = n;
        for (int i = 0; i < n; i++) groups[2 * distinct + 1 + next[ids[i]]++] = i;   // positions in order within each id
        List<Tensor> temporaries = new ArrayList<>();
        Tensor g = dense(dout, temporaries);
        try (DeviceIds d = new DeviceIds(groups, 0, groups.length)) {
            device.launch(ResidentKernelSource.EMBEDDING_BACKWARD, device.gridFor((long) distinct * C), address(dw), address(g),
                    d.address, (long) distinct, C);
        }
        release(temporaries);
        return dw;
    }

    // ------------------------------------------------------------------------------------------ cross-entropy

    /** The fused LM head's rows: targets uploaded once, row losses kept on the device until {@link #total()}. */
    CrossEntropy.Rows crossEntropyRows(int[] targets, int tOff, int n, int V, int ignoreIndex, int count) {
        DeviceIds ids = new DeviceIds(targets, tOff, n);
        long lossBytes = 8L * Math.max(1, n);
        long losses = device.allocate(lossBytes);
        MemoryLedger.allocated(MemoryKind.OTHER, true, lossBytes);
        float scale = count == 0 ? 0f : 1f / count;
        return new CrossEntropy.Rows() {
            private int done;
            private boolean closed;

            @Override public void chunk(Tensor logits, int r0, boolean grad) {
                if (!onThisDevice(logits) || !logits.isContiguous() || logits.dim() != 2 || logits.size(1) != V) {
                    throw new IllegalArgumentException("crossEntropy: expected contiguous logits (rows, " + V + ") in this "
                            + "device's memory, got " + logits.describe());
                }
                int rows = logits.size(0);
                if (r0 < 0 || r0 + rows > n) throw new IllegalArgumentException("crossEntropy: rows " + r0 + " .. " + (r0 + rows)
                        + " outside 0 .. " + n);
                if (rows > 0) {
                    device.launch(ResidentKernelSource.CROSS_ENTROPY, device.gridForRows(rows), address(logits),
                            ids.address + 4L * r0, (long) rows, V, ignoreIndex, scale, grad ? 1 : 0, losses + 8L * r0);
                    logits.storage().bumpVersion();
                }
                done = Math.max(done, r0 + rows);
            }

            @Override public double total() {
                double total = 0;
                if (done > 0) for (double loss : device.downloadDoubles(losses, done)) total += loss;   // in row order
                return total;
            }

            @Override public void close() {
                if (closed) return;
                closed = true;
                ids.close();
                device.free(losses, lossBytes);
                MemoryLedger.released(MemoryKind.OTHER, true, lossBytes);
            }
        };
    }

    // ------------------------------------------------------------------------------------------ attention

    /**
     * A (B, heads, T, D) operand as cuBLAS reads it: the address of (0, 0, 0, 0) and its batch, head and row strides
     * (each row of D floats contiguous).
     */
    private record Heads(long address, long batch, long head, int row) {
        static Heads of(Tensor t) {
            return new Heads(ResidentOps.address(t), t.stride(0), t.stride(1), t.stride(2));
        }

        long at(int b, int h) { return address + 4L * (b * batch + h * head); }
    }

    /**
     * {@code t} readable as {@link Heads}: on this device, its last dim contiguous and rows apart by at least a row
     * (cuBLAS's leading dimension), batch and head strides not negative; a contiguous device copy if not.
     */
    private Tensor rowsReadable(Tensor t, List<Tensor> temporaries) {
        boolean readable = onThisDevice(t) && t.size(3) > 0 && (t.size(3) == 1 || t.stride(3) == 1)
                && t.stride(2) >= t.size(3) && t.stride(1) >= 0 && t.stride(0) >= 0;
        return readable ? t : dense(t, temporaries);
    }

    private static void checkWritable(String name, Tensor t) {
        if (t.size(3) > 1 && t.stride(3) != 1) {
            throw new IllegalArgumentException("attention: " + name + " must have a contiguous last dim, got " + t.describe());
        }
    }

    private java.lang.foreign.MemorySegment blas() {
        return device.cublas(backend.precision() == Precision.TF32 ? Cublas.TF32_TENSOR_OP_MATH : Cublas.DEFAULT_MATH);
    }

    /**
     * Row-major {@code C (m × n) = alpha · A · Bᵀ + beta · C} for {@code count} matrices: A rows at {@code a}
     * (ld {@code lda}, {@code strideA} apart), B rows at {@code b}, C at {@code c}. cuBLAS computes {@code Cᵀ = B · Aᵀ}.
     */
    private void productABt(int m, int n, int k, float alpha, long a, int lda, long strideA, long b, int ldb, long strideB,
                            float beta, long c, int ldc, long strideC, int count) {
        device.blas().sgemmStridedBatched(blas(), Cublas.OP_T, Cublas.OP_N, n, m, k, alpha, b, ldb, strideB, a, lda, strideA,
                beta, c, ldc, strideC, count);
    }

    /** Row-major {@code C (m × n) = alpha · A · B + beta · C}, A (m × k), B (k × n). */
    private void productAB(int m, int n, int k, float alpha, long a, int lda, long strideA, long b, int ldb, long strideB,
                           float beta, long c, int ldc, long strideC, int count) {
        device.blas().sgemmStridedBatched(blas(), Cublas.OP_N, Cublas.OP_N, n, m, k, alpha, b, ldb, strideB, a, lda, strideA,
                beta, c, ldc, strideC, count);
    }

    /** Row-major {@code C (m × n) = alpha · Aᵀ · B + beta · C}, A (k × m), B (k × n). */
    private void productAtB(int m, int n, int k, float alpha, long a, int lda, long strideA, long b, int ldb, long strideB,
                            float beta, long c, int ldc, long strideC, int count) {
        device.blas().sgemmStridedBatched(blas(), Cublas.OP_N, Cublas.OP_T, n, m, k, alpha, b, ldb, strideB, a, lda, strideA,
                beta, c, ldc, strideC, count);
    }

    /**
     * Causal attention with the scores materialised one batch row at a time: for each batch b and each member g of a
     * kv-head group, S = scale·Q·Kᵀ (one strided-batched product over the kv heads), the causal softmax in place
     * (keeping lse), then out = P·V written straight into {@code out}'s layout.
     */
    Attention.Result attention(Tensor q, Tensor k, Tensor v, double scale, Tensor out) {
        checkWritable("out", out);
        List<Tensor> temporaries = new ArrayList<>();
        int[] qs = q.shape(), ks = k.shape();
        int B = qs[0], H = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2], group = Hkv == 0 ? 1 : H / Hkv;
        Tensor lse = empty(B, H, Tq);
        if (B * H * Tq == 0 || D == 0) return new Attention.Result(out, lse);
        Heads Q = Heads.of(rowsReadable(q, temporaries)), K = Heads.of(rowsReadable(k, temporaries));
        Heads V = Heads.of(rowsReadable(v, temporaries)), O = Heads.of(out);
        long scoreFloats = (long) Hkv * Tq * Tk;
        Tensor scores = empty(MemoryKind.OTHER, Math.toIntExact(scoreFloats));
        long S = address(scores), lseAddress = address(lse);
        synchronized (device) {
            for (int b = 0; b < B; b++) {
                for (int g = 0; g < group; g++) {
                    productABt(Tq, Tk, D, (float) scale, Q.at(b, g), Q.row(), group * Q.head(), K.at(b, 0), K.row(), K.head(), 0f,
                            S, Tk, (long) Tq * Tk, Hkv);
                    device.launch(ResidentKernelSource.ATTENTION_SOFTMAX, device.gridForRows((long) Hkv * Tq), S,
                            lseAddress + 4L * ((long) b * H + g) * Tq, (long) group * Tq, Hkv, Tq, Tk);
                    productAB(Tq, D, Tk, 1f, S, Tk, (long) Tq * Tk, V.at(b, 0), V.row(), V.head(), 0f, O.at(b, g), O.row(),
                            group * O.head(), Hkv);
                }
            }
        }
        scores.storage().release();
        release(temporaries);
        out.storage().bumpVersion();
        return new Attention.Result(out, lse);
    }

    /**
     * Backward, recomputing P from the saved lse: per batch b and group member g, S = scale·Q·Kᵀ, dP = dO·Vᵀ, then
     * P and dS = P∘(dP − rowsum(dO∘O)) in place, dV += Pᵀ·dO, dK += scale·dSᵀ·Q, dQ = scale·dS·K (dK and dV summed
     * over the group's query heads in order, written at g = 0).
     */
    Attention.Grads attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, double scale,
                                      Tensor dq, Tensor dk, Tensor dv) {
        checkWritable("dq", dq);
        checkWritable("dk", dk);
        checkWritable("dv", dv);
        List<Tensor> temporaries = new ArrayList<>();
        int[] qs = q.shape(), ks = k.shape();
        int B = qs[0], H = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2], group = Hkv == 0 ? 1 : H / Hkv;
        if (B * H * Tq == 0 || D == 0) return new Attention.Grads(dq, dk, dv);
        Heads Q = Heads.of(rowsReadable(q, temporaries)), K = Heads.of(rowsReadable(k, temporaries));
        Heads V = Heads.of(rowsReadable(v, temporaries)), O = Heads.of(rowsReadable(out, temporaries));
        Heads G = Heads.of(rowsReadable(dout, temporaries));
        Heads dQ = Heads.of(dq), dK = Heads.of(dk), dV = Heads.of(dv);
        Tensor l = dense(lse, temporaries);
        long matrix = (long) Tq * Tk;
        Tensor scores = empty(MemoryKind.OTHER, Math.toIntExact(Hkv * matrix));
        Tensor dscores = empty(MemoryKind.OTHER, Math.toIntExact(Hkv * matrix));
        long S = address(scores), dS = address(dscores), lseAddress = address(l);
        float sc = (float) scale;
        synchronized (device) {
            for (int b = 0; b < B; b++) {
                for (int g = 0; g < group; g++) {
                    float accumulate = g == 0 ? 0f : 1f;
                    productABt(Tq, Tk, D, sc, Q.at(b, g), Q.row(), group * Q.head(), K.at(b, 0), K.row(), K.head(), 0f, S, Tk,
                            matrix, Hkv);
                    productABt(Tq, Tk, D, 1f, G.at(b, g), G.row(), group * G.head(), V.at(b, 0), V.row(), V.head(), 0f, dS, Tk,
                            matrix, Hkv);
                    device.launch(ResidentKernelSource.ATTENTION_SOFTMAX_BACKWARD, device.gridForRows((long) Hkv * Tq), S, dS,
                            lseAddress + 4L * ((long) b * H + g) * Tq, (long) group * Tq, G.at(b, g), group * G.head(),
                            (long) G.row(), O.at(b, g), group * O.head(), (long) O.row(), Hkv, Tq, Tk, D);
                    productAtB(Tk, D, Tq, 1f, S, Tk, matrix, G.at(b, g), G.row(), group * G.head(), accumulate, dV.at(b, 0),
                            dV.row(), dV.head(), Hkv);
                    productAtB(Tk, D, Tq, sc, dS, Tk, matrix, Q.at(b, g), Q.row(), group * Q.head(), accumulate, dK.at(b, 0),
                            dK.row(), dK.head(), Hkv);
                    productAB(Tq, D, Tk, sc, dS, Tk, matrix, K.at(b, 0), K.row(), K.head(), 0f, dQ.at(b, g), dQ.row(),
                            group * dQ.head(), Hkv);
                }
            }
        }
        scores.storage().release();
        dscores.storage().release();
        release(temporaries);
        for (Tensor t : List.of(dq, dk, dv)) t.storage().bumpVersion();
        return new Attention.Grads(dq, dk, dv);
    }
}
