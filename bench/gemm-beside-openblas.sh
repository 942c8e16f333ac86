#!/usr/bin/env bash
# jlisa's fp32 GEMM and numpy's OpenBLAS in ONE process (jlisa.bench.GemmBesideBlas, OpenBLAS called through FFM),
# alternating every 0.3 s: on a machine whose speed swings from second to second, bench/gemm-vs-openblas.sh's
# separate processes see different machines; these slices see nearly the same one. The figure to quote is the median
# of the per-round ratios. usage: bench/gemm-beside-openblas.sh [ROUNDS] [SIZES] [THREADS] [LAYOUTS]
#   (defaults: 9 "1024 2048" "1 2" NN,NT,TN). Needs bench/target/benchmarks.jar and python3 with numpy.
# Log: bench/target/gemm-beside-openblas.log
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-9}; sizes=${2:-"1024 2048"}; threads=${3:-"1 2"}; layouts=${4:-NN,NT,TN}
java_home=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
jar=bench/target/benchmarks.jar
[ -f "$jar" ] || { echo "no $jar: run mvn -pl bench -am package -DskipTests" >&2; exit 1; }
lib=$(python3 -c 'import numpy, os, glob; print(glob.glob(os.path.join(os.path.dirname(numpy.__file__), "..", "numpy.libs", "libscipy_openblas64_*.so"))[0])') \
    || { echo "python3 with numpy (and its bundled OpenBLAS) is needed" >&2; exit 1; }
log=bench/target/gemm-beside-openblas.log
: > "$log"
for n in $sizes; do for t in $threads; do
    "$java_home/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp "$jar" \
        jlisa.bench.GemmBesideBlas "$lib" "$n" "$layouts" "$t" "$rounds" 2>/dev/null | tee -a "$log"
done; done
field() { grep -m1 "^$1" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'; }
echo
echo "CPU: $(field 'model name') (family $(field 'cpu family'), model $(field 'model'))"
echo "jlisa's GEMM plan: $("$java_home/bin/java" --add-modules jdk.incubator.vector -cp "$jar" jlisa.bench.GemmTiming --plan 2>/dev/null)"
echo
echo "| n | threads | layout | jlisa GFLOP/s | OpenBLAS GFLOP/s | ratio (median of rounds) | lowest – highest |"
echo "|---|---|---|---|---|---|---|"
sed -n 's/^summary n=\([0-9]*\) layout=\([A-Z]*\) threads=\([0-9]*\) rounds=[0-9]* jlisa=\([0-9.]*\) openblas=\([0-9.]*\) ratio=\([0-9.]*\) ratio_min=\([0-9.]*\) ratio_max=\([0-9.]*\)$/| \1 | \3 | \2 | \4 | \5 | \6 | \7 – \8 |/p' "$log"
