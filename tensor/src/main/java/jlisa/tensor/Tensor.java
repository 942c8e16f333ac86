package jlisa.tensor;

import java.util.Arrays;

import jlisa.tensor.kernels.Elementwise;
import jlisa.tensor.kernels.Elementwise.Binary;
import jlisa.tensor.kernels.Elementwise.Unary;
import jlisa.tensor.kernels.MatMul;
import jlisa.tensor.kernels.Reductions;

/**
 * An n-dimensional array: a {@link Storage} seen through a shape, strides (in elements) and an
 * offset. Views (reshape, transpose, permute, narrow, expand, …) share the storage and copy
 * nothing; {@link #contiguous()} and {@link #dense()} copy when the layout asks for it.
 *
 * <p>New tensors are counted in the {@link MemoryLedger} under the allocating thread's current
 * kind (see {@link MemoryLedger#scope(MemoryKind)}).
 *
 * <p>Not synchronized: several threads may read one tensor (and its views) while no thread writes to its
 * storage; a write (set, fill, copyFrom, in-place ops, an optimizer step) needs the caller's own ordering.
 * Kernels split their own work over the thread pool and return after it is done.
 */
public final class Tensor {
    // Every kernel is written on the Vector API, an incubator module the JVM resolves only when asked: without
    // --add-modules the first op would die with a bare NoClassDefFoundError naming a jdk.incubator class.
    static {
        try {
            Class.forName("jdk.incubator.vector.FloatVector", false, Tensor.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new NoClassDefFoundError("jlisa needs the JDK's Vector API module: start java with "
                    + "--add-modules jdk.incubator.vector (JDK 25 or newer)");
        }
    }

    private final Storage storage;
    private final int[] shape;
    private final int[] strides;
    private final int offset;

    /** A view of {@code storage}; checks that every element it can address lies inside the storage. */
    public Tensor(Storage storage, int[] shape, int[] strides, int offset) {
        if (shape.length != strides.length) {
            throw new IllegalArgumentException("shape " + Shapes.str(shape) + " and strides " + Arrays.toString(strides)
                    + " have different ranks");
        }
        Shapes.numel(shape); // validates sizes
        long lo = offset, hi = offset;
        boolean empty = false;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 0) empty = true;
            long span = (long) (shape[i] - 1) * strides[i];
            if (span < 0) lo += span; else hi += span;
        }
        if (!empty && (lo < 0 || hi >= storage.length())) {
            throw new IllegalArgumentException("view " + Shapes.str(shape) + " strides " + Arrays.toString(strides)
                    + " offset " + offset + " reaches elements " + lo + " .. " + hi
                    + " but the storage has " + storage.length());
        }
        this.storage = storage;
        this.shape = shape.clone();
        this.strides = strides.clone();
        this.offset = offset;
    }

    // ---------------------------------------------------------------- creation

    /**
     * An F32 tensor with unspecified contents, as torch.empty: for outputs that a kernel overwrites whole, so a
     * reused array (see {@link ArrayPool}) need not be zero-filled first. Never read before writing.
     */
    public static Tensor empty(int... shape) { return empty(DType.F32, shape); }

    /** A tensor of {@code dtype} with unspecified contents (see {@link #empty(int...)}). */
    public static Tensor empty(DType dtype, int... shape) { return empty(dtype, MemoryLedger.currentKind(), shape); }

    /** A tensor of {@code dtype} with unspecified contents, counted under {@code kind}. */
    public static Tensor empty(DType dtype, MemoryKind kind, int... shape) {
        HeapStorage s = HeapStorage.allocate(dtype, Shapes.numel(shape), kind, false);
        return new Tensor(s, shape, Shapes.contiguousStrides(shape), 0);
    }

    /**
     * A tensor of {@code dtype} with unspecified contents in the same memory as {@code place}: the heap for a host
     * tensor, the backend's device memory (F32 only) for a device one. What kernels allocate their outputs with, so
     * outputs stay where the inputs are.
     */
    public static Tensor emptyOn(Tensor place, DType dtype, int... shape) {
        if (!(place.storage instanceof DeviceStorage d)) return empty(dtype, shape);
        if (dtype != DType.F32) {
            throw new IllegalArgumentException("device memory holds F32 tensors, asked for " + dtype + " " + Shapes.str(shape)
                    + " beside " + place.describe());
        }
        return d.backend().empty(MemoryLedger.currentKind(), shape);
    }

    /** As {@link #emptyOn(Tensor, DType, int...)}, counted under {@code kind}. */
    public static Tensor emptyOn(Tensor place, DType dtype, MemoryKind kind, int... shape) {
        if (!(place.storage instanceof DeviceStorage)) return empty(dtype, kind, shape);
        try (var scope = MemoryLedger.scope(kind)) {
            return emptyOn(place, dtype, shape);
        }
    }

    /** Zeros of {@code dtype} in the same memory as {@code place} (see {@link #emptyOn}). */
    public static Tensor zerosOn(Tensor place, DType dtype, int... shape) {
        if (!(place.storage instanceof DeviceStorage d)) return zeros(dtype, shape);
        if (dtype != DType.F32) {
            throw new IllegalArgumentException("device memory holds F32 tensors, asked for " + dtype + " " + Shapes.str(shape)
                    + " beside " + place.describe());
        }
        return d.backend().zeros(MemoryLedger.currentKind(), shape);
    }

    /** True when this tensor's elements are in an accelerator's memory ({@link DeviceStorage}). */
    public boolean isOnDevice() { return storage instanceof DeviceStorage; }

    public static Tensor zeros(int... shape) { return zeros(DType.F32, shape); }

    public static Tensor zeros(DType dtype, int... shape) { return zeros(dtype, MemoryLedger.currentKind(), shape); }

    /** Zeros of {@code dtype}, counted under {@code kind}. */
    public static Tensor zeros(DType dtype, MemoryKind kind, int... shape) {
        HeapStorage s = HeapStorage.allocate(dtype, Shapes.numel(shape), kind);
        return new Tensor(s, shape, Shapes.contiguousStrides(shape), 0);
    }

    public static Tensor ones(int... shape) { return full(1.0, DType.F32, shape); }

    public static Tensor full(double value, DType dtype, int... shape) {
        Tensor t = zeros(dtype, shape);
        t.fill(value);
        return t;
    }

    /** A 0-dim F32 tensor. */
    public static Tensor scalar(double value) { return full(value, DType.F32); }

    /** 0, 1, …, n-1 as F32. */
    public static Tensor arange(int n) { return arange(0, n, 1, DType.F32); }

    /** start, start+step, … below {@code end} (above it for a negative step), as in NumPy. */
    public static Tensor arange(double start, double end, double step, DType dtype) {
        if (step == 0 || Double.isNaN(step)) throw new IllegalArgumentException("arange: step must be non-zero, got " + step);
        int n = (int) Math.max(0, Math.ceil((end - start) / step));
        Tensor t = zeros(dtype, n);
        for (int i = 0; i < n; i++) t.storage.set(i, start + i * step);
        return t;
    }

    /** Uniform in [low, high). */
    public static Tensor rand(Rng rng, double low, double high, DType dtype, int... shape) {
        Tensor t = zeros(dtype, shape);
        for (int i = 0, n = t.numel(); i < n; i++) t.storage.set(i, low + (high - low) * rng.nextDouble());
        return t;
    }

    /** Standard normal, scaled by {@code std} and shifted by {@code mean}. */
    public static Tensor randn(Rng rng, double mean, double std, DType dtype, int... shape) {
        Tensor t = zeros(dtype, shape);
        for (int i = 0, n = t.numel(); i < n; i++) t.storage.set(i, mean + std * rng.nextGaussian());
        return t;
    }

    public static Tensor randn(Rng rng, int... shape) { return randn(rng, 0, 1, DType.F32, shape); }

    /** Wraps (does not copy) {@code data} as a contiguous F32 tensor of {@code shape}. */
    public static Tensor of(float[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(HeapStorage.wrap(data, MemoryLedger.currentKind()), shape, Shapes.contiguousStrides(shape), 0);
    }

    /** Wraps (does not copy) {@code data} as a contiguous F64 tensor of {@code shape}. */
    public static Tensor of(double[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(HeapStorage.wrap(data, MemoryLedger.currentKind()), shape, Shapes.contiguousStrides(shape), 0);
    }

    /** A new (rows, cols) F32 tensor holding a copy of {@code rows}; every row must have the same length. */
    public static Tensor of(float[][] rows) {
        int cols = rows.length == 0 ? 0 : rows[0].length;
        float[] flat = new float[rows.length * cols];
        for (int i = 0; i < rows.length; i++) {
            checkRow("row " + i, rows[i] == null ? -1 : rows[i].length, cols);
            System.arraycopy(rows[i], 0, flat, i * cols, cols);
        }
        return of(flat, rows.length, cols);
    }

    /** A new (a, b, c) F32 tensor holding a copy of {@code blocks}; the nesting must be rectangular. */
    public static Tensor of(float[][][] blocks) {
        int b = blocks.length == 0 ? 0 : blocks[0].length;
        int c = b == 0 ? 0 : blocks[0][0].length;
        float[] flat = new float[blocks.length * b * c];
        for (int i = 0; i < blocks.length; i++) {
            checkRow("block " + i, blocks[i] == null ? -1 : blocks[i].length, b);
            for (int j = 0; j < b; j++) {
                checkRow("row [" + i + "][" + j + "]", blocks[i][j] == null ? -1 : blocks[i][j].length, c);
                System.arraycopy(blocks[i][j], 0, flat, (i * b + j) * c, c);
            }
        }
        return of(flat, blocks.length, b, c);
    }

    /** A new (rows, cols) F64 tensor holding a copy of {@code rows}; every row must have the same length. */
    public static Tensor of(double[][] rows) {
        int cols = rows.length == 0 ? 0 : rows[0].length;
        double[] flat = new double[rows.length * cols];
        for (int i = 0; i < rows.length; i++) {
            checkRow("row " + i, rows[i] == null ? -1 : rows[i].length, cols);
            System.arraycopy(rows[i], 0, flat, i * cols, cols);
        }
        return of(flat, rows.length, cols);
    }

    private static void checkRow(String where, int length, int expected) {
        if (length != expected) {
            throw new IllegalArgumentException("ragged nested array: " + where + " has "
                    + (length < 0 ? "null" : length + " elements") + " but the first has " + expected);
        }
    }

    private static void checkLength(int length, int[] shape) {
        if (length != Shapes.numel(shape)) {
            throw new IllegalArgumentException("data has " + length + " elements but shape " + Shapes.str(shape)
                    + " needs " + Shapes.numel(shape));
        }
    }

    // ---------------------------------------------------------------- layout

    public Storage storage() { return storage; }

    public DType dtype() { return storage.dtype(); }

    public int[] shape() { return shape.clone(); }

    public int[] strides() { return strides.clone(); }

    public int offset() { return offset; }

    public int dim() { return shape.length; }

    /** Size of {@code dim} (negative counts from the end). */
    public int size(int dim) { return shape[Shapes.dim(dim, shape.length, "size")]; }

    public int stride(int dim) { return strides[Shapes.dim(dim, shape.length, "stride")]; }

    public int numel() { return Shapes.numel(shape); }

    /** The storage's in-place write counter (see {@link Storage#version()}). */
    public int version() { return storage.version(); }

    /** True if the elements are laid out row-major without gaps (size-1 dims may have any stride). */
    public boolean isContiguous() {
        if (numel() == 0) return true;
        int expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] == 1) continue;
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    /** True if this tensor's elements live in a Java array of its dtype that kernels can read directly. */
    public boolean isDense() {
        return isContiguous() && storage instanceof HeapStorage && dtype() != DType.BF16;
    }

    /** The backing array of a heap F32 tensor; element i of a dense tensor is at {@code floatArray()[offset() + i]}. */
    public float[] floatArray() {
        if (!(storage instanceof HeapStorage h)) throw new IllegalStateException("tensor is not on the heap: " + describe());
        return h.floats();
    }

    /** Wraps (does not copy) {@code data} as a contiguous I32 tensor of {@code shape}. */
    public static Tensor of(int[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(HeapStorage.wrap(data, MemoryLedger.currentKind()), shape, Shapes.contiguousStrides(shape), 0);
    }

    /** The backing array of a heap I32 tensor. */
    public int[] intArray() {
        if (!(storage instanceof HeapStorage h)) throw new IllegalStateException("tensor is not on the heap: " + describe());
        return h.ints();
    }

    /** The backing array of a heap F64 tensor. */
    public double[] doubleArray() {
        if (!(storage instanceof HeapStorage h)) throw new IllegalStateException("tensor is not on the heap: " + describe());
        return h.doubles();
    }

    /**
     * This tensor if it is {@link #isDense() dense}, else a dense copy (BF16 and mapped storage become a
     * heap F32 copy): what kernels that want a plain array read.
     */
    public Tensor dense() {
        if (isDense()) return this;
        if (storage instanceof DeviceStorage d) {
            throw new IllegalStateException("a CPU kernel was given a tensor in " + d.backend().name()
                    + " device memory (" + describe() + "); copy it to the host first (toHost())");
        }
        return copyAs(dtype().computeType());
    }

    /**
     * This tensor if it is in host memory, else a contiguous heap copy of it (one transfer of the range the
     * view covers): the way values in device memory reach CPU code.
     */
    public Tensor toHost() {
        if (!(storage instanceof DeviceStorage d)) return this;
        if (isContiguous()) {
            Tensor out = empty(dtype(), shape);   // readFloats writes every element
            d.readFloats(offset, out.floatArray(), 0, numel());
            return out;
        }
        Tensor span = hostCopyOfSpan(d);
        Tensor out = span.copy();
        span.storage.release();
        return out;
    }

    /**
     * The elements this view of device memory can reach, copied to a heap array in one transfer, and seen
     * through this view's shape and strides (so a strided device view is read or written on the host).
     */
    private Tensor hostCopyOfSpan(DeviceStorage d) {
        long lo = offset, hi = offset;
        for (int i = 0; i < shape.length; i++) {
            long reach = (long) (shape[i] - 1) * strides[i];
            if (reach < 0) lo += reach; else hi += reach;
        }
        float[] host = new float[Math.toIntExact(hi - lo + 1)];
        d.readFloats(lo, host, 0, host.length);
        return new Tensor(HeapStorage.wrap(host, MemoryKind.OTHER), shape, strides, (int) (offset - lo));
    }

    /**
     * {@link #copyFrom} when either side is in device memory: device memory moves only in whole contiguous
     * ranges, so the values go through a host copy that the ordinary path fills.
     */
    private Tensor copyThroughHost(Tensor src) {
        Tensor from = src.toHost();
        if (!(storage instanceof DeviceStorage d)) {
            copyFrom(from);
        } else if (isContiguous() && numel() > 0) {
            Tensor staged = empty(DType.F32, MemoryKind.OTHER, shape).copyFrom(from);
            d.writeFloats(offset, staged.floatArray(), 0, numel());
            staged.storage.release();
            storage.bumpVersion();
        } else if (numel() > 0) {
            Tensor span = hostCopyOfSpan(d);   // a strided view: update the range it covers, then write it back
            span.copyFrom(from);
            d.writeFloats(offset - span.offset, span.floatArray(), 0, (int) span.storage.length());
            span.storage.release();
            storage.bumpVersion();
        }
        if (from != src) from.storage.release();
        return this;
    }

    /** This tensor if it is contiguous, else a contiguous copy (same dtype). */
    public Tensor contiguous() {
        return isContiguous() ? this : copyAs(dtype());
    }

    /** A new contiguous tensor with the same values (always a copy). */
    public Tensor copy() { return copyAs(dtype()); }

    /** This tensor if it already has {@code dtype}, else a converted contiguous copy. */
    public Tensor to(DType dtype) { return dtype == dtype() ? this : copyAs(dtype); }

    private Tensor copyAs(DType dtype) {
        Tensor out = emptyOn(this, dtype, shape); // copyFrom writes every element; a device tensor's copy stays there
        out.copyFrom(this);
        return out;
    }

    /** Copies {@code src} (broadcast to this shape, converted to this dtype) into this tensor, through both layouts. */
    public Tensor copyFrom(Tensor src) {
        if (storage.isReadOnly()) throw new IllegalStateException("copyFrom: destination is read-only: " + describe());
        int[] b = Shapes.broadcast(src.shape, shape, "copyFrom");
        if (!Arrays.equals(b, shape)) {
            throw new IllegalArgumentException("copyFrom: source " + Shapes.str(src.shape) + " does not broadcast to "
                    + Shapes.str(shape));
        }
        if (storage instanceof DeviceStorage d && src.storage instanceof DeviceStorage s && d.backend() == s.backend()) {
            if (numel() > 0) d.backend().copy(src, this);   // a copy kernel on the device, any strides
            storage.bumpVersion();
            return this;
        }
        if (storage instanceof DeviceStorage || src.storage instanceof DeviceStorage) return copyThroughHost(src);
        int[] srcStrides = Shapes.broadcastStrides(src.shape, src.strides, shape);
        storage.bumpVersion();
        int rows = shape.length == 0 ? 1 : shape[0];
        long n = numel();
        if (n >= PARALLEL_COPY && rows > 1) {
            // Large copies (head splits, bias rows, dtype conversions) are split by leading index over the threads.
            int grain = (int) Math.max(1, PARALLEL_COPY / Math.max(1, n / rows));
            Parallel.forRange(0, rows, grain, (lo, hi) -> copyRows(src, srcStrides, lo, hi));
        } else {
            copyRows(src, srcStrides, 0, rows);
        }
        return this;
    }

    /** Below this many elements a copy stays on the calling thread. */
    private static final long PARALLEL_COPY = 1 << 16;

    /** The part of {@link #copyFrom} for leading indices [lo, hi) (all of a 0-dim tensor). */
    private void copyRows(Tensor src, int[] srcStrides, int lo, int hi) {
        int[] part = shape.clone();
        int at = offset, from0 = src.offset;
        if (part.length > 0) {
            part[0] = hi - lo;
            at += lo * strides[0];
            from0 += lo * srcStrides[0];
        }
        Storage from = src.storage, to = storage;
        Runs.forEach(part, new int[][] {strides, srcStrides}, new int[] {at, from0}, (o, n, s) -> {
            if (from instanceof HeapStorage hf && to instanceof HeapStorage ht && from.dtype() == to.dtype()
                    && s[0] == 1 && s[1] == 1) {
                System.arraycopy(hf.array(), o[1], ht.array(), o[0], n);
            } else if (from instanceof SegmentStorage sf && to instanceof HeapStorage ht && from.dtype() == DType.F32
                    && to.dtype() == DType.F32 && s[0] == 1 && s[1] == 1) {
                sf.copyFloats(o[1], ht.floats(), o[0], n);
            } else if (from instanceof HeapStorage hf && to instanceof HeapStorage ht && from.dtype() == DType.F32
                    && to.dtype() == DType.F32) {
                float[] x = hf.floats(), y = ht.floats();
                for (int i = 0, p = o[0], q = o[1]; i < n; i++, p += s[0], q += s[1]) y[p] = x[q];
            } else {
                for (int i = 0, p = o[0], q = o[1]; i < n; i++, p += s[0], q += s[1]) to.set(p, from.get(q));
            }
        });
    }

    /** Sets every element to {@code value}. */
    public Tensor fill(double value) {
        if (storage.isReadOnly()) throw new IllegalStateException("fill: tensor is read-only: " + describe());
        storage.bumpVersion();
        Runs.forEach(shape, new int[][] {strides}, new int[] {offset}, (o, n, s) -> {
            if (storage instanceof HeapStorage h && dtype() == DType.F32 && s[0] == 1) {
                Arrays.fill(h.floats(), o[0], o[0] + n, (float) value);
            } else {
                for (int i = 0, p = o[0]; i < n; i++, p += s[0]) storage.set(p, value);
            }
        });
        return this;
    }

    // ---------------------------------------------------------------- elements

    /** Element at {@code index}, widened to double. */
    public double get(int... index) { return storage.get(elementOffset(index)); }

    /** Sets the element at {@code index}. */
    public void set(double value, int... index) {
        storage.bumpVersion();
        storage.set(elementOffset(index), value);
    }

    /** The value of a one-element tensor. */
    public double item() {
        if (numel() != 1) throw new IllegalArgumentException("item: expected a tensor with one element, got shape " + Shapes.str(shape));
        return storage.isCpu() ? storage.get(offset) : toHost().item();
    }

    private int elementOffset(int[] index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("index " + Arrays.toString(index) + " has " + index.length
                    + " coordinates but the tensor has rank " + shape.length);
        }
        int p = offset;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i]) {
                throw new IllegalArgumentException("index " + Arrays.toString(index) + " is out of bounds for shape "
                        + Shapes.str(shape) + " at dim " + i);
            }
            p += index[i] * strides[i];
        }
        return p;
    }

    /** The values in row-major order, as floats (a copy). */
    public float[] toFloatArray() {
        Tensor d = toHost().to(DType.F32).contiguous().dense();
        return Arrays.copyOfRange(d.floatArray(), d.offset, d.offset + d.numel());
    }

    /** The values in row-major order, as doubles (a copy). */
    public double[] toDoubleArray() {
        Tensor d = toHost().to(DType.F64).contiguous().dense();
        return Arrays.copyOfRange(d.doubleArray(), d.offset, d.offset + d.numel());
    }

    // ---------------------------------------------------------------- views

    /**
     * The same elements under a new shape, without copying; one size may be -1 (inferred). Works
     * whenever the new shape can be expressed with strides over this layout (as PyTorch's view),
     * else throws; see {@link #reshape(int...)}.
     */
    public Tensor view(int... newShape) {
        int[] target = inferShape(newShape, "view");
        int[] newStrides = viewStrides(target);
        if (newStrides == null) {
            throw new IllegalArgumentException("view: " + Shapes.str(shape) + " with strides " + Arrays.toString(strides)
                    + " cannot be viewed as " + Shapes.str(target) + " without a copy; use reshape()");
        }
        return new Tensor(storage, target, newStrides, offset);
    }

    /** Like {@link #view(int...)}, but copies when the layout does not allow a view. */
    public Tensor reshape(int... newShape) {
        int[] target = inferShape(newShape, "reshape");
        int[] newStrides = viewStrides(target);
        if (newStrides != null) return new Tensor(storage, target, newStrides, offset);
        return contiguous().view(target);
    }

    private int[] inferShape(int[] newShape, String op) {
        int[] target = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < target.length; i++) {
            if (target[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException(op + ": only one size may be -1, got " + Shapes.str(newShape));
                infer = i;
            } else if (target[i] < 0) {
                throw new IllegalArgumentException(op + ": negative size in " + Shapes.str(newShape));
            } else {
                known *= target[i];
            }
        }
        int n = numel();
        if (infer >= 0) {
            if (known == 0 || n % known != 0) {
                throw new IllegalArgumentException(op + ": cannot infer -1 in " + Shapes.str(newShape) + " for "
                        + n + " elements of " + Shapes.str(shape));
            }
            target[infer] = (int) (n / known);
        } else if (known != n) {
            throw new IllegalArgumentException(op + ": shape " + Shapes.str(newShape) + " has " + known
                    + " elements but the tensor " + Shapes.str(shape) + " has " + n);
        }
        return target;
    }

    /** Strides that give {@code target} over this layout, or null if none exist (PyTorch's computeStride). */
    private int[] viewStrides(int[] target) {
        int[] out = new int[target.length];
        if (numel() == 0) return Shapes.contiguousStrides(target);
        int viewD = target.length - 1;
        long chunkBase = strides.length == 0 ? 1 : strides[strides.length - 1];
        long tensorNumel = 1, viewNumel = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            tensorNumel *= shape[d];
            if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensorNumel * chunkBase)) {
                while (viewD >= 0 && (viewNumel < tensorNumel || target[viewD] == 1)) {
                    out[viewD] = (int) (viewNumel * chunkBase);
                    viewNumel *= target[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (d > 0) {
                    chunkBase = strides[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        if (viewD != -1) {
            // only size-1 dims may remain
            for (; viewD >= 0; viewD--) {
                if (target[viewD] != 1) return null;
                out[viewD] = 1;
            }
        }
        return out;
    }

    /** Swaps two dims (a view). */
    public Tensor transpose(int dim0, int dim1) {
        int a = Shapes.dim(dim0, shape.length, "transpose"), b = Shapes.dim(dim1, shape.length, "transpose");
        int[] s = shape.clone(), st = strides.clone();
        s[a] = shape[b]; s[b] = shape[a];
        st[a] = strides[b]; st[b] = strides[a];
        return new Tensor(storage, s, st, offset);
    }

    /** Transpose of a 2-D tensor. */
    public Tensor t() {
        if (shape.length != 2) throw new IllegalArgumentException("t: expected a 2-D tensor, got shape " + Shapes.str(shape));
        return transpose(0, 1);
    }

    /** Reorders dims: dim i of the result is dim {@code order[i]} of this tensor (a view). */
    public Tensor permute(int... order) {
        if (order.length != shape.length) {
            throw new IllegalArgumentException("permute: order " + Arrays.toString(order) + " has " + order.length
                    + " dims but the tensor has rank " + shape.length);
        }
        int[] s = new int[order.length], st = new int[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int d = Shapes.dim(order[i], shape.length, "permute");
            if (seen[d]) throw new IllegalArgumentException("permute: dim " + d + " repeats in " + Arrays.toString(order));
            seen[d] = true;
            s[i] = shape[d];
            st[i] = strides[d];
        }
        return new Tensor(storage, s, st, offset);
    }

    /** Elements {@code start .. start+length-1} along {@code dim} (a view). */
    public Tensor narrow(int dim, int start, int length) {
        int d = Shapes.dim(dim, shape.length, "narrow");
        if (start < 0 || length < 0 || start + length > shape[d]) {
            throw new IllegalArgumentException("narrow: range " + start + " .. " + (start + length) + " is outside dim " + d
                    + " of size " + shape[d] + " (shape " + Shapes.str(shape) + ")");
        }
        int[] s = shape.clone();
        s[d] = length;
        return new Tensor(storage, s, strides, offset + (length == 0 ? 0 : start * strides[d]));
    }

    /** Elements {@code start, start+step, …} below {@code end} along {@code dim} (a view; Python's {@code x[start:end:step]}). */
    public Tensor slice(int dim, int start, int end, int step) {
        int d = Shapes.dim(dim, shape.length, "slice");
        if (step <= 0) throw new IllegalArgumentException("slice: step must be > 0, got " + step);
        if (start < 0 || end < start || end > shape[d]) {
            throw new IllegalArgumentException("slice: range " + start + " .. " + end + " is outside dim " + d
                    + " of size " + shape[d] + " (shape " + Shapes.str(shape) + ")");
        }
        int[] s = shape.clone(), st = strides.clone();
        s[d] = (end - start + step - 1) / step;
        st[d] = strides[d] * step;
        return new Tensor(storage, s, st, offset + (s[d] == 0 ? 0 : start * strides[d]));
    }

    /** The slice at {@code index} along {@code dim}, with that dim removed (a view). */
    public Tensor select(int dim, int index) {
        int d = Shapes.dim(dim, shape.length, "select");
        if (index < 0 || index >= shape[d]) {
            throw new IllegalArgumentException("select: index " + index + " is out of range for dim " + d + " of size "
                    + shape[d] + " (shape " + Shapes.str(shape) + ")");
        }
        return new Tensor(storage, remove(shape, d), remove(strides, d), offset + index * strides[d]);
    }

    /** Broadcasts to {@code newShape} without copying (broadcast dims get stride 0); -1 keeps a size. */
    public Tensor expand(int... newShape) {
        if (newShape.length < shape.length) {
            throw new IllegalArgumentException("expand: cannot expand " + Shapes.str(shape) + " to fewer dims "
                    + Shapes.str(newShape));
        }
        int lead = newShape.length - shape.length;
        int[] s = new int[newShape.length], st = new int[newShape.length];
        for (int i = 0; i < newShape.length; i++) {
            int j = i - lead;
            int target = newShape[i];
            if (j < 0) {
                if (target < 0) throw new IllegalArgumentException("expand: -1 is not allowed for new leading dim " + i);
                s[i] = target;
                st[i] = 0;
            } else if (target == -1 || target == shape[j]) {
                s[i] = shape[j];
                st[i] = strides[j];
            } else if (shape[j] == 1) {
                s[i] = target;
                st[i] = 0;
            } else {
                throw new IllegalArgumentException("expand: cannot expand " + Shapes.str(shape) + " to "
                        + Shapes.str(newShape) + " (dim " + i + ": " + shape[j] + " vs " + target + ")");
            }
        }
        return new Tensor(storage, s, st, offset);
    }

    /** Inserts a size-1 dim at {@code dim} (which may be {@code dim()}). */
    public Tensor unsqueeze(int dim) {
        int d = Shapes.dim(dim, shape.length + 1, "unsqueeze");
        int[] s = new int[shape.length + 1], st = new int[shape.length + 1];
        for (int i = 0, j = 0; i < s.length; i++) {
            if (i == d) {
                s[i] = 1;
                st[i] = j < shape.length ? strides[j] * shape[j] : 1;
            } else {
                s[i] = shape[j];
                st[i] = strides[j++];
            }
        }
        return new Tensor(storage, s, st, offset);
    }

    /** Removes {@code dim}, which must have size 1. */
    public Tensor squeeze(int dim) {
        int d = Shapes.dim(dim, shape.length, "squeeze");
        if (shape[d] != 1) {
            throw new IllegalArgumentException("squeeze: dim " + d + " has size " + shape[d] + ", expected 1 (shape "
                    + Shapes.str(shape) + ")");
        }
        return new Tensor(storage, remove(shape, d), remove(strides, d), offset);
    }

    /** Joins tensors along {@code dim}; all other sizes must agree. The result is a new contiguous tensor. */
    public static Tensor cat(int dim, Tensor... parts) {
        if (parts.length == 0) throw new IllegalArgumentException("cat: expected at least one tensor, got none");
        int rank = parts[0].dim();
        int d = Shapes.dim(dim, rank, "cat");
        int[] out = parts[0].shape();
        DType dtype = parts[0].dtype().computeType();
        for (int i = 1; i < parts.length; i++) {
            int[] s = parts[i].shape;
            boolean ok = s.length == rank;
            for (int j = 0; ok && j < rank; j++) ok = j == d || s[j] == out[j];
            if (!ok) {
                throw new IllegalArgumentException("cat: tensor " + i + " has shape " + Shapes.str(s) + " but tensor 0 has "
                        + Shapes.str(parts[0].shape) + "; all sizes but dim " + d + " must match");
            }
            out[d] += s[d];
            dtype = DType.promote(dtype, parts[i].dtype());
        }
        Tensor result = zeros(dtype, out);
        int at = 0;
        for (Tensor p : parts) {
            result.narrow(d, at, p.shape[d]).copyFrom(p);
            at += p.shape[d];
        }
        return result;
    }

    /** Views of consecutive pieces along {@code dim} with the given sizes, which must add up to the dim's size. */
    public Tensor[] split(int dim, int... sizes) {
        int d = Shapes.dim(dim, shape.length, "split");
        long total = 0;
        for (int s : sizes) total += s;
        if (total != shape[d]) {
            throw new IllegalArgumentException("split: sizes " + Arrays.toString(sizes) + " add up to " + total
                    + " but dim " + d + " of " + Shapes.str(shape) + " has " + shape[d]);
        }
        Tensor[] out = new Tensor[sizes.length];
        for (int i = 0, at = 0; i < sizes.length; at += sizes[i++]) out[i] = narrow(d, at, sizes[i]);
        return out;
    }

    private static int[] remove(int[] a, int i) {
        int[] r = new int[a.length - 1];
        System.arraycopy(a, 0, r, 0, i);
        System.arraycopy(a, i + 1, r, i, a.length - i - 1);
        return r;
    }

    // ---------------------------------------------------------------- ops (kernels live in jlisa.tensor.kernels)

    public Tensor add(Tensor other) { return Elementwise.binary(Binary.ADD, this, other); }

    public Tensor sub(Tensor other) { return Elementwise.binary(Binary.SUB, this, other); }

    public Tensor mul(Tensor other) { return Elementwise.binary(Binary.MUL, this, other); }

    public Tensor div(Tensor other) { return Elementwise.binary(Binary.DIV, this, other); }

    public Tensor maximum(Tensor other) { return Elementwise.binary(Binary.MAX, this, other); }

    public Tensor minimum(Tensor other) { return Elementwise.binary(Binary.MIN, this, other); }

    public Tensor pow(Tensor other) { return Elementwise.binary(Binary.POW, this, other); }

    public Tensor add(double s) { return Elementwise.scalar(Binary.ADD, this, s); }

    public Tensor sub(double s) { return Elementwise.scalar(Binary.SUB, this, s); }

    public Tensor mul(double s) { return Elementwise.scalar(Binary.MUL, this, s); }

    public Tensor div(double s) { return Elementwise.scalar(Binary.DIV, this, s); }

    public Tensor pow(double s) { return Elementwise.scalar(Binary.POW, this, s); }

    /** {@code this += other} in place (other broadcasts to this shape); this must be dense. Returns this. */
    public Tensor addInPlace(Tensor other) { return Elementwise.binaryInto(Binary.ADD, this, other, this); }

    /** {@code this *= s} in place; this must be dense. Returns this. */
    public Tensor mulInPlace(double s) { return Elementwise.binaryInto(Binary.MUL, this, full(s, dtype()), this); }

    public Tensor neg() { return Elementwise.unary(Unary.NEG, this); }

    public Tensor exp() { return Elementwise.unary(Unary.EXP, this); }

    public Tensor log() { return Elementwise.unary(Unary.LOG, this); }

    public Tensor sqrt() { return Elementwise.unary(Unary.SQRT, this); }

    public Tensor rsqrt() { return Elementwise.unary(Unary.RSQRT, this); }

    public Tensor abs() { return Elementwise.unary(Unary.ABS, this); }

    public Tensor tanh() { return Elementwise.unary(Unary.TANH, this); }

    public Tensor sigmoid() { return Elementwise.unary(Unary.SIGMOID, this); }

    public Tensor relu() { return Elementwise.unary(Unary.RELU, this); }

    public Tensor square() { return Elementwise.unary(Unary.SQUARE, this); }

    public Tensor reciprocal() { return Elementwise.unary(Unary.RECIPROCAL, this); }

    /** −1, 0 or 1 per element (NaN stays NaN). */
    public Tensor sign() { return Elementwise.unary(Unary.SIGN, this); }

    /** 1 where the element is &gt; 0, else 0 (relu's derivative). */
    public Tensor step() { return Elementwise.unary(Unary.STEP, this); }

    /** Sum over {@code dims} (all dims when none are given). */
    public Tensor sum(boolean keepDim, int... dims) { return Reductions.sum(this, keepDim, dims); }

    public Tensor sum(int... dims) { return Reductions.sum(this, false, dims); }

    public Tensor mean(boolean keepDim, int... dims) { return Reductions.mean(this, keepDim, dims); }

    public Tensor mean(int... dims) { return Reductions.mean(this, false, dims); }

    /** Maximum over {@code dims}; NaN wins, as in PyTorch. */
    public Tensor max(boolean keepDim, int... dims) { return Reductions.max(this, keepDim, dims); }

    public Tensor max(int... dims) { return Reductions.max(this, false, dims); }

    /** Index of the maximum along {@code dim} (first one on ties; NaN counts as the maximum), as I32. */
    public Tensor argmax(int dim, boolean keepDim) { return Reductions.argmax(this, dim, keepDim); }

    /** Variance over {@code dims} with {@code correction} (1 = unbiased, as torch.var's default). */
    public Tensor var(boolean keepDim, int correction, int... dims) { return Reductions.var(this, keepDim, correction, dims); }

    /** Matrix product with NumPy/PyTorch matmul semantics (1-D promotion, broadcast batch dims). */
    public Tensor matmul(Tensor other) { return MatMul.matmul(this, other); }

    // ---------------------------------------------------------------- printing

    /** "F32 (2, 3) strides [3, 1] offset 0 on HeapStorage" */
    public String describe() {
        return dtype() + " " + Shapes.str(shape) + " strides " + Arrays.toString(strides) + " offset " + offset
                + " on " + storage.getClass().getSimpleName();
    }

    /** Above this many elements {@link #toString()} shows only the first and last {@value #EDGE_ITEMS} per dim. */
    private static final int SUMMARIZE_ABOVE = 1000;
    private static final int EDGE_ITEMS = 3;

    /**
     * The values in PyTorch's style: nested brackets by dimension, aligned columns, four decimals for
     * floats, and {@code ...} for the middle of each dim above 1000 elements, then shape and dtype, e.g.
     * {@code tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]], shape=(2, 2), dtype=F32)}.
     */
    @Override public String toString() {
        Tensor host = toHost();
        boolean summarize = numel() > SUMMARIZE_ABOVE;
        java.util.List<String> cells = new java.util.ArrayList<>();
        collectCells(host, new int[shape.length], 0, summarize, cells);
        int width = 0;
        for (String c : cells) width = Math.max(width, c.length());
        StringBuilder sb = new StringBuilder("tensor(");
        java.util.Iterator<String> it = cells.iterator();
        if (numel() == 0) sb.append("[]");
        else appendDim(sb, new int[shape.length], 0, summarize, it, width, "tensor(".length());
        return sb.append(", shape=").append(Shapes.str(shape)).append(", dtype=").append(dtype()).append(')').toString();
    }

    private boolean shown(int dim, int i, boolean summarize) {
        return !summarize || shape[dim] <= 2 * EDGE_ITEMS || i < EDGE_ITEMS || i >= shape[dim] - EDGE_ITEMS;
    }

    /** The formatted elements that will be printed, in print order (to measure the column width first). */
    private void collectCells(Tensor host, int[] idx, int dim, boolean summarize, java.util.List<String> out) {
        if (dim == shape.length) {
            double v = host.get(idx);
            out.add(dtype() == DType.I32 ? Long.toString((long) v)
                    : Double.isFinite(v) ? String.format(java.util.Locale.ROOT, "%.4f", v) : Double.toString(v));
            return;
        }
        for (int i = 0; i < shape[dim]; i++) {
            if (!shown(dim, i, summarize)) continue;
            idx[dim] = i;
            collectCells(host, idx, dim + 1, summarize, out);
        }
    }

    private void appendDim(StringBuilder sb, int[] idx, int dim, boolean summarize, java.util.Iterator<String> cells,
                           int width, int indent) {
        if (dim == shape.length) {
            String c = cells.next();
            sb.append(" ".repeat(width - c.length())).append(c);
            return;
        }
        sb.append('[');
        // PyTorch's layout: the last dim on one line, one line per row above it, a blank line per extra dim
        String sep = dim == shape.length - 1 ? ", " : "," + "\n".repeat(shape.length - dim - 1) + " ".repeat(indent + dim + 1);
        boolean first = true, skipped = false;
        for (int i = 0; i < shape[dim]; i++) {
            if (!shown(dim, i, summarize)) {
                if (!skipped) sb.append(sep).append("...");
                skipped = true;
                continue;
            }
            if (!first) sb.append(sep);
            first = false;
            idx[dim] = i;
            appendDim(sb, idx, dim + 1, summarize, cells, width, indent);
        }
        sb.append(']');
    }
}
