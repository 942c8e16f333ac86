package jlisa.gpu;

/**
 * A CUDA, cuBLAS or NVRTC call that returned an error: the message names the call and the result
 * (e.g. {@code cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)}).
 *
 * <p>Immutable, like every exception; safe to pass between threads.
 */
public final class CudaException extends IllegalStateException {
    private final String call;
    private final int code;
    private final String codeName;

    CudaException(String call, int code, String codeName, String detail) {
        super(call + " failed: " + codeName + " (" + code + ")" + (detail == null || detail.isEmpty() ? "" : ": " + detail));
        this.call = call;
        this.code = code;
        this.codeName = codeName;
    }

    /** The function that failed, as the library exports it. */
    public String call() { return call; }

    /** The numeric result (CUresult, cublasStatus_t or nvrtcResult). */
    public int code() { return code; }

    /** The result's name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public String codeName() { return codeName; }

    /** True when the device ran out of memory (the caching allocator then frees its cache and tries once more). */
    public boolean isOutOfMemory() { return codeName.equals("CUDA_ERROR_OUT_OF_MEMORY"); }
}
