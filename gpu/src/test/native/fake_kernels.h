// The fake CUDA library's table of kernels: each entry unpacks cuLaunchKernel's void** arguments into the
// kernel's own parameter types (deduced from the kernel itself) and checks that pointer arguments point
// into device memory. A generated registry.cpp includes the kernel source and lists one entry per kernel.
#pragma once
#include <cstddef>
#include <type_traits>
#include <utility>

bool fake_is_device_pointer(const void* p);

struct FakeKernel {
    const char* name;
    void (*run)(void** params);
    bool (*pointersValid)(void** params);
};

template <typename T>
bool fake_valid_argument(void* cell) {
    if constexpr (std::is_pointer_v<T>) return fake_is_device_pointer(*static_cast<T*>(cell));
    else return true;
}

template <typename... A, std::size_t... I>
void fake_invoke(void (*kernel)(A...), void** params, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<A>*>(params[I])...);
}

template <typename... A, std::size_t... I>
bool fake_check(void** params, std::index_sequence<I...>) {
    return (true && ... && fake_valid_argument<std::remove_cv_t<A>>(params[I]));
}

template <typename... A>
void fake_run(void (*kernel)(A...), void** params) { fake_invoke(kernel, params, std::index_sequence_for<A...>{}); }

template <typename... A>
bool fake_pointers_valid(void (*)(A...), void** params) {
    return fake_check<A...>(params, std::index_sequence_for<A...>{});
}

#define FAKE_KERNEL(k) \
    { #k, [](void** p) { fake_run(k, p); }, [](void** p) { return fake_pointers_valid(k, p); } }

extern const FakeKernel fake_kernels[];
extern const int fake_kernel_count;
