#!/usr/bin/env bash
# jlisa's fp32 GEMM beside numpy's OpenBLAS on this machine, alternating round by round so that a neighbour's load
# hits both alike. usage: bench/gemm-vs-openblas.sh [ROUNDS] [SIZES] [THREADS]   (defaults: 3 "1024 2048" "1 2")
# Needs bench/target/benchmarks.jar (mvn -pl bench -am package -DskipTests) and python3 with numpy.
# Prints every round, then a Markdown table of medians (jlisa NN, NT, TN; OpenBLAS NN) headed by the CPU's name
# and the GEMM plan jlisa chose for it. Log: bench/target/gemm-vs-openblas.log
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; sizes=${2:-"1024 2048"}; threads=${3:-"1 2"}
java_home=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
jar=bench/target/benchmarks.jar
baseline=${JLISA_BASELINES:-../shared/baselines}/gemm_once.py
[ -f "$jar" ] || { echo "no $jar: run mvn -pl bench -am package -DskipTests" >&2; exit 1; }
[ -f "$baseline" ] || { echo "no $baseline (set JLISA_BASELINES to the baselines folder)" >&2; exit 1; }
log=bench/target/gemm-vs-openblas.log
: > "$log"
java=("$java_home/bin/java" --add-modules jdk.incubator.vector -cp "$jar")
for n in $sizes; do for t in $threads; do for r in $(seq "$rounds"); do
    echo "openblas n=$n threads=$t round=$r gflops=$(python3 "$baseline" "$n" "$t")" | tee -a "$log"
    "${java[@]}" jlisa.bench.GemmTiming "$n" NN,NT,TN "$t" 2>/dev/null | sed "s/\$/ round=$r/" | tee -a "$log"
done; done; done
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
python3 - "$log" "$cpu" <<'PY'
import sys, re, statistics, collections
log, cpu = sys.argv[1], sys.argv[2]
runs = collections.defaultdict(list)
for line in open(log):
    m = re.match(r'(\w+) n=(\d+)(?: layout=(\w+))? threads=(\d+).* gflops=([\d.]+)', line) or \
        re.match(r'(\w+) n=(\d+) threads=(\d+) round=\d+ gflops=([\d.]+)', line)
    if not m: continue
    g = m.groups()
    if g[0] == 'openblas': runs[(int(g[1]), int(g[3]) if len(g) == 5 else int(g[2]), 'OB')].append(float(g[-1]))
    else: runs[(int(g[1]), int(g[3]), g[2])].append(float(g[4]))
print(f"\nCPU: {cpu}\n")
print("| n | threads | OpenBLAS NN | jlisa NN | jlisa NT | jlisa TN | NN/OB | NT/OB | TN/OB |")
print("|---|---|---|---|---|---|---|---|---|")
for n, t in sorted({(k[0], k[1]) for k in runs}):
    med = {l: statistics.median(runs[(n, t, l)]) for l in ('OB', 'NN', 'NT', 'TN') if runs[(n, t, l)]}
    cell = lambda l: f"{med[l]:.1f} ({' '.join(f'{v:.0f}' for v in runs[(n, t, l)])})"
    print(f"| {n} | {t} | {cell('OB')} | {cell('NN')} | {cell('NT')} | {cell('TN')} | "
          + " | ".join(f"{med[l] / med['OB']:.2f}" for l in ('NN', 'NT', 'TN')) + " |")
PY
