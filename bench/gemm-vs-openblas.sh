#!/usr/bin/env bash
# jlisa's fp32 GEMM beside numpy's OpenBLAS on this machine, alternating round by round so that a neighbour's load
# hits both alike. usage: bench/gemm-vs-openblas.sh [ROUNDS] [SIZES] [THREADS]   (defaults: 3 "1024 2048" "1 2")
# Needs bench/target/benchmarks.jar (mvn -pl bench -am package -DskipTests) and python3 with numpy.
# Prints every round, then a Markdown table of medians (jlisa NN, NT, TN; OpenBLAS NN) headed by the CPU's name.
# JLISA_GEMM_ALT="-Djlisa.gemm.kernel=6x4" (any JVM flags) also times NN under those flags in every round: a
# before/after in one run. Log: bench/target/gemm-vs-openblas.log
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
    if [ -n "${JLISA_GEMM_ALT:-}" ]; then
        # shellcheck disable=SC2086 # the flags are meant to split
        "${java[0]}" ${JLISA_GEMM_ALT} "${java[@]:1}" jlisa.bench.GemmTiming "$n" NN "$t" 2>/dev/null \
            | sed "s/layout=NN/layout=ALT/; s/\$/ round=$r/" | tee -a "$log"
    fi
done; done; done
field() { grep -m1 "^$1" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'; }
cpu="$(field 'model name') (family $(field 'cpu family'), model $(field 'model'); $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo no AVX-512))"
plan=$("${java[0]}" --add-modules jdk.incubator.vector -cp "$jar" jlisa.bench.GemmTiming --plan 2>/dev/null || true)
python3 - "$log" "$cpu" "$plan" "${JLISA_GEMM_ALT:-}" <<'PY'
import sys, re, statistics, collections
log, cpu, plan, alt = sys.argv[1:5]
runs = collections.defaultdict(list)
for line in open(log):
    # "openblas n=N threads=T round=R gflops=G" and "gemm n=N layout=L threads=T gflops=G round=R"
    m = re.match(r'(\w+) n=(\d+)(?: layout=(\w+))? threads=(\d+).* gflops=([\d.]+)', line)
    if not m: continue
    who, n, layout, t, g = m.groups()
    runs[(int(n), int(t), 'OB' if who == 'openblas' else layout)].append(float(g))
print(f"\nCPU: {cpu}\n\njlisa's GEMM plan: {plan}\n")
cols = ['NN', 'NT', 'TN'] + (['ALT'] if alt else [])
print("| n | threads | OpenBLAS NN | " + " | ".join(f"jlisa {c}" if c != 'ALT' else f"NN with {alt}" for c in cols)
      + " | " + " | ".join(f"{c}/OB" for c in cols) + " |")
print("|---" * (2 + 2 * len(cols) + 1) + "|")
for n, t in sorted({(k[0], k[1]) for k in runs}):
    med = {l: statistics.median(runs[(n, t, l)]) for l in ['OB'] + cols if runs[(n, t, l)]}
    cell = lambda l: f"{med[l]:.1f} ({' '.join(f'{v:.0f}' for v in runs[(n, t, l)])})" if l in med else "–"
    ratio = lambda l: f"{med[l] / med['OB']:.2f}" if l in med and 'OB' in med else "–"
    print(f"| {n} | {t} | {cell('OB')} | " + " | ".join(cell(c) for c in cols) + " | "
          + " | ".join(ratio(c) for c in cols) + " |")
PY
