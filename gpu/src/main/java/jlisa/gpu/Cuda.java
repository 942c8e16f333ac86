package jlisa.gpu;

import java.lang.foreign.Arena;
import java.util.List;

import jlisa.gpu.CudaLibraries.Candidate;
import jlisa.gpu.CudaLibraries.Library;

/**
 * The way in: finds the libraries ({@link CudaLibraries}), opens device 0 the first time something asks,
 * and remembers the outcome — a device, or the reason there is none — for the rest of the process, so
 * the reason is worked out (and reported) once.
 *
 * <p>Thread-safe: the outcome is worked out once, under a lock, and shared.
 */
public final class Cuda {
    private static Availability availability;

    private Cuda() {}

    /** What the search for a GPU found. */
    public sealed interface Availability permits Available, Unavailable {}

    /** A device that opened, with its kernels compiled. */
    public record Available(CudaDevice device) implements Availability {}

    /** Why there is no device: a missing library, no driver, no device, a failed call (naming it). */
    public record Unavailable(String reason) implements Availability {}

    /** This process's device, or why there is none; searched and opened on the first call only. */
    public static synchronized Availability availability() {
        if (availability == null) {
            availability = open(CudaLibraries.candidates(Library.DRIVER), CudaLibraries.candidates(Library.CUBLAS),
                    CudaLibraries.candidates(Library.NVRTC));
        }
        return availability;
    }

    /**
     * Opens device 0 with the first of each list of candidates that loads (not remembered: for tests and for
     * trying other libraries). Loaded libraries stay loaded for the life of the process.
     */
    public static Availability open(List<Candidate> driver, List<Candidate> cublas, List<Candidate> nvrtc) {
        Arena forever = Arena.global();
        try {
            CudaLibraries.Opened d = CudaLibraries.open(Library.DRIVER, driver, forever);
            CudaLibraries.Opened b = CudaLibraries.open(Library.CUBLAS, cublas, forever);
            CudaLibraries.Opened r = CudaLibraries.open(Library.NVRTC, nvrtc, forever);
            return new Available(CudaDevice.open(d, b, r, 0));
        } catch (IllegalStateException e) {   // CudaException included: it names the call that failed
            return new Unavailable(e.getMessage());
        }
    }

    /** This process's device; throws IllegalStateException with the reason when there is none. */
    public static CudaDevice device() {
        return switch (availability()) {
            case Available a -> a.device();
            case Unavailable u -> throw new IllegalStateException("no usable CUDA GPU: " + u.reason());
        };
    }

    /** A backend over this process's device, computing products in {@code precision}. */
    public static CudaBackend backend(Precision precision) {
        return new CudaBackend(device(), precision, CudaBackend.DEFAULT_MIN_FLOPS);
    }
}
