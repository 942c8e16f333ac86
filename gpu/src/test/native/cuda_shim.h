// Lets jlisa's CUDA C kernels (jlisa.gpu.CudaKernels.SOURCE) compile as host C++ for the fake CUDA
// library: the built-in variables are per-thread globals the fake's scheduler sets, __syncthreads() yields
// to it, and __shared__ arrays are statics (one block runs at a time). Test-only.
#pragma once
#include <cmath>
#include <cstring>

struct dim3 { unsigned int x, y, z; };
extern thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;
void fake_syncthreads();

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static

inline void __syncthreads() { fake_syncthreads(); }

struct alignas(16) float4 { float x, y, z, w; };

inline unsigned int __float_as_uint(float f) {
    unsigned int u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
