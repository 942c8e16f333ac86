package jlisa.gpu;

import java.util.List;

/**
 * The CUDA C kernels of device-resident training ({@link ResidentOps}): copies and elementwise maps over strided
 * views, reductions, LayerNorm, GELU, embedding, the cross-entropy of the fused LM head and attention's softmax
 * steps, forward and backward side by side as the CPU kernels in {@code jlisa.tensor.kernels} are. Compiled with
 * the rest of {@link CudaKernels#SOURCE}; {@link CudaKernels#BLOCK} (256) threads per block.
 *
 * <p>Reductions use shared memory and a fixed tree (no atomics, no warp shuffles), so every result is the same on
 * every run. Column sums (bias and norm-weight gradients) add rows in fixed parts, then the parts in order (the CPU
 * adds rows in row order: the same terms, another association); the embedding's scatter-add follows the ids in order.
 * Strided operands are described by up to {@value #RANK} sizes and strides passed by value (dims collapsed first).
 */
final class ResidentKernelSource {
    private ResidentKernelSource() {}

    /** The most dims a strided kernel takes (after collapsing). */
    static final int RANK = 6;

    static final String COPY = "copy_strided_f32";
    static final String BINARY = "binary_strided_f32";
    static final String BINARY_CONTIGUOUS = "binary_contiguous_f32";
    static final String UNARY = "unary_f32";
    static final String SUM_ROWS = "sum_rows_f32";
    static final String SUM_COLUMNS = "sum_columns_f32";
    static final String LAYERNORM = "layernorm_forward_f32";
    static final String LAYERNORM_DX = "layernorm_backward_dx_f32";
    static final String SUM_COLUMNS_PARTIAL = "sum_columns_partial_f32";
    static final String NORMALIZED_PRODUCT = "normalized_product_f32";
    static final String GELU = "gelu_tanh_forward_f32";
    static final String GELU_BACKWARD = "gelu_tanh_backward_f32";
    static final String EMBEDDING = "embedding_forward_f32";
    static final String EMBEDDING_BACKWARD = "embedding_backward_f32";
    static final String CROSS_ENTROPY = "cross_entropy_rows_f32";
    static final String ATTENTION_SOFTMAX = "attention_softmax_forward_f32";
    static final String ATTENTION_SOFTMAX_BACKWARD = "attention_softmax_backward_f32";
    static final String RMSNORM = "rmsnorm_forward_f32";
    static final String RMSNORM_DX = "rmsnorm_backward_dx_f32";
    static final String SILU = "silu_forward_f32";
    static final String SILU_BACKWARD = "silu_backward_f32";
    static final String ROPE = "rope_f32";

    static final List<String> ENTRIES = List.of(COPY, BINARY, BINARY_CONTIGUOUS, UNARY, SUM_ROWS, SUM_COLUMNS, LAYERNORM,
            LAYERNORM_DX, SUM_COLUMNS_PARTIAL, NORMALIZED_PRODUCT, GELU, GELU_BACKWARD, EMBEDDING, EMBEDDING_BACKWARD, CROSS_ENTROPY,
            ATTENTION_SOFTMAX, ATTENTION_SOFTMAX_BACKWARD, RMSNORM, RMSNORM_DX, SILU, SILU_BACKWARD, ROPE);

    /** The kernels; unary and binary op codes are the ordinals of {@code Elementwise.Unary} and {@code Elementwise.Binary}. */
    static final String SOURCE = """

            // ============================================================ device-resident training (ResidentOps)

            // Offset of element i (row-major over sizes s0..s5) in a view with strides t0..t5. Sizes of 1 (the padding
            // in front) cost no division; I is unsigned int when the element count allows (much cheaper than 64-bit).
            template <typename I>
            __device__ __forceinline__ long long strided_offset(I i, int s0, int s1, int s2, int s3, int s4, int s5,
                    long long t0, long long t1, long long t2, long long t3, long long t4, long long t5) {
                long long o = 0;
                I q;
                if (s5 != 1) { q = i / (I) s5; o += (long long) (i - q * (I) s5) * t5; i = q; }
                if (s4 != 1) { q = i / (I) s4; o += (long long) (i - q * (I) s4) * t4; i = q; }
                if (s3 != 1) { q = i / (I) s3; o += (long long) (i - q * (I) s3) * t3; i = q; }
                if (s2 != 1) { q = i / (I) s2; o += (long long) (i - q * (I) s2) * t2; i = q; }
                if (s1 != 1) { q = i / (I) s1; o += (long long) (i - q * (I) s1) * t1; i = q; }
                o += (long long) i * t0;
                return o;
            }

            // dst[view] = src[view], both strided (src may broadcast: stride 0).
            extern "C" __global__ void copy_strided_f32(long long n, int s0, int s1, int s2, int s3, int s4, int s5,
                    float* __restrict__ dst, long long d0, long long d1, long long d2, long long d3, long long d4, long long d5,
                    const float* __restrict__ src, long long r0, long long r1, long long r2, long long r3, long long r4,
                    long long r5) {
                long long stride = (long long) blockDim.x * gridDim.x;
                if (n <= 0xffffffffLL) {
                    for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < (unsigned int) n; i += (unsigned int) stride) {
                        dst[strided_offset<unsigned int>(i, s0, s1, s2, s3, s4, s5, d0, d1, d2, d3, d4, d5)] =
                                src[strided_offset<unsigned int>(i, s0, s1, s2, s3, s4, s5, r0, r1, r2, r3, r4, r5)];
                        if ((unsigned long long) i + (unsigned long long) stride >= (unsigned long long) n) break;
                    }
                    return;
                }
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    dst[strided_offset<long long>(i, s0, s1, s2, s3, s4, s5, d0, d1, d2, d3, d4, d5)] =
                            src[strided_offset<long long>(i, s0, s1, s2, s3, s4, s5, r0, r1, r2, r3, r4, r5)];
                }
            }

            // Elementwise.Binary: 0 ADD, 1 SUB, 2 MUL, 3 DIV, 4 MAX, 5 MIN, 6 POW; MAX and MIN propagate NaN.
            __device__ __forceinline__ float binary_op(int op, float a, float b) {
                switch (op) {
                    case 0: return a + b;
                    case 1: return a - b;
                    case 2: return a * b;
                    case 3: return a / b;
                    case 4: return a != a || b != b ? a + b : (a > b ? a : b);
                    case 5: return a != a || b != b ? a + b : (a < b ? a : b);
                    default: return powf(a, b);
                }
            }

            // out (contiguous) = op(a, b), a and b strided views broadcast to out's shape; a scalar operand
            // (aIsScalar / bIsScalar) is the value passed, its pointer unused.
            extern "C" __global__ void binary_strided_f32(int op, long long n, int s0, int s1, int s2, int s3, int s4, int s5,
                    float* out, const float* a, long long a0, long long a1, long long a2, long long a3, long long a4,
                    long long a5, int aIsScalar, float aValue, const float* b, long long b0, long long b1, long long b2,
                    long long b3, long long b4, long long b5, int bIsScalar, float bValue) {
                long long stride = (long long) blockDim.x * gridDim.x;
                if (n <= 0xffffffffLL) {
                    for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < (unsigned int) n; i += (unsigned int) stride) {
                        float x = aIsScalar ? aValue : a[strided_offset<unsigned int>(i, s0, s1, s2, s3, s4, s5, a0, a1, a2, a3, a4, a5)];
                        float y = bIsScalar ? bValue : b[strided_offset<unsigned int>(i, s0, s1, s2, s3, s4, s5, b0, b1, b2, b3, b4, b5)];
                        out[i] = binary_op(op, x, y);
                        if ((unsigned long long) i + (unsigned long long) stride >= (unsigned long long) n) break;
                    }
                    return;
                }
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    float x = aIsScalar ? aValue : a[strided_offset<long long>(i, s0, s1, s2, s3, s4, s5, a0, a1, a2, a3, a4, a5)];
                    float y = bIsScalar ? bValue : b[strided_offset<long long>(i, s0, s1, s2, s3, s4, s5, b0, b1, b2, b3, b4, b5)];
                    out[i] = binary_op(op, x, y);
                }
            }

            // out = op(a, b) over n contiguous elements (out may be a or b).
            extern "C" __global__ void binary_contiguous_f32(int op, long long n, float* out, const float* a, int aIsScalar,
                    float aValue, const float* b, int bIsScalar, float bValue) {
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    out[i] = binary_op(op, aIsScalar ? aValue : a[i], bIsScalar ? bValue : b[i]);
                }
            }

            // Elementwise.Unary: 0 NEG, 1 EXP, 2 LOG, 3 SQRT, 4 RSQRT, 5 ABS, 6 TANH, 7 SIGMOID, 8 RELU, 9 SQUARE,
            // 10 RECIPROCAL, 11 SIGN, 12 STEP.
            extern "C" __global__ void unary_f32(int op, long long n, float* out, const float* x) {
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    float v = x[i], r;
                    switch (op) {
                        case 0: r = -v; break;
                        case 1: r = expf(v); break;
                        case 2: r = logf(v); break;
                        case 3: r = sqrtf(v); break;
                        case 4: r = 1.0f / sqrtf(v); break;
                        case 5: r = fabsf(v); break;
                        case 6: r = tanhf(v); break;
                        case 7: { float e = expf(-fabsf(v)); float s = 1.0f / (e + 1.0f); r = v < 0 ? e * s : s; break; }
                        case 8: r = v > 0 || v != v ? v : 0.0f; break;
                        case 9: r = v * v; break;
                        case 10: r = 1.0f / v; break;
                        case 11: r = v != v ? v : (v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f)); break;
                        default: r = v > 0 ? 1.0f : 0.0f; break;
                    }
                    out[i] = r;
                }
            }

            // Sum of the 256 values of cache[] into cache[0] (a fixed tree); all threads must call it.
            __device__ __forceinline__ float block_sum(float* cache, float v) {
                cache[threadIdx.x] = v;
                __syncthreads();
                for (unsigned int half = blockDim.x / 2; half > 0; half /= 2) {
                    if (threadIdx.x < half) cache[threadIdx.x] += cache[threadIdx.x + half];
                    __syncthreads();
                }
                float r = cache[0];
                __syncthreads();
                return r;
            }

            __device__ __forceinline__ float block_max(float* cache, float v) {
                cache[threadIdx.x] = v;
                __syncthreads();
                for (unsigned int half = blockDim.x / 2; half > 0; half /= 2) {
                    if (threadIdx.x < half) cache[threadIdx.x] = fmaxf(cache[threadIdx.x], cache[threadIdx.x + half]);
                    __syncthreads();
                }
                float r = cache[0];
                __syncthreads();
                return r;
            }

            // out[r] = sum of x[r*inner .. r*inner + inner - 1] / divisor, one block per row.
            extern "C" __global__ void sum_rows_f32(const float* __restrict__ x, float* __restrict__ out, long long rows,
                    long long inner, float divisor) {
                __shared__ float cache[256];
                for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
                    float s = 0;
                    for (long long i = threadIdx.x; i < inner; i += blockDim.x) s += x[r * inner + i];
                    s = block_sum(cache, s);
                    if (threadIdx.x == 0) out[r] = divisor == 1.0f ? s : s / divisor;
                }
            }

            // Column sums in two passes, each in a fixed order: partial[p*cols + c] = sum of x[r*cols + c] over the rows
            // r of part p (chunk rows each, in order); block b takes column tile b % tiles of part b / tiles.
            extern "C" __global__ void sum_columns_partial_f32(const float* __restrict__ x, float* __restrict__ partial,
                    long long rows, long long cols, long long chunk, long long parts) {
                long long tiles = (cols + blockDim.x - 1) / blockDim.x;
                for (long long b = blockIdx.x; b < tiles * parts; b += gridDim.x) {
                    long long p = b / tiles, c = (b - p * tiles) * blockDim.x + threadIdx.x;
                    if (c >= cols) continue;
                    long long r0 = p * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
                    float s = 0;
                    for (long long r = r0; r < r1; r++) s += x[r * cols + c];
                    partial[p * cols + c] = s;
                }
            }

            // out[c] = (sum over parts p, in order, of partial[p*cols + c]) / divisor.
            extern "C" __global__ void sum_columns_f32(const float* __restrict__ partial, float* __restrict__ out,
                    long long parts, long long cols, float divisor) {
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long c = (long long) blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += stride) {
                    float s = 0;
                    for (long long p = 0; p < parts; p++) s += partial[p * cols + c];
                    out[c] = divisor == 1.0f ? s : s / divisor;
                }
            }

            // prod = dout * n, the normalised input n = (x - mean) * rstd (LayerNorm) or x * rstd (RMSNorm: hasMean 0),
            // the terms of the weight gradient's column sums.
            extern "C" __global__ void normalized_product_f32(float* __restrict__ prod, const float* __restrict__ dout,
                    const float* __restrict__ x, const float* __restrict__ mean, int hasMean, const float* __restrict__ rstd,
                    long long rows, int cols) {
                long long total = rows * cols, stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
                    long long r = i / cols;
                    float n = hasMean ? (x[i] - mean[r]) * rstd[r] : x[i] * rstd[r];
                    prod[i] = dout[i] * n;
                }
            }

            // LayerNorm over rows of `cols`: out = (x - mean) * rstd * w + b (w, b optional: hasWeight, hasBias),
            // two-pass mean and variance; one block per row.
            extern "C" __global__ void layernorm_forward_f32(float* __restrict__ out, float* __restrict__ mean,
                    float* __restrict__ rstd, const float* __restrict__ x, const float* __restrict__ w, int hasWeight,
                    const float* __restrict__ b, int hasBias, long long rows, int cols, float eps) {
                __shared__ float cache[256];
                for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
                    const float* xr = x + r * cols;
                    float s = 0;
                    for (int i = threadIdx.x; i < cols; i += blockDim.x) s += xr[i];
                    float m = block_sum(cache, s) / cols;
                    float ss = 0;
                    for (int i = threadIdx.x; i < cols; i += blockDim.x) { float d = xr[i] - m; ss += d * d; }
                    float var = block_sum(cache, ss) / cols;
                    float rs = (float) (1.0 / sqrt((double) var + (double) eps));
                    if (threadIdx.x == 0) { mean[r] = m; rstd[r] = rs; }
                    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
                        float v = (xr[i] - m) * rs;
                        if (hasWeight) v = v * w[i];
                        if (hasBias) v = v + b[i];
                        out[r * cols + i] = v;
                    }
                }
            }

            // dx = rstd * (g - mean(g) - n * mean(g*n)), n = (x - mean) * rstd, g = dout * w; one block per row.
            extern "C" __global__ void layernorm_backward_dx_f32(float* __restrict__ dx, const float* __restrict__ dout,
                    const float* __restrict__ x, const float* __restrict__ w, int hasWeight, const float* __restrict__ mean,
                    const float* __restrict__ rstd, long long rows, int cols) {
                __shared__ float cache[256];
                for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
                    const float* xr = x + r * cols;
                    const float* gr = dout + r * cols;
                    float m = mean[r], s = rstd[r];
                    float sg = 0, sgn = 0;
                    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
                        float n = (xr[i] - m) * s;
                        float g = hasWeight ? gr[i] * w[i] : gr[i];
                        sg += g;
                        sgn += g * n;
                    }
                    float meanG = block_sum(cache, sg) / cols;
                    float meanGN = block_sum(cache, sgn) / cols;
                    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
                        float n = (xr[i] - m) * s;
                        float g = hasWeight ? gr[i] * w[i] : gr[i];
                        dx[r * cols + i] = (g - meanG - n * meanGN) * s;
                    }
                }
            }

            // GELU, tanh approximation, as x * sigmoid(2u), u = sqrt(2/pi) * (x + 0.044715 x^3) (the CPU's form).
            extern "C" __global__ void gelu_tanh_forward_f32(float* __restrict__ out, const float* __restrict__ x, long long n) {
                const float K = 0.7978845608028654f, C = 0.044715f;
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    float v = x[i];
                    float u = (v * v * v * C + v) * K;
                    out[i] = v / (expf(u * -2.0f) + 1.0f);
                }
            }

            extern "C" __global__ void gelu_tanh_backward_f32(float* __restrict__ dx, const float* __restrict__ x,
                    const float* __restrict__ dout, long long n) {
                const float K = 0.7978845608028654f, C = 0.044715f, C3 = 3 * 0.044715f;
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    float v = x[i];
                    float v2 = v * v;
                    float u = (v2 * v * C + v) * K;
                    float s = 1.0f / (expf(u * -2.0f) + 1.0f);
                    float local = s + v * 2.0f * s * (1.0f - s) * K * (v2 * C3 + 1.0f);
                    dx[i] = local * dout[i];
                }
            }

            // out[i, c] = weight[ids[i], c].
            extern "C" __global__ void embedding_forward_f32(float* __restrict__ out, const float* __restrict__ weight,
                    const int* __restrict__ ids, long long n, int C) {
                long long total = n * C, stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
                    long long row = i / C;
                    int c = (int) (i - row * C);
                    out[i] = weight[(long long) ids[row] * C + c];
                }
            }

            // The embedding's weight gradient, ids grouped by the host: for each distinct id u (ids[u]), the positions
            // where it occurs are at[start[u] .. start[u+1]), in order; dweight[id, c] = sum of dout[position, c] over them
            // in that order (the CPU's order: the same bits), each (id, c) written by one thread, no atomics. Rows of
            // ids that do not occur are left as they are (zeros).
            extern "C" __global__ void embedding_backward_f32(float* __restrict__ dweight, const float* __restrict__ dout,
                    const int* __restrict__ groups, long long distinct, int C) {
                const int* ids = groups;
                const int* start = groups + distinct;
                const int* at = start + distinct + 1;
                long long total = distinct * C, stride = (long long) blockDim.x * gridDim.x;
                for (long long e = (long long) blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
                    long long u = e / C;
                    int c = (int) (e - u * C);
                    float s = 0;
                    for (int k = start[u]; k < start[u + 1]; k++) s += dout[(long long) at[k] * C + c];
                    dweight[(long long) ids[u] * C + c] = s;
                }
            }

            // Cross-entropy rows of the fused LM head: rowLoss[r] = logsumexp(x_r) - x_r[t] (in double, 0 for ignored
            // rows); when grad, x_r is overwritten by (softmax(x_r) - onehot(t)) * scale (zeros for ignored rows).
            // One block per row.
            extern "C" __global__ void cross_entropy_rows_f32(float* logits, const int* __restrict__ targets, long long rows,
                    int V, int ignoreIndex, float scale, int grad, double* __restrict__ rowLoss) {
                __shared__ float cache[256];
                for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
                    float* x = logits + r * V;
                    int t = targets[r];
                    if (t == ignoreIndex) {
                        if (grad) for (int i = threadIdx.x; i < V; i += blockDim.x) x[i] = 0.0f;
                        if (threadIdx.x == 0) rowLoss[r] = 0.0;
                        continue;
                    }
                    float target = threadIdx.x == 0 ? x[t] : 0.0f;   // read before any thread overwrites the row
                    float m = -3.402823466e38f;
                    for (int i = threadIdx.x; i < V; i += blockDim.x) m = fmaxf(m, x[i]);
                    m = block_max(cache, m);
                    float s = 0;
                    for (int i = threadIdx.x; i < V; i += blockDim.x) s += expf(x[i] - m);
                    s = block_sum(cache, s);
                    if (threadIdx.x == 0) rowLoss[r] = (double) m + log((double) s) - (double) target;
                    if (grad) {
                        float k = scale / s;
                        for (int i = threadIdx.x; i < V; i += blockDim.x) {
                            float p = expf(x[i] - m) * k;
                            x[i] = i == t ? p - scale : p;
                        }
                    }
                }
            }

            // RMSNorm over rows of `cols`: out = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps); one block per row.
            extern "C" __global__ void rmsnorm_forward_f32(float* __restrict__ out, float* __restrict__ rstd,
                    const float* __restrict__ x, const float* __restrict__ w, int hasWeight, long long rows, int cols, float eps) {
                __shared__ float cache[256];
                for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
                    const float* xr = x + r * cols;
                    float ss = 0;
                    for (int i = threadIdx.x; i < cols; i += blockDim.x) ss += xr[i] * xr[i];
                    ss = block_sum(cache, ss);
                    float s = (float) (1.0 / sqrt((double) (ss / cols) + (double) eps));
                    if (threadIdx.x == 0) rstd[r] = s;
                    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
                        float v = xr[i] * s;
                        out[r * cols + i] = hasWeight ? v * w[i] : v;
                    }
                }
            }

            // dx = rstd * (g - n * mean(g*n)), n = x * rstd, g = dout * w; one block per row.
            extern "C" __global__ void rmsnorm_backward_dx_f32(float* __restrict__ dx, const float* __restrict__ dout,
                    const float* __restrict__ x, const float* __restrict__ w, int hasWeight, const float* __restrict__ rstd,
                    long long rows, int cols) {
                __shared__ float cache[256];
                for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
                    const float* xr = x + r * cols;
                    const float* gr = dout + r * cols;
                    float s = rstd[r], sgn = 0;
                    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
                        float g = hasWeight ? gr[i] * w[i] : gr[i];
                        sgn += g * (xr[i] * s);
                    }
                    float meanGN = block_sum(cache, sgn) / cols;
                    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
                        float g = hasWeight ? gr[i] * w[i] : gr[i];
                        dx[r * cols + i] = (g - (xr[i] * s) * meanGN) * s;
                    }
                }
            }

            // SiLU, x * sigmoid(x) = x / (1 + e^-x), and its backward dout * s * (1 + x * (1 - s)).
            extern "C" __global__ void silu_forward_f32(float* __restrict__ out, const float* __restrict__ x, long long n) {
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    float v = x[i];
                    out[i] = v / (expf(-v) + 1.0f);
                }
            }

            extern "C" __global__ void silu_backward_f32(float* __restrict__ dx, const float* __restrict__ x,
                    const float* __restrict__ dout, long long n) {
                long long stride = (long long) blockDim.x * gridDim.x;
                for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                    float v = x[i];
                    float s = 1.0f / (expf(-v) + 1.0f);
                    dx[i] = s * (v * (1.0f - s) + 1.0f) * dout[i];
                }
            }

            // RoPE over rows of (T, D) slabs (rows = B*H*T head vectors): pair i of the first rotaryDim dims is
            // (x[i], x[i + h]) (interleaved == 0) or (x[2i], x[2i + 1]), rotated by the angle of time step t = row % T
            // (cos/sin tables (T, h)); sign -1 rotates back (the backward). Dims past rotaryDim are copied.
            extern "C" __global__ void rope_f32(float* __restrict__ out, const float* __restrict__ x,
                    const float* __restrict__ cosines, const float* __restrict__ sines, long long rows, int T, int D,
                    int rotaryDim, int interleaved, float sign) {
                int h = rotaryDim / 2;
                long long total = rows * D, stride = (long long) blockDim.x * gridDim.x;
                for (long long e = (long long) blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
                    long long r = e / D;
                    int d = (int) (e - r * D), t = (int) (r % T);
                    const float* xr = x + r * D;
                    float v;
                    if (d >= rotaryDim) {
                        v = xr[d];
                    } else {
                        int i, ia, ib;
                        bool first;
                        if (interleaved) { i = d / 2; ia = 2 * i; ib = 2 * i + 1; first = d % 2 == 0; }
                        else { i = d < h ? d : d - h; ia = i; ib = i + h; first = d < h; }
                        float a = xr[ia], b = xr[ib], c = cosines[t * h + i], s = sign * sines[t * h + i];
                        v = first ? a * c - b * s : b * c + a * s;
                    }
                    out[e] = v;
                }
            }

            // Causal softmax of attention scores, in place: S (count, Tq, Tk) already scaled; query row i sits at position
            // p = Tk - Tq + i and sees keys 0..p. Writes P (zero above the diagonal) and lse[j*lseHead + i] for batch j.
            extern "C" __global__ void attention_softmax_forward_f32(float* S, float* __restrict__ lse, long long lseHead,
                    int count, int Tq, int Tk) {
                __shared__ float cache[256];
                long long rows = (long long) count * Tq;
                for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
                    int j = (int) (r / Tq), i = (int) (r - (long long) j * Tq);
                    int p = Tk - Tq + i;
                    float* s = S + r * Tk;
                    float m = -3.402823466e38f;
                    for (int c = threadIdx.x; c <= p; c += blockDim.x) m = fmaxf(m, s[c]);
                    m = block_max(cache, m);
                    float sum = 0;
                    for (int c = threadIdx.x; c <= p; c += blockDim.x) sum += expf(s[c] - m);
                    sum = block_sum(cache, sum);
                    float l = m + logf(sum);
                    if (threadIdx.x == 0) lse[j * lseHead + i] = l;
                    for (int c = threadIdx.x; c < Tk; c += blockDim.x) s[c] = c <= p ? expf(s[c] - l) : 0.0f;
                }
            }

            // Attention backward's softmax step, per row: P = exp(S - lse) (masked) back into S; with
            // D = dot(dout_i, out_i), dS = P * (dP - D) into dP. dout and out rows of D floats at
            // base + j*headStride + i*rowStride for batch j.
            extern "C" __global__ void attention_softmax_backward_f32(float* S, float* dP, const float* __restrict__ lse,
                    long long lseHead, const float* __restrict__ dout, long long doutHead, long long doutRow,
                    const float* __restrict__ out, long long outHead, long long outRow, int count, int Tq, int Tk, int D) {
                __shared__ float cache[256];
                long long rows = (long long) count * Tq;
                for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
                    int j = (int) (r / Tq), i = (int) (r - (long long) j * Tq);
                    int p = Tk - Tq + i;
                    const float* g = dout + j * doutHead + i * doutRow;
                    const float* o = out + j * outHead + i * outRow;
                    float d = 0;
                    for (int c = threadIdx.x; c < D; c += blockDim.x) d += g[c] * o[c];
                    d = block_sum(cache, d);
                    float l = lse[j * lseHead + i];
                    float* s = S + r * Tk;
                    float* ds = dP + r * Tk;
                    for (int c = threadIdx.x; c < Tk; c += blockDim.x) {
                        float pc = c <= p ? expf(s[c] - l) : 0.0f;
                        s[c] = pc;
                        ds[c] = pc * (ds[c] - d);
                    }
                }
            }
            """;
}
