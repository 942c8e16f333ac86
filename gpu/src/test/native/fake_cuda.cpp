// A stand-in for libcuda, libcublas and libnvrtc, so jlisa's GPU code runs its whole path in tests on a
// machine without a GPU. Test-only; built by FakeCuda.java with g++.
//
// - Driver API: the prototypes come from the real cuda.h, so a Java binding whose C types differ from
//   CUDA's would be caught here. "Device memory" is host memory; every copy, memset, matrix and kernel
//   pointer argument is checked against the live allocations; calls that need a context check that one is
//   current on the calling thread; cuInit must come first. Asynchronous copies (page-locked host memory only)
//   and event records queue up in a pretend default stream and happen only when something waits for them —
//   an event synchronize, a synchronous call, a launch — so host code that reuses a buffer too early fails.
// - Kernels: jlisa's own CUDA C source, compiled as host C++ (cuda_shim.h), run block after block, the
//   threads of a block as cooperative fibers, so __syncthreads() is a real barrier.
// - cuBLAS: arguments checked as cuBLAS documents them (leading dimensions, operations, types), each
//   matrix's reach checked against the allocations, products computed in double (TF32 inputs rounded to
//   10 mantissa bits, bf16 inputs read as bf16).
// - NVRTC: "compiles" by listing the source's kernels as PTX entries; requires an architecture option.
// Extra functions for tests: fake_cuda_count(name), fake_cuda_fail_next(name, code), fake_cuda_set_memory(bytes).

#include <cuda.h>

#include "cuda_shim.h"
#include "fake_kernels.h"

#include <ucontext.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// ------------------------------------------------------------------------------------------ bookkeeping

static std::recursive_mutex state_lock;
static std::map<uintptr_t, size_t> allocations;   // device blocks: address -> bytes
static std::map<uintptr_t, size_t> pinned;        // page-locked host blocks: address -> bytes
static std::map<std::string, long> calls;
static std::map<std::string, int> failures;       // call name -> result to return once
static size_t memory_limit = size_t(1) << 30, memory_used = 0;
static bool initialised = false;

struct CUctx_st { int unused; };
static CUctx_st the_context;
static thread_local CUcontext current_context = nullptr;

// Counts the call; returns a planted failure code (0 if none).
static int enter(const char* name) {
    std::lock_guard<std::recursive_mutex> g(state_lock);
    calls[name]++;
    auto f = failures.find(name);
    if (f == failures.end()) return 0;
    int code = f->second;
    failures.erase(f);
    return code;
}

static bool inside_allocation(uintptr_t p, size_t bytes) {
    std::lock_guard<std::recursive_mutex> g(state_lock);
    auto it = allocations.upper_bound(p);
    if (it == allocations.begin()) return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
}

bool fake_is_device_pointer(const void* p) { return inside_allocation(reinterpret_cast<uintptr_t>(p), 1); }

static bool inside_pinned(const void* host, size_t bytes) {
    std::lock_guard<std::recursive_mutex> g(state_lock);
    uintptr_t p = reinterpret_cast<uintptr_t>(host);
    auto it = pinned.upper_bound(p);
    if (it == pinned.begin()) return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
}

// The pretend default stream: copies and event records not yet done, in issue order.
struct CUevent_st { int unused; };
struct PendingWork { CUevent event; void* dst; const void* src; size_t bytes; };   // event == nullptr: a copy
static std::deque<PendingWork> stream_queue;

// Does the queued work in order, up to and including the record of `until` (all of it for nullptr).
static void drain(CUevent until) {
    std::lock_guard<std::recursive_mutex> g(state_lock);
    while (!stream_queue.empty()) {
        PendingWork w = stream_queue.front();
        stream_queue.pop_front();
        if (w.event == nullptr) std::memcpy(w.dst, w.src, w.bytes);
        else if (w.event == until) return;
    }
}

extern "C" long fake_cuda_count(const char* name) {
    std::lock_guard<std::recursive_mutex> g(state_lock);
    auto it = calls.find(name);
    return it == calls.end() ? 0 : it->second;
}

extern "C" void fake_cuda_fail_next(const char* name, int code) {
    std::lock_guard<std::recursive_mutex> g(state_lock);
    failures[name] = code;
}

extern "C" void fake_cuda_set_memory(long long bytes) {
    std::lock_guard<std::recursive_mutex> g(state_lock);
    memory_limit = size_t(bytes);
}

extern "C" long long fake_cuda_memory_used() {
    std::lock_guard<std::recursive_mutex> g(state_lock);
    return (long long) memory_used;
}

#define ENTER(name)                                  \
    do {                                             \
        int planted = enter(name);                   \
        if (planted != 0) return (decltype(CUDA_SUCCESS)) planted; \
    } while (0)

#define NEED_INIT() do { if (!initialised) return CUDA_ERROR_NOT_INITIALIZED; } while (0)
#define NEED_CONTEXT() do { NEED_INIT(); if (current_context != &the_context) return CUDA_ERROR_INVALID_CONTEXT; } while (0)

// ------------------------------------------------------------------------------------------ driver API

extern "C" {

CUresult CUDAAPI cuGetErrorName(CUresult error, const char** pStr) {
    static const std::map<int, const char*> names = {
            {CUDA_SUCCESS, "CUDA_SUCCESS"},
            {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE"},
            {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY"},
            {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED"},
            {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE"},
            {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE"},
            {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE"},
            {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT"},
            {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE"},
            {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND"},
            {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS"},
            {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED"},
    };
    auto it = names.find(error);
    if (it == names.end()) {
        *pStr = nullptr;
        return CUDA_ERROR_INVALID_VALUE;
    }
    *pStr = it->second;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuInit(unsigned int Flags) {
    ENTER("cuInit");
    if (Flags != 0) return CUDA_ERROR_INVALID_VALUE;
    initialised = true;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDriverGetVersion(int* driverVersion) {
    ENTER("cuDriverGetVersion");
    *driverVersion = 13000;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetCount(int* count) {
    ENTER("cuDeviceGetCount");
    NEED_INIT();
    *count = 1;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice* device, int ordinal) {
    ENTER("cuDeviceGet");
    NEED_INIT();
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char* name, int len, CUdevice dev) {
    ENTER("cuDeviceGetName");
    NEED_INIT();
    if (dev != 0 || len < 1) return CUDA_ERROR_INVALID_VALUE;
    std::snprintf(name, size_t(len), "%s", "jlisa fake CUDA device");
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
    ENTER("cuDeviceTotalMem_v2");
    NEED_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = memory_limit;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
    ENTER("cuDeviceGetAttribute");
    NEED_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    switch (attrib) {
        case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = 2; break;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = 9; break;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = 0; break;
        default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
    ENTER("cuDevicePrimaryCtxRetain");
    NEED_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    *pctx = &the_context;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx) {
    ENTER("cuCtxSetCurrent");
    NEED_INIT();
    if (ctx != &the_context && ctx != nullptr) return CUDA_ERROR_INVALID_CONTEXT;
    current_context = ctx;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSynchronize(void) {
    ENTER("cuCtxSynchronize");
    NEED_CONTEXT();
    drain(nullptr);
    return CUDA_SUCCESS;   // every call finished when it returned
}

CUresult CUDAAPI cuMemGetInfo_v2(size_t* free, size_t* total) {
    ENTER("cuMemGetInfo_v2");
    NEED_CONTEXT();
    std::lock_guard<std::recursive_mutex> g(state_lock);
    *free = memory_limit - memory_used;
    *total = memory_limit;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
    ENTER("cuMemAlloc_v2");
    NEED_CONTEXT();
    if (bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::recursive_mutex> g(state_lock);
    if (memory_used + bytesize > memory_limit) return CUDA_ERROR_OUT_OF_MEMORY;
    void* p = std::aligned_alloc(256, (bytesize + 255) / 256 * 256);
    if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
    std::memset(p, 0xA5, bytesize);   // fresh device memory holds garbage, not zeros
    allocations[reinterpret_cast<uintptr_t>(p)] = bytesize;
    memory_used += bytesize;
    *dptr = reinterpret_cast<CUdeviceptr>(p);
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree_v2(CUdeviceptr dptr) {
    ENTER("cuMemFree_v2");
    NEED_CONTEXT();
    drain(nullptr);
    std::lock_guard<std::recursive_mutex> g(state_lock);
    auto it = allocations.find(uintptr_t(dptr));
    if (it == allocations.end()) return CUDA_ERROR_INVALID_VALUE;
    memory_used -= it->second;
    allocations.erase(it);
    std::free(reinterpret_cast<void*>(dptr));
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocHost_v2(void** pp, size_t bytesize) {
    ENTER("cuMemAllocHost_v2");
    NEED_CONTEXT();
    *pp = std::aligned_alloc(4096, (bytesize + 4095) / 4096 * 4096);
    if (*pp == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
    std::lock_guard<std::recursive_mutex> g(state_lock);
    pinned[reinterpret_cast<uintptr_t>(*pp)] = bytesize;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFreeHost(void* p) {
    ENTER("cuMemFreeHost");
    NEED_CONTEXT();
    drain(nullptr);
    std::lock_guard<std::recursive_mutex> g(state_lock);
    if (pinned.erase(reinterpret_cast<uintptr_t>(p)) == 0) return CUDA_ERROR_INVALID_VALUE;
    std::free(p);
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount, CUstream hStream) {
    ENTER("cuMemcpyHtoDAsync_v2");
    NEED_CONTEXT();
    if (hStream != nullptr || !inside_pinned(srcHost, ByteCount) || !inside_allocation(uintptr_t(dstDevice), ByteCount)) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    std::lock_guard<std::recursive_mutex> g(state_lock);
    stream_queue.push_back({nullptr, reinterpret_cast<void*>(dstDevice), srcHost, ByteCount});
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoHAsync_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
    ENTER("cuMemcpyDtoHAsync_v2");
    NEED_CONTEXT();
    if (hStream != nullptr || !inside_pinned(dstHost, ByteCount) || !inside_allocation(uintptr_t(srcDevice), ByteCount)) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    std::lock_guard<std::recursive_mutex> g(state_lock);
    stream_queue.push_back({nullptr, dstHost, reinterpret_cast<const void*>(srcDevice), ByteCount});
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventCreate(CUevent* phEvent, unsigned int Flags) {
    ENTER("cuEventCreate");
    NEED_CONTEXT();
    if (Flags != CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_VALUE;   // jlisa never times with events
    *phEvent = new CUevent_st();
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventRecord(CUevent hEvent, CUstream hStream) {
    ENTER("cuEventRecord");
    NEED_CONTEXT();
    if (hEvent == nullptr || hStream != nullptr) return CUDA_ERROR_INVALID_HANDLE;
    std::lock_guard<std::recursive_mutex> g(state_lock);
    stream_queue.push_back({hEvent, nullptr, nullptr, 0});
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventSynchronize(CUevent hEvent) {
    ENTER("cuEventSynchronize");
    NEED_CONTEXT();
    if (hEvent == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    drain(hEvent);
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) {
    ENTER("cuMemcpyHtoD_v2");
    NEED_CONTEXT();
    drain(nullptr);
    if (srcHost == nullptr || !inside_allocation(uintptr_t(dstDevice), ByteCount)) return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(reinterpret_cast<void*>(dstDevice), srcHost, ByteCount);
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoH_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
    ENTER("cuMemcpyDtoH_v2");
    NEED_CONTEXT();
    drain(nullptr);
    if (dstHost == nullptr || !inside_allocation(uintptr_t(srcDevice), ByteCount)) return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(dstHost, reinterpret_cast<void*>(srcDevice), ByteCount);
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
    ENTER("cuMemcpyDtoD_v2");
    NEED_CONTEXT();
    drain(nullptr);
    if (!inside_allocation(uintptr_t(dstDevice), ByteCount) || !inside_allocation(uintptr_t(srcDevice), ByteCount)) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    std::memmove(reinterpret_cast<void*>(dstDevice), reinterpret_cast<void*>(srcDevice), ByteCount);
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N) {
    ENTER("cuMemsetD32_v2");
    NEED_CONTEXT();
    drain(nullptr);
    if (dstDevice % 4 != 0 || !inside_allocation(uintptr_t(dstDevice), 4 * N)) return CUDA_ERROR_INVALID_VALUE;
    unsigned int* p = reinterpret_cast<unsigned int*>(dstDevice);
    for (size_t i = 0; i < N; i++) p[i] = ui;
    return CUDA_SUCCESS;
}

}  // extern "C"

// ------------------------------------------------------------------------------------------ modules and kernels

struct CUfunc_st { const FakeKernel* kernel; };
struct CUmod_st { std::vector<std::string> entries; std::vector<CUfunc_st*> functions; };

static const char* const FAKE_PTX_HEADER = "// jlisa fake PTX\n";

extern "C" {

CUresult CUDAAPI cuModuleLoadData(CUmodule* module, const void* image) {
    ENTER("cuModuleLoadData");
    NEED_CONTEXT();
    if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::string ptx(static_cast<const char*>(image));
    if (ptx.rfind(FAKE_PTX_HEADER, 0) != 0) return CUDA_ERROR_INVALID_IMAGE;
    CUmod_st* m = new CUmod_st();
    const std::string marker = ".entry ";
    for (size_t at = ptx.find(marker); at != std::string::npos; at = ptx.find(marker, at + 1)) {
        size_t start = at + marker.size(), end = ptx.find('(', start);
        m->entries.push_back(ptx.substr(start, end - start));
    }
    *module = m;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
    ENTER("cuModuleGetFunction");
    NEED_CONTEXT();
    if (hmod == nullptr || name == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    bool listed = false;
    for (const std::string& e : hmod->entries) listed |= e == name;
    if (!listed) return CUDA_ERROR_NOT_FOUND;
    for (int i = 0; i < fake_kernel_count; i++) {
        if (std::string(fake_kernels[i].name) == name) {
            CUfunc_st* f = new CUfunc_st{&fake_kernels[i]};
            hmod->functions.push_back(f);
            *hfunc = f;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_FOUND;
}

}  // extern "C"

// One launch runs on its own native thread: block after block, each block's threads as fibers that a
// round-robin scheduler resumes until each reaches the next __syncthreads() (or ends).
thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace {
thread_local ucontext_t scheduler;
thread_local std::vector<ucontext_t>* fibers;
thread_local std::vector<char>* finished;
thread_local unsigned current_fiber;
thread_local const FakeKernel* running_kernel;
thread_local void** running_params;

void fiber_main() {
    running_kernel->run(running_params);
    (*finished)[current_fiber] = 1;   // returning resumes the scheduler (uc_link)
}

void run_grid(const FakeKernel* kernel, void** params, unsigned grid, unsigned block) {
    const size_t stack_bytes = 64 * 1024;
    std::vector<ucontext_t> contexts(block);
    std::vector<char> done(block);
    std::vector<char> stacks(stack_bytes * block);
    fibers = &contexts;
    finished = &done;
    running_kernel = kernel;
    running_params = params;
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (unsigned b = 0; b < grid; b++) {
        blockIdx = {b, 0, 0};
        for (unsigned t = 0; t < block; t++) {
            getcontext(&contexts[t]);
            contexts[t].uc_stack.ss_sp = &stacks[t * stack_bytes];
            contexts[t].uc_stack.ss_size = stack_bytes;
            contexts[t].uc_link = &scheduler;
            makecontext(&contexts[t], fiber_main, 0);
            done[t] = 0;
        }
        for (bool pending = true; pending;) {
            pending = false;
            for (unsigned t = 0; t < block; t++) {
                if (done[t]) continue;
                current_fiber = t;
                threadIdx = {t, 0, 0};
                swapcontext(&scheduler, &contexts[t]);
                pending |= !done[t];
            }
        }
    }
}
}  // namespace

void fake_syncthreads() { swapcontext(&(*fibers)[current_fiber], &scheduler); }

extern "C" {

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                unsigned int sharedMemBytes, CUstream hStream, void** kernelParams, void** extra) {
    ENTER("cuLaunchKernel");
    NEED_CONTEXT();
    drain(nullptr);
    if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    // jlisa launches 1-D grids with static shared memory on the default stream
    if (gridDimX == 0 || gridDimY != 1 || gridDimZ != 1 || blockDimX == 0 || blockDimX > 1024 || blockDimY != 1
            || blockDimZ != 1 || sharedMemBytes != 0 || hStream != nullptr || kernelParams == nullptr || extra != nullptr) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (!f->kernel->pointersValid(kernelParams)) return CUDA_ERROR_ILLEGAL_ADDRESS;
    std::thread worker(run_grid, f->kernel, kernelParams, gridDimX, blockDimX);
    worker.join();
    return CUDA_SUCCESS;
}

}  // extern "C"

// ------------------------------------------------------------------------------------------ cuBLAS

struct cublasContext { int mathMode; };
typedef cublasContext* cublasHandle_t;
typedef int cublasStatus_t;
enum { STATUS_SUCCESS = 0, STATUS_NOT_INITIALIZED = 1, STATUS_INVALID_VALUE = 7, STATUS_EXECUTION_FAILED = 13,
       STATUS_NOT_SUPPORTED = 15 };
enum { OP_N = 0, OP_T = 1, R_32F = 0, R_16BF = 14, COMPUTE_32F = 68, DEFAULT_MATH = 0, TF32_MATH = 3, GEMM_DEFAULT = -1 };

#define BLAS_ENTER(name)                              \
    do {                                              \
        int planted = enter(name);                    \
        if (planted != 0) return planted;             \
    } while (0)

static float to_tf32(float x) {
    unsigned int u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & ~0x1fffu;   // keep 10 mantissa bits, round to nearest
    std::memcpy(&x, &u, 4);
    return x;
}

static float element(const void* base, int type, long long index) {
    if (type == R_32F) return static_cast<const float*>(base)[index];
    unsigned int bits = unsigned(static_cast<const unsigned short*>(base)[index]) << 16;
    float x;
    std::memcpy(&x, &bits, 4);
    return x;
}

static int type_bytes(int type) { return type == R_32F ? 4 : 2; }

// One column-major C = alpha·op(A)·op(B) + beta·C, arguments checked as cuBLAS checks them.
static int gemm_one(int transa, int transb, int m, int n, int k, float alpha, const void* A, int atype, int lda,
                    const void* B, int btype, int ldb, float beta, float* C, int ldc, bool tf32) {
    drain(nullptr);   // cuBLAS works in the default stream, after what was issued before
    if ((transa != OP_N && transa != OP_T) || (transb != OP_N && transb != OP_T) || m < 0 || n < 0 || k < 0) {
        return STATUS_INVALID_VALUE;
    }
    int aRows = transa == OP_N ? m : k, aCols = transa == OP_N ? k : m;
    int bRows = transb == OP_N ? k : n, bCols = transb == OP_N ? n : k;
    if (lda < (aRows > 1 ? aRows : 1) || ldb < (bRows > 1 ? bRows : 1) || ldc < (m > 1 ? m : 1)) return STATUS_INVALID_VALUE;
    if (m == 0 || n == 0) return STATUS_SUCCESS;
    if (k > 0) {
        if (!inside_allocation(uintptr_t(A), size_t(((long long) (aCols - 1) * lda + aRows) * type_bytes(atype)))) {
            return STATUS_EXECUTION_FAILED;
        }
        if (!inside_allocation(uintptr_t(B), size_t(((long long) (bCols - 1) * ldb + bRows) * type_bytes(btype)))) {
            return STATUS_EXECUTION_FAILED;
        }
    }
    if (!inside_allocation(uintptr_t(C), size_t(((long long) (n - 1) * ldc + m) * 4))) return STATUS_EXECUTION_FAILED;
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                float a = element(A, atype, transa == OP_N ? i + (long long) p * lda : p + (long long) i * lda);
                float b = element(B, btype, transb == OP_N ? p + (long long) j * ldb : j + (long long) p * ldb);
                if (tf32) {
                    a = to_tf32(a);
                    b = to_tf32(b);
                }
                s += double(a) * double(b);
            }
            float& c = C[i + (long long) j * ldc];
            c = float(alpha * s + (beta == 0 ? 0.0 : double(beta) * c));   // beta == 0: C is not read
        }
    }
    return STATUS_SUCCESS;
}

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
    BLAS_ENTER("cublasCreate_v2");
    if (current_context != &the_context) return STATUS_NOT_INITIALIZED;
    *handle = new cublasContext{DEFAULT_MATH};
    return STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int* version) {
    BLAS_ENTER("cublasGetVersion_v2");
    if (handle == nullptr) return STATUS_NOT_INITIALIZED;
    *version = 130000 + 1 * 100 + 2;   // 13.1.2
    return STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, int mode) {
    BLAS_ENTER("cublasSetMathMode");
    if (handle == nullptr) return STATUS_NOT_INITIALIZED;
    if (mode != DEFAULT_MATH && mode != TF32_MATH) return STATUS_INVALID_VALUE;
    handle->mathMode = mode;
    return STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
    switch (status) {
        case STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, int transa, int transb, int m, int n, int k, const float* alpha,
                               const float* A, int lda, const float* B, int ldb, const float* beta, float* C, int ldc) {
    BLAS_ENTER("cublasSgemm_v2");
    if (handle == nullptr) return STATUS_NOT_INITIALIZED;
    return gemm_one(transa, transb, m, n, k, *alpha, A, R_32F, lda, B, R_32F, ldb, *beta, C, ldc,
                    handle->mathMode == TF32_MATH);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, int transa, int transb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda, long long strideA,
                                         const float* B, int ldb, long long strideB, const float* beta,
                                         float* C, int ldc, long long strideC, int batchCount) {
    BLAS_ENTER("cublasSgemmStridedBatched");
    if (handle == nullptr) return STATUS_NOT_INITIALIZED;
    if (batchCount < 0) return STATUS_INVALID_VALUE;
    for (int t = 0; t < batchCount; t++) {
        int r = gemm_one(transa, transb, m, n, k, *alpha, A + t * strideA, R_32F, lda, B + t * strideB, R_32F, ldb, *beta,
                         C + t * strideC, ldc, handle->mathMode == TF32_MATH);
        if (r != STATUS_SUCCESS) return r;
    }
    return STATUS_SUCCESS;
}

static int check_ex_types(int atype, int btype, int ctype, int computeType, int algo) {
    if ((atype != R_32F && atype != R_16BF) || btype != atype || ctype != R_32F || computeType != COMPUTE_32F
            || algo != GEMM_DEFAULT) {
        return STATUS_NOT_SUPPORTED;
    }
    return STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, int transa, int transb, int m, int n, int k, const void* alpha,
                            const void* A, int Atype, int lda, const void* B, int Btype, int ldb, const void* beta,
                            void* C, int Ctype, int ldc, int computeType, int algo) {
    BLAS_ENTER("cublasGemmEx");
    if (handle == nullptr) return STATUS_NOT_INITIALIZED;
    int r = check_ex_types(Atype, Btype, Ctype, computeType, algo);
    if (r != STATUS_SUCCESS) return r;
    return gemm_one(transa, transb, m, n, k, *static_cast<const float*>(alpha), A, Atype, lda, B, Btype, ldb,
                    *static_cast<const float*>(beta), static_cast<float*>(C), ldc, false);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, int transa, int transb, int m, int n, int k,
                                          const void* alpha, const void* A, int Atype, int lda, long long strideA,
                                          const void* B, int Btype, int ldb, long long strideB, const void* beta,
                                          void* C, int Ctype, int ldc, long long strideC, int batchCount,
                                          int computeType, int algo) {
    BLAS_ENTER("cublasGemmStridedBatchedEx");
    if (handle == nullptr) return STATUS_NOT_INITIALIZED;
    int r = check_ex_types(Atype, Btype, Ctype, computeType, algo);
    if (r != STATUS_SUCCESS || batchCount < 0) return r != STATUS_SUCCESS ? r : STATUS_INVALID_VALUE;
    for (int t = 0; t < batchCount; t++) {
        r = gemm_one(transa, transb, m, n, k, *static_cast<const float*>(alpha),
                     static_cast<const char*>(A) + t * strideA * type_bytes(Atype), Atype, lda,
                     static_cast<const char*>(B) + t * strideB * type_bytes(Btype), Btype, ldb,
                     *static_cast<const float*>(beta), static_cast<float*>(C) + t * strideC, ldc, false);
        if (r != STATUS_SUCCESS) return r;
    }
    return STATUS_SUCCESS;
}

}  // extern "C"

// ------------------------------------------------------------------------------------------ NVRTC

struct _nvrtcProgram { std::string source, name, ptx, log; };
typedef _nvrtcProgram* nvrtcProgram;
enum { NVRTC_OK = 0, NVRTC_INVALID_INPUT = 3, NVRTC_INVALID_PROGRAM = 4, NVRTC_INVALID_OPTION = 5, NVRTC_COMPILATION = 6 };

#define NVRTC_ENTER(name)                             \
    do {                                              \
        int planted = enter(name);                    \
        if (planted != 0) return planted;             \
    } while (0)

extern "C" {

const char* nvrtcGetErrorString(int result) {
    switch (result) {
        case NVRTC_OK: return "NVRTC_SUCCESS";
        case NVRTC_INVALID_INPUT: return "NVRTC_ERROR_INVALID_INPUT";
        case NVRTC_INVALID_PROGRAM: return "NVRTC_ERROR_INVALID_PROGRAM";
        case NVRTC_INVALID_OPTION: return "NVRTC_ERROR_INVALID_OPTION";
        case NVRTC_COMPILATION: return "NVRTC_ERROR_COMPILATION";
        default: return "NVRTC_ERROR unknown";
    }
}

int nvrtcVersion(int* major, int* minor) {
    NVRTC_ENTER("nvrtcVersion");
    *major = 13;
    *minor = 0;
    return NVRTC_OK;
}

static const int supported_archs[] = {75, 80, 86, 87, 89, 90, 100, 120};

int nvrtcGetNumSupportedArchs(int* count) {
    *count = int(sizeof supported_archs / sizeof supported_archs[0]);
    return NVRTC_OK;
}

int nvrtcGetSupportedArchs(int* archs) {
    std::memcpy(archs, supported_archs, sizeof supported_archs);
    return NVRTC_OK;
}

int nvrtcCreateProgram(nvrtcProgram* prog, const char* src, const char* name, int numHeaders, const char* const* headers,
                       const char* const* includeNames) {
    NVRTC_ENTER("nvrtcCreateProgram");
    if (prog == nullptr || src == nullptr || numHeaders < 0 || (numHeaders > 0 && (headers == nullptr || includeNames == nullptr))) {
        return NVRTC_INVALID_INPUT;
    }
    *prog = new _nvrtcProgram{src, name == nullptr ? "default_program" : name, "", ""};
    return NVRTC_OK;
}

int nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char* const* options) {
    NVRTC_ENTER("nvrtcCompileProgram");
    if (prog == nullptr) return NVRTC_INVALID_PROGRAM;
    std::string arch;
    for (int i = 0; i < numOptions; i++) {
        std::string o = options[i];
        if (o.rfind("--gpu-architecture=compute_", 0) == 0) arch = o.substr(27);
        else if (o != "--fmad=false") {
            prog->log = "fake nvrtc: unexpected option " + o;
            return NVRTC_INVALID_OPTION;
        }
    }
    if (arch.empty()) {
        prog->log = "fake nvrtc: no --gpu-architecture=compute_XX option";
        return NVRTC_INVALID_OPTION;
    }
    if (prog->source.find("#error") != std::string::npos) {
        prog->log = prog->name + "(1): error: #error directive in the source";
        return NVRTC_COMPILATION;
    }
    std::string ptx = std::string(FAKE_PTX_HEADER) + ".version 9.0\n.target sm_" + arch + "\n";
    const std::string marker = "__global__ void ";
    for (size_t at = prog->source.find(marker); at != std::string::npos; at = prog->source.find(marker, at + 1)) {
        size_t start = at + marker.size(), end = prog->source.find('(', start);
        ptx += ".visible .entry " + prog->source.substr(start, end - start) + "(\n)\n";
    }
    prog->ptx = ptx;
    return NVRTC_OK;
}

int nvrtcGetPTXSize(nvrtcProgram prog, size_t* size) {
    if (prog == nullptr) return NVRTC_INVALID_PROGRAM;
    *size = prog->ptx.size() + 1;
    return NVRTC_OK;
}

int nvrtcGetPTX(nvrtcProgram prog, char* ptx) {
    if (prog == nullptr) return NVRTC_INVALID_PROGRAM;
    std::memcpy(ptx, prog->ptx.c_str(), prog->ptx.size() + 1);
    return NVRTC_OK;
}

int nvrtcGetProgramLogSize(nvrtcProgram prog, size_t* size) {
    if (prog == nullptr) return NVRTC_INVALID_PROGRAM;
    *size = prog->log.size() + 1;
    return NVRTC_OK;
}

int nvrtcGetProgramLog(nvrtcProgram prog, char* log) {
    if (prog == nullptr) return NVRTC_INVALID_PROGRAM;
    std::memcpy(log, prog->log.c_str(), prog->log.size() + 1);
    return NVRTC_OK;
}

int nvrtcDestroyProgram(nvrtcProgram* prog) {
    if (prog == nullptr || *prog == nullptr) return NVRTC_INVALID_PROGRAM;
    delete *prog;
    *prog = nullptr;
    return NVRTC_OK;
}

}  // extern "C"
