package jlisa.gpu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static jlisa.gpu.NativeLibrary.status;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The cuBLAS calls jlisa makes ({@code libcublas.so.*}), each status checked. cuBLAS is column-major;
 * {@link CudaBackend} maps row-major products onto it. Scalars (alpha, beta) are passed by host pointer,
 * the handle's default pointer mode; matrices are device pointers (64-bit integers).
 */
final class Cublas {
    // cublasOperation_t
    static final int OP_N = 0, OP_T = 1;
    // cublasMath_t
    static final int DEFAULT_MATH = 0, TF32_TENSOR_OP_MATH = 3;
    // cudaDataType (library_types.h)
    static final int CUDA_R_32F = 0, CUDA_R_16BF = 14;
    // cublasComputeType_t
    static final int COMPUTE_32F = 68;
    // cublasGemmAlgo_t
    static final int GEMM_DEFAULT = -1;

    final String location;
    private final MethodHandle create, setMathMode, getVersion, sgemm, sgemmStridedBatched, gemmEx, gemmStridedBatchedEx;
    private final Optional<MethodHandle> statusName;

    Cublas(NativeLibrary lib) {
        location = lib.location;
        create = lib.function("cublasCreate_v2", JAVA_INT, ADDRESS);
        setMathMode = lib.function("cublasSetMathMode", JAVA_INT, ADDRESS, JAVA_INT);
        getVersion = lib.function("cublasGetVersion_v2", JAVA_INT, ADDRESS, ADDRESS);
        sgemm = lib.function("cublasSgemm_v2", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
        sgemmStridedBatched = lib.function("cublasSgemmStridedBatched", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS,
                JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT);
        gemmEx = lib.function("cublasGemmEx", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT);
        gemmStridedBatchedEx = lib.function("cublasGemmStridedBatchedEx", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT);
        statusName = lib.optionalFunction("cublasGetStatusName", ADDRESS, JAVA_INT);
    }

    /** Throws a {@link CudaException} naming {@code call} and the cublasStatus_t unless it is CUBLAS_STATUS_SUCCESS. */
    void check(String call, int status) {
        if (status != 0) throw new CudaException(call, status, statusName(status), null);
    }

    String statusName(int status) {
        String name = statusName.map(h -> NativeLibrary.string(NativeLibrary.pointer(() -> h.invoke(status)))).orElse(null);
        if (name != null) return name;
        return switch (status) {   // cublas_api.h, for libraries without cublasGetStatusName
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "cublasStatus_t " + status;
        };
    }

    /** A new handle, bound to the current context; its stream is the default (legacy) stream. */
    MemorySegment create() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cell = NativeLibrary.pointerCell(a);
            check("cublasCreate_v2", status(() -> create.invoke(cell)));
            return cell.get(ADDRESS, 0);
        }
    }

    /** cuBLAS's version as major·10000 + minor·100 + patch. */
    int version(MemorySegment handle) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cell = a.allocate(JAVA_INT);
            check("cublasGetVersion_v2", status(() -> getVersion.invoke(handle, cell)));
            return cell.get(JAVA_INT, 0);
        }
    }

    void setMathMode(MemorySegment handle, int mode) {
        check("cublasSetMathMode", status(() -> setMathMode.invoke(handle, mode)));
    }

    /** Column-major {@code C = alpha·op(A)·op(B) + beta·C}, float32 (math mode decides whether TF32 may be used). */
    void sgemm(MemorySegment handle, int transA, int transB, int m, int n, int k, float alpha, long a, int lda,
               long b, int ldb, float beta, long c, int ldc) {
        try (Arena s = Arena.ofConfined()) {
            MemorySegment al = s.allocateFrom(JAVA_FLOAT, alpha), be = s.allocateFrom(JAVA_FLOAT, beta);
            check("cublasSgemm_v2", status(() -> sgemm.invoke(handle, transA, transB, m, n, k, al, a, lda, b, ldb, be, c, ldc)));
        }
    }

    /** {@link #sgemm} over {@code batch} matrices {@code stride} elements apart (a stride may be 0: broadcast). */
    void sgemmStridedBatched(MemorySegment handle, int transA, int transB, int m, int n, int k, float alpha,
                             long a, int lda, long strideA, long b, int ldb, long strideB, float beta,
                             long c, int ldc, long strideC, int batch) {
        try (Arena s = Arena.ofConfined()) {
            MemorySegment al = s.allocateFrom(JAVA_FLOAT, alpha), be = s.allocateFrom(JAVA_FLOAT, beta);
            check("cublasSgemmStridedBatched", status(() -> sgemmStridedBatched.invoke(handle, transA, transB, m, n, k, al,
                    a, lda, strideA, b, ldb, strideB, be, c, ldc, strideC, batch)));
        }
    }

    /** Column-major GEMM with typed inputs (here bf16 A and B, float32 C), computed in float32. */
    void gemmEx(MemorySegment handle, int transA, int transB, int m, int n, int k, float alpha, long a, int aType, int lda,
                long b, int bType, int ldb, float beta, long c, int cType, int ldc, int computeType) {
        try (Arena s = Arena.ofConfined()) {
            MemorySegment al = s.allocateFrom(JAVA_FLOAT, alpha), be = s.allocateFrom(JAVA_FLOAT, beta);
            check("cublasGemmEx", status(() -> gemmEx.invoke(handle, transA, transB, m, n, k, al, a, aType, lda, b, bType, ldb,
                    be, c, cType, ldc, computeType, GEMM_DEFAULT)));
        }
    }

    /** {@link #gemmEx} over {@code batch} matrices {@code stride} elements apart. */
    void gemmStridedBatchedEx(MemorySegment handle, int transA, int transB, int m, int n, int k, float alpha,
                              long a, int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
                              float beta, long c, int cType, int ldc, long strideC, int batch, int computeType) {
        try (Arena s = Arena.ofConfined()) {
            MemorySegment al = s.allocateFrom(JAVA_FLOAT, alpha), be = s.allocateFrom(JAVA_FLOAT, beta);
            check("cublasGemmStridedBatchedEx", status(() -> gemmStridedBatchedEx.invoke(handle, transA, transB, m, n, k, al,
                    a, aType, lda, strideA, b, bType, ldb, strideB, be, c, cType, ldc, strideC, batch, computeType,
                    GEMM_DEFAULT)));
        }
    }
}
