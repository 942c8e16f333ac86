package jlisa.gpu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The fake CUDA library of {@code src/test/native} (driver API, cuBLAS and NVRTC in one file), built once
 * per test run with g++ against the real cuda.h and jlisa's own kernel source, so that the whole GPU path —
 * every FFM binding, argument layout, transfer, cuBLAS operand mapping and kernel — runs where there is no
 * GPU. Tests that need it skip themselves when g++ or cuda.h is missing.
 */
final class FakeCuda {
    private FakeCuda() {}

    private static Path library;
    private static String unavailable;
    private static CudaDevice device;
    private static MethodHandle count, failNext;

    /** The built library, or a skipped test when it cannot be built here. */
    static synchronized Path library() {
        if (library == null && unavailable == null) build();
        assumeTrue(library != null, () -> "fake CUDA library not built: " + unavailable);
        return library;
    }

    /** One device over the fake library, shared by the tests of this JVM. */
    static synchronized CudaDevice device() {
        if (device == null) {
            List<CudaLibraries.Candidate> fake = List.of(new CudaLibraries.Candidate(library().toString(), "fake for tests"));
            Cuda.Availability a = Cuda.open(fake, fake, fake);
            if (a instanceof Cuda.Unavailable u) throw new AssertionError("the fake device did not open: " + u.reason());
            device = ((Cuda.Available) a).device();
        }
        return device;
    }

    /** How many times the fake's function {@code name} was called so far. */
    static long count(String name) {
        try (Arena a = Arena.ofConfined()) {
            return (long) handles()[0].invoke(a.allocateFrom(name));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Makes the next call of {@code name} return {@code code}. */
    static void failNext(String name, int code) {
        try (Arena a = Arena.ofConfined()) {
            handles()[1].invoke(a.allocateFrom(name), code);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static synchronized MethodHandle[] handles() {
        if (count == null) {
            SymbolLookup lib = SymbolLookup.libraryLookup(library().toString(), Arena.global());
            Linker linker = Linker.nativeLinker();
            count = linker.downcallHandle(lib.find("fake_cuda_count").orElseThrow(), FunctionDescriptor.of(JAVA_LONG, ADDRESS));
            failNext = linker.downcallHandle(lib.find("fake_cuda_fail_next").orElseThrow(),
                    FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));
        }
        return new MethodHandle[] {count, failNext};
    }

    /** The folder holding cuda.h, or null. */
    static Path cudaInclude() {
        List<Path> places = new ArrayList<>();
        String home = System.getenv("CUDA_HOME");
        if (home != null) places.add(Path.of(home, "include"));
        places.add(Path.of("/usr/local/cuda/include"));
        for (Path p : places) if (Files.isRegularFile(p.resolve("cuda.h"))) return p;
        return null;
    }

    private static void build() {
        Path include = cudaInclude();
        if (include == null) {
            unavailable = "no cuda.h (set CUDA_HOME or install the CUDA toolkit headers)";
            return;
        }
        try {
            Path dir = Files.createTempDirectory("jlisa-fake-cuda");
            Path sources = Path.of("src/test/native").toAbsolutePath();
            Files.writeString(dir.resolve("jlisa_kernels.cu"), CudaKernels.SOURCE);
            StringBuilder registry = new StringBuilder("""
                    #include "cuda_shim.h"
                    #include "jlisa_kernels.cu"
                    #include "fake_kernels.h"
                    const FakeKernel fake_kernels[] = {
                    """);
            for (String entry : CudaKernels.ENTRIES) registry.append("    FAKE_KERNEL(").append(entry).append("),\n");
            registry.append("};\nconst int fake_kernel_count = ").append(CudaKernels.ENTRIES.size()).append(";\n");
            Files.writeString(dir.resolve("registry.cpp"), registry);
            Path out = dir.resolve("libjlisa_fake_cuda.so");
            Process p = new ProcessBuilder("g++", "-std=c++20", "-O1", "-ffp-contract=off", "-fPIC", "-shared",
                    "-Wall", "-Werror", "-Wno-deprecated-declarations",
                    "-I" + include, "-I" + sources, "-I" + dir,
                    sources.resolve("fake_cuda.cpp").toString(), dir.resolve("registry.cpp").toString(),
                    "-o", out.toString(), "-lpthread").redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError("building the fake CUDA library failed:\n" + log);
            }
            library = out;
        } catch (IOException e) {
            unavailable = "g++ could not run: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            unavailable = "interrupted";
        }
    }
}
