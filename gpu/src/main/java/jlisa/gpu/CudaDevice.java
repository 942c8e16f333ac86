package jlisa.gpu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

import jlisa.tensor.Parallel;

/**
 * One CUDA device opened through the driver API, cuBLAS and NVRTC: its primary context, a cuBLAS handle,
 * the kernels of {@link CudaKernels} compiled for it, a {@link DeviceAllocator caching allocator} and a
 * page-locked staging buffer for host transfers. All work goes to the default (legacy) stream, so every
 * kernel, product and copy runs in the order it was issued; host copies of results wait for the work before
 * them. Each method makes the device's context current on the calling thread and holds the device's lock.
 */
public final class CudaDevice {
    /**
     * Host transfers go through two page-locked buffers of this size, in turns: while the copy engine moves one
     * chunk, the CPU threads copy the next one between the Java array and the other buffer.
     */
    private static final long STAGING_BYTES = 32L << 20;
    /** Below this many floats a staging copy runs on the calling thread alone. */
    private static final int PARALLEL_COPY_FLOATS = 1 << 20;
    /** The context last made current on each thread (any device's). */
    private static final ThreadLocal<MemorySegment> CURRENT_CONTEXT = new ThreadLocal<>();

    private final Driver driver;
    private final Cublas cublas;
    private final String driverLocation, cublasLocation, nvrtcLocation;
    private final MemorySegment context, cublasHandle;
    /** The two staging buffers, the event recorded after the last transfer each took part in, and whether it is pending. */
    private final MemorySegment[] staging = new MemorySegment[2], stagingEvents = new MemorySegment[2];
    private final boolean[] stagingBusy = new boolean[2];
    private int nextStaging;
    private final Map<String, MemorySegment> kernels = new HashMap<>();
    private final int multiprocessors;
    private int mathMode = -1;
    /** Bytes moved between host and device memory so far, each way (device-resident training keeps these small). */
    private long uploadedBytes, downloadedBytes;

    /** The device's name, e.g. "NVIDIA H200". */
    public final String name;
    public final long totalMemoryBytes;
    public final int computeMajor, computeMinor;
    /** Versions: the driver's CUDA version (e.g. 13000), cuBLAS's (major·10000 + minor·100 + patch), NVRTC's {major, minor}. */
    public final int driverVersion, cublasVersion;
    private final int[] nvrtcVersion;
    /** The compute capability the kernels were compiled for (the device's, or the newest NVRTC knows if lower). */
    public final int kernelArchitecture;
    final DeviceAllocator allocator;

    private CudaDevice(CudaLibraries.Opened driverLib, CudaLibraries.Opened cublasLib, CudaLibraries.Opened nvrtcLib,
                       int ordinal) {
        driver = new Driver(driverLib.library());
        cublas = new Cublas(cublasLib.library());
        Nvrtc nvrtc = new Nvrtc(nvrtcLib.library());
        driverLocation = describe(driverLib);
        cublasLocation = describe(cublasLib);
        nvrtcLocation = describe(nvrtcLib);
        driver.init();
        driverVersion = driver.driverVersion();
        int count = driver.deviceCount();
        if (ordinal >= count) {
            throw new IllegalStateException(count == 0 ? "the driver sees no CUDA device"
                    : "device " + ordinal + " asked for, the driver sees " + count);
        }
        int device = driver.device(ordinal);
        name = driver.deviceName(device);
        totalMemoryBytes = driver.totalMemory(device);
        computeMajor = driver.attribute(Driver.ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
        computeMinor = driver.attribute(Driver.ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
        multiprocessors = driver.attribute(Driver.ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
        context = driver.retainPrimaryContext(device);
        makeCurrent();
        cublasHandle = cublas.create();
        cublasVersion = cublas.version(cublasHandle);
        nvrtcVersion = nvrtc.version();
        kernelArchitecture = architecture(computeMajor * 10 + computeMinor, nvrtc.supportedArchitectures());
        MemorySegment ptx = nvrtc.compile(CudaKernels.SOURCE, "jlisa_kernels.cu", CudaKernels.options(kernelArchitecture),
                Arena.ofAuto());
        MemorySegment module = driver.loadModule(ptx);
        for (String entry : CudaKernels.ENTRIES) kernels.put(entry, driver.function(module, entry));
        allocator = new DeviceAllocator(new DeviceAllocator.Memory() {
            @Override public long allocate(long bytes) { return driver.memAlloc(bytes); }

            @Override public void free(long pointer) { driver.memFree(pointer); }
        });
        for (int i = 0; i < 2; i++) {
            staging[i] = driver.memAllocHost(STAGING_BYTES);
            stagingEvents[i] = driver.createEvent();
        }
    }

    /** Opens device {@code ordinal} with libraries already loaded (see {@link Cuda}). */
    static CudaDevice open(CudaLibraries.Opened driver, CudaLibraries.Opened cublas, CudaLibraries.Opened nvrtc, int ordinal) {
        return new CudaDevice(driver, cublas, nvrtc, ordinal);
    }

    private static String describe(CudaLibraries.Opened lib) {
        return lib.candidate().location() + " (" + lib.candidate().how() + ")";
    }

    /** The device's compute capability if NVRTC knows it, else the newest NVRTC knows below it (PTX runs on newer GPUs). */
    static int architecture(int device, int[] supported) {
        if (supported.length == 0) return device;
        int best = -1;
        for (int a : supported) if (a <= device) best = Math.max(best, a);
        if (best < 0) throw new IllegalStateException("NVRTC cannot compile for compute capability " + device / 10 + "."
                + device % 10 + " or any lower one (it knows " + java.util.Arrays.toString(supported) + ")");
        return best;
    }

    // ------------------------------------------------------------------------------------------ description

    /** Where each library was loaded from and how it was found. */
    public String libraries() {
        return "driver " + driverLocation + "; cuBLAS " + cublasLocation + "; NVRTC " + nvrtcLocation;
    }

    /** "13.0" for a driver version of 13000. */
    public String driverVersionText() { return driverVersion / 1000 + "." + driverVersion % 1000 / 10; }

    public String cublasVersionText() { return cublasVersion / 10000 + "." + cublasVersion / 100 % 100 + "." + cublasVersion % 100; }

    public String nvrtcVersionText() { return nvrtcVersion[0] + "." + nvrtcVersion[1]; }

    /** Free and total device memory in bytes, now. */
    public synchronized long[] memoryInfo() {
        makeCurrent();
        return driver.memoryInfo();
    }

    /** One line: name, memory, compute capability, multiprocessors, library versions. */
    public String summary() {
        return String.format(Locale.ROOT, "%s, %.1f GiB, compute %d.%d, %d SMs; driver CUDA %s, cuBLAS %s, NVRTC %s",
                name, totalMemoryBytes / (double) (1L << 30), computeMajor, computeMinor, multiprocessors,
                driverVersionText(), cublasVersionText(), nvrtcVersionText());
    }

    // ------------------------------------------------------------------------------------------ memory

    /**
     * A device block of at least {@code bytes} from the caching allocator. When the device is out of memory even
     * after the cache was emptied, device tensors that nobody released but that are unreachable still hold blocks
     * until the collector runs their cleaners: collect, then try once more.
     */
    synchronized long allocate(long bytes) {
        makeCurrent();
        try {
            return allocator.allocate(bytes);
        } catch (CudaException e) {
            if (!e.isOutOfMemory()) throw e;
            jlisa.tensor.MemoryLedger.collectGarbage();   // cleaners free into the cache (no lock of this device)
            return allocator.allocate(bytes);             // its own out-of-memory path empties the cache first
        }
    }

    /** Returns a block to the cache (no CUDA call: safe from any thread). */
    void free(long pointer, long bytes) { allocator.free(pointer, bytes); }

    /** Gives the allocator's cached blocks back to the driver. */
    public synchronized void emptyCache() {
        makeCurrent();
        allocator.emptyCache();
    }

    /** Bytes the allocator holds from the driver (in use and cached). */
    public long reservedBytes() { return allocator.reservedBytes(); }

    /** How many times the allocator asked the driver for memory. */
    public long driverAllocations() { return allocator.driverAllocations(); }

    /** Sets {@code floats} 32-bit words from {@code pointer} to {@code bits} (e.g. a NaN to poison new memory in tests). */
    synchronized void fill(long pointer, long floats, int bits) {
        makeCurrent();
        if (floats > 0) driver.memsetD32(pointer, bits, floats);
    }

    synchronized void zero(long pointer, long floats) {
        makeCurrent();
        if (floats > 0) driver.memsetD32(pointer, 0, floats);
    }

    /**
     * Copies {@code count} floats from {@code src[from..]} to device address {@code dst} through the staging
     * buffers. Returns when {@code src} has been read; the last chunk may still be on its way, ahead of any
     * work issued later (one stream orders all).
     */
    synchronized void upload(long dst, float[] src, int from, int count) {
        uploadStaged(dst, from, count, (buffer, at, n) ->
                copyFloats(n, (lo, hi) -> MemorySegment.copy(src, at + lo, buffer, JAVA_FLOAT, 4L * lo, hi - lo)));
    }

    /** Copies {@code count} ints from {@code src[from..]} to device address {@code dst} (token ids, targets). */
    synchronized void uploadInts(long dst, int[] src, int from, int count) {
        uploadStaged(dst, from, count, (buffer, at, n) -> MemorySegment.copy(src, at, buffer, JAVA_INT, 0, n));
    }

    /** Fills a staging buffer with {@code n} 4-byte elements of the source array from index {@code at}. */
    private interface Stage {
        void fill(MemorySegment buffer, int at, int n);
    }

    /** Uploads {@code count} 4-byte elements from {@code from} in staging-buffer chunks, each filled by {@code stage}. */
    private void uploadStaged(long dst, int from, int count, Stage stage) {
        makeCurrent();
        uploadedBytes += 4L * count;
        long chunk = STAGING_BYTES / 4;
        for (long done = 0; done < count; done += chunk) {
            int n = (int) Math.min(chunk, count - done);
            MemorySegment buffer = claimStaging();
            stage.fill(buffer, from + (int) done, n);
            driver.copyHostToDeviceAsync(dst + 4 * done, buffer, 4L * n);
            releaseStaging();
        }
    }

    /** Copies {@code bytes} from native host memory (e.g. a memory-mapped file) to device address {@code dst}. */
    synchronized void upload(long dst, MemorySegment src, long bytes) {
        makeCurrent();
        uploadedBytes += bytes;
        if (bytes > 0) driver.copyHostToDevice(dst, src, bytes);
    }

    /**
     * Copies {@code count} floats at device address {@code src} into {@code dst[to..]}, after the work issued
     * before; chunk i+1 travels while chunk i is copied into the array.
     */
    synchronized void download(float[] dst, int to, long src, int count) {
        makeCurrent();
        downloadedBytes += 4L * count;
        long chunk = STAGING_BYTES / 4;
        int previous = -1, previousCount = 0, previousAt = 0;
        for (long done = 0; done < count || previous >= 0; done += chunk) {
            int current = -1, n = 0;
            if (done < count) {
                n = (int) Math.min(chunk, count - done);
                current = nextStaging;
                MemorySegment buffer = claimStaging();
                driver.copyDeviceToHostAsync(buffer, src + 4 * done, 4L * n);
                releaseStaging();
            }
            if (previous >= 0) {
                MemorySegment buffer = staging[previous];
                awaitStaging(previous);
                int at = previousAt;
                copyFloats(previousCount, (lo, hi) -> MemorySegment.copy(buffer, JAVA_FLOAT, 4L * lo, dst, at + lo, hi - lo));
            }
            previous = current;
            previousCount = n;
            previousAt = to + (int) done;
        }
    }

    /** {@code count} doubles at device address {@code src}, after the work issued before. */
    synchronized double[] downloadDoubles(long src, int count) {
        makeCurrent();
        downloadedBytes += 8L * count;
        int index = nextStaging;
        MemorySegment buffer = claimStaging();
        driver.copyDeviceToHostAsync(buffer, src, 8L * count);
        releaseStaging();
        awaitStaging(index);
        return buffer.asSlice(0, 8L * count).toArray(JAVA_DOUBLE);
    }

    /** The next staging buffer, once the transfer that last used it has finished. */
    private MemorySegment claimStaging() {
        awaitStaging(nextStaging);
        return staging[nextStaging];
    }

    /** Marks the transfer just issued from or into the claimed buffer, and turns to the other buffer. */
    private void releaseStaging() {
        driver.recordEvent(stagingEvents[nextStaging]);
        stagingBusy[nextStaging] = true;
        nextStaging ^= 1;
    }

    private void awaitStaging(int index) {
        if (stagingBusy[index]) {
            driver.synchronizeEvent(stagingEvents[index]);
            stagingBusy[index] = false;
        }
    }

    /** Runs a copy of {@code n} floats split over the CPU threads when it is large enough to pay. */
    private static void copyFloats(int n, Parallel.IntRangeBody copy) {
        if (n < PARALLEL_COPY_FLOATS) copy.run(0, n);
        else Parallel.forRange(0, n, PARALLEL_COPY_FLOATS / 4, copy);
    }

    synchronized void copy(long dst, long src, long bytes) {
        makeCurrent();
        if (bytes > 0) driver.copyDeviceToDevice(dst, src, bytes);
    }

    /** Bytes copied from host to device memory so far (all transfers: tensors, ids, operands of offloaded products). */
    public synchronized long uploadedBytes() { return uploadedBytes; }

    /** Bytes copied from device to host memory so far. */
    public synchronized long downloadedBytes() { return downloadedBytes; }

    /** Waits until all work issued so far has finished (for timing). */
    public synchronized void synchronize() {
        makeCurrent();
        driver.synchronize();
    }

    // ------------------------------------------------------------------------------------------ kernels and cuBLAS

    /** Blocks for a kernel that gives each of {@code rows} rows a block (grid-stride over rows beyond that). */
    int gridForRows(long rows) {
        return (int) Math.max(1, Math.min(rows, 64L * multiprocessors));
    }

    /** Blocks for a grid-stride kernel over {@code items}: enough to fill the device, no more. */
    int gridFor(long items) {
        long blocks = (items + CudaKernels.BLOCK - 1) / CudaKernels.BLOCK;
        return (int) Math.max(1, Math.min(blocks, 8L * multiprocessors));
    }

    /**
     * Launches kernel {@code name} on {@code grid} blocks of {@link CudaKernels#BLOCK} threads with the given
     * arguments, passed by value: Long (device pointers, {@code long long}), Integer, Float or Double.
     */
    synchronized void launch(String name, int grid, Object... args) {
        makeCurrent();
        MemorySegment function = kernels.get(name);
        if (function == null) throw new IllegalArgumentException("no kernel named " + name + "; have " + kernels.keySet());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = a.allocate(ADDRESS, args.length);
            for (int i = 0; i < args.length; i++) {
                MemorySegment cell = switch (args[i]) {
                    case Long v -> a.allocateFrom(JAVA_LONG, v);
                    case Integer v -> a.allocateFrom(JAVA_INT, v);
                    case Float v -> a.allocateFrom(JAVA_FLOAT, v);
                    case Double v -> a.allocateFrom(JAVA_DOUBLE, v);
                    default -> throw new IllegalArgumentException("kernel " + name + " argument " + i + ": unsupported type "
                            + args[i].getClass().getSimpleName());
                };
                params.setAtIndex(ADDRESS, i, cell);
            }
            driver.launch(name, function, grid, CudaKernels.BLOCK, 0, params);
        }
    }

    /** The cuBLAS handle with its math mode set to {@code mode} (set only when it changes). */
    synchronized MemorySegment cublas(int mode) {
        makeCurrent();
        if (mode != mathMode) {
            cublas.setMathMode(cublasHandle, mode);
            mathMode = mode;
        }
        return cublasHandle;
    }

    /** The cuBLAS bindings (use with {@link #cublas(int)}'s handle, under this device's lock). */
    Cublas blas() { return cublas; }

    private void makeCurrent() {
        if (CURRENT_CONTEXT.get() != context) {
            driver.setCurrent(context);
            CURRENT_CONTEXT.set(context);
        }
    }
}
