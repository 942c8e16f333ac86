#!/usr/bin/env bash
# The products of a GPT-2 training step (jlisa.bench.GemmShapes gpt2|d6|tiny, one thread) beside numpy's OpenBLAS on
# the same shapes and layouts (NT = A·Bᵀ and TN = Aᵀ·B through transposed views, which numpy hands to BLAS as
# transpose flags, not copies), alternately shape by shape. usage: bench/gemm-shapes-vs-openblas.sh [MODEL] [THREADS]
# Needs bench/target/benchmarks.jar and python3 with numpy (the OpenBLAS of ../shared/baselines/gemm_once.py).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-d6}; threads=${2:-1}
java_home=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
"$java_home/bin/java" --add-modules jdk.incubator.vector -Djlisa.threads="$threads" -cp bench/target/benchmarks.jar \
    jlisa.bench.GemmShapes "$model" 2>/dev/null | python3 -c '
import sys, re, os, glob, ctypes, time, statistics
import numpy as np
threads = int(sys.argv[1])
lib = ctypes.CDLL(glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "libscipy_openblas64_*.so"))[0])
lib.scipy_openblas_set_num_threads64_.argtypes = [ctypes.c_int]; lib.scipy_openblas_set_num_threads64_(threads)
def openblas(m, n, k, layout):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if layout == "TN" else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if layout == "NT" else (k, n), dtype=np.float32)
    a = a.T if layout == "TN" else a; b = b.T if layout == "NT" else b
    c = np.empty((m, n), dtype=np.float32)
    t0 = time.perf_counter(); np.matmul(a, b, out=c); inner = max(1, int(0.3 / max(time.perf_counter() - t0, 1e-6)))
    for _ in range(inner): np.matmul(a, b, out=c)
    g = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(inner): np.matmul(a, b, out=c)
        g.append(2.0 * m * n * k / ((time.perf_counter() - t0) / inner) / 1e9)
    return statistics.median(g)
print("| product | m × n × k | layout | jlisa GFLOP/s | OpenBLAS GFLOP/s | ratio |")
print("|---|---|---|---|---|---|")
ratios = []
for line in sys.stdin:
    m = re.match(r"(.+?)\s+(\d+) x\s+(\d+) x\s+(\d+) (NN|NT|TN)\s+([\d.]+) GFLOP/s", line)
    if not m: continue
    name, mm, nn, kk, layout, g = m.group(1).strip(), *map(int, m.groups()[1:4]), m.group(5), float(m.group(6))
    ob = openblas(mm, nn, kk, layout); ratios.append(g / ob)
    print(f"| {name} | {mm} × {nn} × {kk} | {layout} | {g:.1f} | {ob:.1f} | {g / ob:.2f} |", flush=True)
if ratios: print(f"\nmedian ratio {statistics.median(ratios):.2f}, lowest {min(ratios):.2f} ({len(ratios)} products, {threads} thread(s))")
' "$threads"
