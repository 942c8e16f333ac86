package jlisa.gpu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static jlisa.gpu.NativeLibrary.status;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Optional;

/** NVRTC ({@code libnvrtc.so.*}): CUDA C compiled to PTX at run time, each result checked. */
final class Nvrtc {
    final String location;
    private final MethodHandle version, createProgram, compileProgram, getPtxSize, getPtx, getLogSize, getLog,
            destroyProgram, errorString;
    private final Optional<MethodHandle> numSupportedArchs, supportedArchs;

    Nvrtc(NativeLibrary lib) {
        location = lib.location;
        version = lib.function("nvrtcVersion", JAVA_INT, ADDRESS, ADDRESS);
        createProgram = lib.function("nvrtcCreateProgram", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        compileProgram = lib.function("nvrtcCompileProgram", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        getPtxSize = lib.function("nvrtcGetPTXSize", JAVA_INT, ADDRESS, ADDRESS);
        getPtx = lib.function("nvrtcGetPTX", JAVA_INT, ADDRESS, ADDRESS);
        getLogSize = lib.function("nvrtcGetProgramLogSize", JAVA_INT, ADDRESS, ADDRESS);
        getLog = lib.function("nvrtcGetProgramLog", JAVA_INT, ADDRESS, ADDRESS);
        destroyProgram = lib.function("nvrtcDestroyProgram", JAVA_INT, ADDRESS);
        errorString = lib.function("nvrtcGetErrorString", ADDRESS, JAVA_INT);
        numSupportedArchs = lib.optionalFunction("nvrtcGetNumSupportedArchs", JAVA_INT, ADDRESS);
        supportedArchs = lib.optionalFunction("nvrtcGetSupportedArchs", JAVA_INT, ADDRESS);
    }

    void check(String call, int result, String detail) {
        if (result != 0) {
            String name = NativeLibrary.string(NativeLibrary.pointer(() -> errorString.invoke(result)));
            throw new CudaException(call, result, name == null ? "nvrtcResult " + result : name, detail);
        }
    }

    /** NVRTC's version as {major, minor}. */
    int[] version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(JAVA_INT), minor = a.allocate(JAVA_INT);
            check("nvrtcVersion", status(() -> version.invoke(major, minor)), null);
            return new int[] {major.get(JAVA_INT, 0), minor.get(JAVA_INT, 0)};
        }
    }

    /** The compute capabilities (e.g. 90) this NVRTC can compile for, or an empty array when it cannot say. */
    int[] supportedArchitectures() {
        if (numSupportedArchs.isEmpty() || supportedArchs.isEmpty()) return new int[0];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(JAVA_INT);
            check("nvrtcGetNumSupportedArchs", status(() -> numSupportedArchs.get().invoke(count)), null);
            MemorySegment archs = a.allocate(JAVA_INT, Math.max(1, count.get(JAVA_INT, 0)));
            check("nvrtcGetSupportedArchs", status(() -> supportedArchs.get().invoke(archs)), null);
            return archs.asSlice(0, 4L * count.get(JAVA_INT, 0)).toArray(JAVA_INT);
        }
    }

    /**
     * Compiles CUDA C {@code source} to PTX (returned NUL-terminated, ready for cuModuleLoadData); a failure
     * carries the compiler's log.
     */
    MemorySegment compile(String source, String name, List<String> options, Arena arena) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cell = NativeLibrary.pointerCell(a);
            check("nvrtcCreateProgram", status(() -> createProgram.invoke(cell, a.allocateFrom(source), a.allocateFrom(name), 0,
                    MemorySegment.NULL, MemorySegment.NULL)), name);
            MemorySegment program = cell.get(ADDRESS, 0);
            try {
                MemorySegment opts = a.allocate(ADDRESS, Math.max(1, options.size()));
                for (int i = 0; i < options.size(); i++) opts.setAtIndex(ADDRESS, i, a.allocateFrom(options.get(i)));
                int compiled = status(() -> compileProgram.invoke(program, options.size(), opts));
                if (compiled != 0) check("nvrtcCompileProgram", compiled, name + " with " + options + ":\n" + log(program, a));
                MemorySegment size = a.allocate(JAVA_LONG);
                check("nvrtcGetPTXSize", status(() -> getPtxSize.invoke(program, size)), name);
                MemorySegment ptx = arena.allocate(size.get(JAVA_LONG, 0) + 1);   // the size includes the NUL; one more is harmless
                check("nvrtcGetPTX", status(() -> getPtx.invoke(program, ptx)), name);
                return ptx;
            } finally {
                check("nvrtcDestroyProgram", status(() -> destroyProgram.invoke(cell)), name);
            }
        }
    }

    private String log(MemorySegment program, Arena a) {
        MemorySegment size = a.allocate(JAVA_LONG);
        if (status(() -> getLogSize.invoke(program, size)) != 0) return "(no log)";
        MemorySegment log = a.allocate(size.get(JAVA_LONG, 0) + 1);
        if (status(() -> getLog.invoke(program, log)) != 0) return "(no log)";
        return log.getString(0).strip();
    }
}
