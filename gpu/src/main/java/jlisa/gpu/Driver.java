package jlisa.gpu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static jlisa.gpu.NativeLibrary.status;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The CUDA driver API calls jlisa makes ({@code libcuda.so.1}), each result checked. Sizes and device
 * pointers ({@code CUdeviceptr}) are 64-bit integers; handles (context, module, function) are pointers.
 * The versioned symbols ({@code _v2}) are the ones cuda.h maps the plain names to.
 */
final class Driver {
    // CUdevice_attribute values from cuda.h
    static final int ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    static final int ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    final String location;
    private final MethodHandle cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName,
            cuDeviceTotalMem, cuDeviceGetAttribute, cuDevicePrimaryCtxRetain, cuCtxSetCurrent, cuCtxSynchronize,
            cuMemAlloc, cuMemFree, cuMemAllocHost, cuMemFreeHost, cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD, cuMemsetD32,
            cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuEventCreate, cuEventRecord, cuEventSynchronize,
            cuMemGetInfo, cuModuleLoadData, cuModuleGetFunction, cuLaunchKernel, cuGetErrorName;

    Driver(NativeLibrary lib) {
        location = lib.location;
        cuInit = lib.function("cuInit", JAVA_INT, JAVA_INT);
        cuDriverGetVersion = lib.function("cuDriverGetVersion", JAVA_INT, ADDRESS);
        cuDeviceGetCount = lib.function("cuDeviceGetCount", JAVA_INT, ADDRESS);
        cuDeviceGet = lib.function("cuDeviceGet", JAVA_INT, ADDRESS, JAVA_INT);
        cuDeviceGetName = lib.function("cuDeviceGetName", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceTotalMem = lib.function("cuDeviceTotalMem_v2", JAVA_INT, ADDRESS, JAVA_INT);
        cuDeviceGetAttribute = lib.function("cuDeviceGetAttribute", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        cuDevicePrimaryCtxRetain = lib.function("cuDevicePrimaryCtxRetain", JAVA_INT, ADDRESS, JAVA_INT);
        cuCtxSetCurrent = lib.function("cuCtxSetCurrent", JAVA_INT, ADDRESS);
        cuCtxSynchronize = lib.function("cuCtxSynchronize", JAVA_INT);
        cuMemAlloc = lib.function("cuMemAlloc_v2", JAVA_INT, ADDRESS, JAVA_LONG);
        cuMemFree = lib.function("cuMemFree_v2", JAVA_INT, JAVA_LONG);
        cuMemAllocHost = lib.function("cuMemAllocHost_v2", JAVA_INT, ADDRESS, JAVA_LONG);
        cuMemFreeHost = lib.function("cuMemFreeHost", JAVA_INT, ADDRESS);
        cuMemcpyHtoD = lib.function("cuMemcpyHtoD_v2", JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemcpyDtoH = lib.function("cuMemcpyDtoH_v2", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG);
        cuMemcpyDtoD = lib.function("cuMemcpyDtoD_v2", JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemsetD32 = lib.function("cuMemsetD32_v2", JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG);
        cuMemcpyHtoDAsync = lib.function("cuMemcpyHtoDAsync_v2", JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS);
        cuMemcpyDtoHAsync = lib.function("cuMemcpyDtoHAsync_v2", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS);
        cuEventCreate = lib.function("cuEventCreate", JAVA_INT, ADDRESS, JAVA_INT);
        cuEventRecord = lib.function("cuEventRecord", JAVA_INT, ADDRESS, ADDRESS);
        cuEventSynchronize = lib.function("cuEventSynchronize", JAVA_INT, ADDRESS);
        cuMemGetInfo = lib.function("cuMemGetInfo_v2", JAVA_INT, ADDRESS, ADDRESS);
        cuModuleLoadData = lib.function("cuModuleLoadData", JAVA_INT, ADDRESS, ADDRESS);
        cuModuleGetFunction = lib.function("cuModuleGetFunction", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        cuLaunchKernel = lib.function("cuLaunchKernel", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        cuGetErrorName = lib.function("cuGetErrorName", JAVA_INT, JAVA_INT, ADDRESS);
    }

    /** Throws a {@link CudaException} naming {@code call} and the CUresult unless {@code result} is CUDA_SUCCESS. */
    void check(String call, int result) {
        if (result != 0) throw new CudaException(call, result, errorName(result), null);
    }

    /** The CUresult's name as the driver spells it, e.g. CUDA_ERROR_OUT_OF_MEMORY. */
    String errorName(int result) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = NativeLibrary.pointerCell(a);
            int r = status(() -> cuGetErrorName.invoke(result, name));
            String s = r == 0 ? NativeLibrary.string(name.get(ADDRESS, 0)) : null;
            return s != null ? s : "CUresult " + result;
        }
    }

    void init() { check("cuInit", status(() -> cuInit.invoke(0))); }

    /** The driver's CUDA version, e.g. 13000 for 13.0. */
    int driverVersion() { return intResult("cuDriverGetVersion", cell -> status(() -> cuDriverGetVersion.invoke(cell))); }

    int deviceCount() { return intResult("cuDeviceGetCount", cell -> status(() -> cuDeviceGetCount.invoke(cell))); }

    /** The CUdevice (an int) of ordinal {@code ordinal}. */
    int device(int ordinal) { return intResult("cuDeviceGet", cell -> status(() -> cuDeviceGet.invoke(cell, ordinal))); }

    int attribute(int attribute, int device) {
        return intResult("cuDeviceGetAttribute", cell -> status(() -> cuDeviceGetAttribute.invoke(cell, attribute, device)));
    }

    String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = a.allocate(256);
            check("cuDeviceGetName", status(() -> cuDeviceGetName.invoke(name, 256, device)));
            return name.getString(0);
        }
    }

    long totalMemory(int device) {
        return longResult("cuDeviceTotalMem_v2", cell -> status(() -> cuDeviceTotalMem.invoke(cell, device)));
    }

    /** The device's primary context, which cuBLAS also uses. */
    MemorySegment retainPrimaryContext(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ctx = NativeLibrary.pointerCell(a);
            check("cuDevicePrimaryCtxRetain", status(() -> cuDevicePrimaryCtxRetain.invoke(ctx, device)));
            return ctx.get(ADDRESS, 0);
        }
    }

    void setCurrent(MemorySegment context) { check("cuCtxSetCurrent", status(() -> cuCtxSetCurrent.invoke(context))); }

    void synchronize() { check("cuCtxSynchronize", status(() -> cuCtxSynchronize.invoke())); }

    /** Free and total device memory in bytes, as the driver sees them now. */
    long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(JAVA_LONG), total = a.allocate(JAVA_LONG);
            check("cuMemGetInfo_v2", status(() -> cuMemGetInfo.invoke(free, total)));
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        }
    }

    long memAlloc(long bytes) {
        return longResult("cuMemAlloc_v2", cell -> status(() -> cuMemAlloc.invoke(cell, bytes)));
    }

    void memFree(long pointer) { check("cuMemFree_v2", status(() -> cuMemFree.invoke(pointer))); }

    /** Page-locked host memory of {@code bytes}, which the GPU's copy engines read and write directly. */
    MemorySegment memAllocHost(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cell = NativeLibrary.pointerCell(a);
            check("cuMemAllocHost_v2", status(() -> cuMemAllocHost.invoke(cell, bytes)));
            return cell.get(ADDRESS, 0).reinterpret(bytes);
        }
    }

    void memFreeHost(MemorySegment host) { check("cuMemFreeHost", status(() -> cuMemFreeHost.invoke(host))); }

    void copyHostToDevice(long dst, MemorySegment src, long bytes) {
        check("cuMemcpyHtoD_v2", status(() -> cuMemcpyHtoD.invoke(dst, src, bytes)));
    }

    void copyDeviceToHost(MemorySegment dst, long src, long bytes) {
        check("cuMemcpyDtoH_v2", status(() -> cuMemcpyDtoH.invoke(dst, src, bytes)));
    }

    void copyDeviceToDevice(long dst, long src, long bytes) {
        check("cuMemcpyDtoD_v2", status(() -> cuMemcpyDtoD.invoke(dst, src, bytes)));
    }

    /**
     * Starts copying {@code bytes} from page-locked host memory to {@code dst} in the default stream and returns
     * at once: {@code src} must not change until an event recorded after it has completed.
     */
    void copyHostToDeviceAsync(long dst, MemorySegment src, long bytes) {
        check("cuMemcpyHtoDAsync_v2", status(() -> cuMemcpyHtoDAsync.invoke(dst, src, bytes, MemorySegment.NULL)));
    }

    /** Starts copying {@code bytes} at {@code src} into page-locked host memory; read it after an event completes. */
    void copyDeviceToHostAsync(MemorySegment dst, long src, long bytes) {
        check("cuMemcpyDtoHAsync_v2", status(() -> cuMemcpyDtoHAsync.invoke(dst, src, bytes, MemorySegment.NULL)));
    }

    /** An event without timing (CU_EVENT_DISABLE_TIMING), for waiting on work in the stream. */
    MemorySegment createEvent() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cell = NativeLibrary.pointerCell(a);
            check("cuEventCreate", status(() -> cuEventCreate.invoke(cell, 0x2)));
            return cell.get(ADDRESS, 0);
        }
    }

    /** Marks the current end of the default stream's work with {@code event}. */
    void recordEvent(MemorySegment event) {
        check("cuEventRecord", status(() -> cuEventRecord.invoke(event, MemorySegment.NULL)));
    }

    /** Waits until the work before {@code event}'s last record has finished. */
    void synchronizeEvent(MemorySegment event) {
        check("cuEventSynchronize", status(() -> cuEventSynchronize.invoke(event)));
    }

    /** Sets {@code count} 32-bit words at {@code dst} to {@code value}. */
    void memsetD32(long dst, int value, long count) {
        check("cuMemsetD32_v2", status(() -> cuMemsetD32.invoke(dst, value, count)));
    }

    /** Loads a module from a NUL-terminated PTX image. */
    MemorySegment loadModule(MemorySegment image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment module = NativeLibrary.pointerCell(a);
            check("cuModuleLoadData", status(() -> cuModuleLoadData.invoke(module, image)));
            return module.get(ADDRESS, 0);
        }
    }

    MemorySegment function(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fn = NativeLibrary.pointerCell(a);
            int r = status(() -> cuModuleGetFunction.invoke(fn, module, a.allocateFrom(name)));
            if (r != 0) throw new CudaException("cuModuleGetFunction", r, errorName(r), "kernel " + name);
            return fn.get(ADDRESS, 0);
        }
    }

    /**
     * Launches {@code function} on a 1-D grid in the default stream; {@code params} is the {@code void**}
     * array of pointers to each argument's value.
     */
    void launch(String name, MemorySegment function, int gridX, int blockX, int sharedBytes, MemorySegment params) {
        int r = status(() -> cuLaunchKernel.invoke(function, gridX, 1, 1, blockX, 1, 1, sharedBytes, MemorySegment.NULL,
                params, MemorySegment.NULL));
        if (r != 0) throw new CudaException("cuLaunchKernel", r, errorName(r), "kernel " + name);
    }

    @FunctionalInterface
    private interface CellCall {
        int run(MemorySegment cell);
    }

    private int intResult(String call, CellCall c) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cell = a.allocate(JAVA_INT);
            check(call, c.run(cell));
            return cell.get(JAVA_INT, 0);
        }
    }

    private long longResult(String call, CellCall c) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cell = a.allocate(JAVA_LONG);
            check(call, c.run(cell));
            return cell.get(JAVA_LONG, 0);
        }
    }
}
