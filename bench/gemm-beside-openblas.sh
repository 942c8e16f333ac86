#!/usr/bin/env bash
# jlisa's fp32 GEMM and numpy's OpenBLAS in ONE process (jlisa.bench.GemmBesideBlas, OpenBLAS called through FFM),
# alternating every 0.3 s: on a machine whose speed swings from second to second, bench/gemm-vs-openblas.sh's
# separate processes see different machines; these slices see nearly the same one. The figure to quote is the median
# of the per-round ratios. usage: bench/gemm-beside-openblas.sh [ROUNDS] [SIZES] [THREADS] [LAYOUTS]
#   (defaults: 9 "1024 2048" "1 2" NN,NT,TN). A size is n (square) or MxNxK, optionally with its own layout as
#   MxNxK:NT; D6_SHAPES below are the products of a d6 training step (jlisa.bench.GemmShapes d6), e.g.
#   bench/gemm-beside-openblas.sh 5 d6 1. Needs bench/target/benchmarks.jar and python3 with numpy.
# Log: bench/target/gemm-beside-openblas.log
set -euo pipefail
cd "$(dirname "$0")/.."
D6_SHAPES="1024x1152x384:NN 1024x384x1152:NT 384x1152x1024:TN 1024x384x384:NN 1024x1536x384:NN 1024x384x1536:NT
 384x1536x1024:TN 1024x384x1536:NN 1024x1536x384:NT 1536x384x1024:TN 1024x50257x384:NT 1024x384x50257:NN
 50257x384x1024:TN 333x50257x384:NT 333x384x50257:NN 50257x384x333:TN"
rounds=${1:-9}; sizes=${2:-"1024 2048"}; threads=${3:-"1 2"}; layouts=${4:-NN,NT,TN}
[ "$sizes" = d6 ] && sizes=$D6_SHAPES
java_home=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
jar=bench/target/benchmarks.jar
[ -f "$jar" ] || { echo "no $jar: run mvn -pl bench -am package -DskipTests" >&2; exit 1; }
lib=$(python3 -c 'import numpy, os, glob; print(glob.glob(os.path.join(os.path.dirname(numpy.__file__), "..", "numpy.libs", "libscipy_openblas64_*.so"))[0])') \
    || { echo "python3 with numpy (and its bundled OpenBLAS) is needed" >&2; exit 1; }
log=bench/target/gemm-beside-openblas.log
: > "$log"
for size in $sizes; do for t in $threads; do
    n=${size%%:*}; l=$layouts
    [ "$n" != "$size" ] && l=${size#*:}
    "$java_home/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp "$jar" \
        jlisa.bench.GemmBesideBlas "$lib" "$n" "$l" "$t" "$rounds" 2>/dev/null | tee -a "$log"
done; done
field() { grep -m1 "^$1" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'; }
echo
echo "CPU: $(field 'model name') (family $(field 'cpu family'), model $(field 'model'))"
echo "jlisa's GEMM plan: $("$java_home/bin/java" --add-modules jdk.incubator.vector -cp "$jar" jlisa.bench.GemmTiming --plan 2>/dev/null)"
echo
echo "| n or m×n×k | threads | layout | jlisa GFLOP/s | OpenBLAS GFLOP/s | ratio (median of rounds) | lowest – highest |"
echo "|---|---|---|---|---|---|---|"
sed -n 's/^summary n=\([0-9x]*\) layout=\([A-Z]*\) threads=\([0-9]*\) rounds=[0-9]* jlisa=\([0-9.]*\) openblas=\([0-9.]*\) ratio=\([0-9.]*\) ratio_min=\([0-9.]*\) ratio_max=\([0-9.]*\)$/| \1 | \3 | \2 | \4 | \5 | \6 | \7 – \8 |/p' "$log"
