package jlisa.gpu;

import java.util.List;
import java.util.stream.Stream;

/**
 * The CUDA C kernels jlisa compiles with NVRTC when a device opens. Compiled with {@code --fmad=false}
 * (no multiply-add contraction) and IEEE division and square root, NVRTC's defaults, so that AdamW
 * computes each element with the same roundings as the CPU kernel ({@code jlisa.optim.AdamW.update}).
 * Every kernel is a 1-D grid-stride loop; {@link #BLOCK} threads per block.
 */
final class CudaKernels {
    private CudaKernels() {}

    /** Threads per block for every kernel (the reduction's shared array is this long). */
    static final int BLOCK = 256;

    static final String ADAMW = "adamw_f32";
    static final String ADAMW_X4 = "adamw_f32x4";
    static final String SUM_SQUARES = "sum_squares_f32";
    static final String SCALE = "scale_f32";
    static final String TO_BF16 = "f32_to_bf16";

    /** Every entry point, as it appears in the PTX. */
    static final List<String> ENTRIES = java.util.stream.Stream.concat(Stream.of(ADAMW, ADAMW_X4, SUM_SQUARES, SCALE, TO_BF16),
            ResidentKernelSource.ENTRIES.stream()).toList();

    /** Options for NVRTC; {@code compute} is the compute capability, e.g. 90. */
    static List<String> options(int compute) {
        return List.of("--gpu-architecture=compute_" + compute, "--fmad=false");
    }

    static final String SOURCE = """
            // jlisa kernels (compiled at run time by NVRTC; see jlisa.gpu.CudaKernels)

            // One AdamW element, in the CPU kernel's order of operations:
            //   m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g;
            //   p = p*decay - m / (sqrt(v)/bc2Sqrt + eps) * stepSize
            __device__ __forceinline__ void adamw_one(float& p, float g, float& m, float& v,
                    float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2, float eps,
                    float decay, float stepSize, float bc2Sqrt) {
                float mi = m * beta1 + g * oneMinusBeta1;
                float vi = v * beta2 + g * g * oneMinusBeta2;
                m = mi;
                v = vi;
                float denom = sqrtf(vi) / bc2Sqrt + eps;
                p = p * decay - mi / denom * stepSize;
            }

            extern "C" __global__ void adamw_f32(float* __restrict__ p, const float* __restrict__ g,
                    float* __restrict__ m, float* __restrict__ v, long long n,
                    float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2, float eps,
                    float decay, float stepSize, float bc2Sqrt) {
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    float pi = p[i], mi = m[i], vi = v[i];
                    adamw_one(pi, g[i], mi, vi, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, decay, stepSize, bc2Sqrt);
                    p[i] = pi;
                    m[i] = mi;
                    v[i] = vi;
                }
            }

            // The same over float4 groups (all four arrays 16-byte aligned); block 0 also does the n % 4 tail.
            extern "C" __global__ void adamw_f32x4(float* __restrict__ p, const float* __restrict__ g,
                    float* __restrict__ m, float* __restrict__ v, long long n,
                    float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2, float eps,
                    float decay, float stepSize, float bc2Sqrt) {
                long long groups = n / 4;
                long long stride = (long long) blockDim.x * gridDim.x;
                float4* p4 = reinterpret_cast<float4*>(p);
                const float4* g4 = reinterpret_cast<const float4*>(g);
                float4* m4 = reinterpret_cast<float4*>(m);
                float4* v4 = reinterpret_cast<float4*>(v);
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < groups; i += stride) {
                    float4 pi = p4[i], gi = g4[i], mi = m4[i], vi = v4[i];
                    adamw_one(pi.x, gi.x, mi.x, vi.x, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, decay, stepSize, bc2Sqrt);
                    adamw_one(pi.y, gi.y, mi.y, vi.y, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, decay, stepSize, bc2Sqrt);
                    adamw_one(pi.z, gi.z, mi.z, vi.z, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, decay, stepSize, bc2Sqrt);
                    adamw_one(pi.w, gi.w, mi.w, vi.w, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, decay, stepSize, bc2Sqrt);
                    p4[i] = pi;
                    m4[i] = mi;
                    v4[i] = vi;
                }
                long long t = groups * 4 + threadIdx.x;
                if (blockIdx.x == 0 && t < n) {
                    float pi = p[t], mi = m[t], vi = v[t];
                    adamw_one(pi, g[t], mi, vi, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, decay, stepSize, bc2Sqrt);
                    p[t] = pi;
                    m[t] = mi;
                    v[t] = vi;
                }
            }

            // Per-block partial sums of x*x in double; the host adds the partials in block order (deterministic).
            // blockDim.x must be 256.
            extern "C" __global__ void sum_squares_f32(const float* __restrict__ x, long long n,
                    double* __restrict__ partial) {
                __shared__ double cache[256];
                double s = 0;
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    double xi = x[i];
                    s += xi * xi;
                }
                cache[threadIdx.x] = s;
                __syncthreads();
                for (unsigned int half = blockDim.x / 2; half > 0; half /= 2) {
                    if (threadIdx.x < half) cache[threadIdx.x] += cache[threadIdx.x + half];
                    __syncthreads();
                }
                if (threadIdx.x == 0) partial[blockIdx.x] = cache[0];
            }

            extern "C" __global__ void scale_f32(float* __restrict__ x, long long n, float factor) {
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) x[i] = x[i] * factor;
            }

            // float32 to bfloat16 bits, rounding to nearest even; NaN stays NaN (as jlisa.tensor.DType.floatToBf16).
            extern "C" __global__ void f32_to_bf16(const float* __restrict__ in, unsigned short* __restrict__ out,
                    long long n) {
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    unsigned int bits = __float_as_uint(in[i]);
                    if ((bits & 0x7fffffffu) > 0x7f800000u) {
                        out[i] = (unsigned short) ((bits >> 16) | 0x40u);
                    } else {
                        out[i] = (unsigned short) ((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
                    }
                }
            }
            """ + ResidentKernelSource.SOURCE;
}
