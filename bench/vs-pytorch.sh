#!/usr/bin/env bash
# Issue 7's contract, alternately: jlisa's `bench train` and ../shared/baselines/torch_gpt2_step.py on configs A, B
# and C, each under /usr/bin/time -v (peak RSS), ROUNDS times (default 2). Run from the repository root; needs
# Debian's python3-torch and libopenblas0-openmp (apt-get install python3-torch libopenblas0-openmp).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
baselines="${JLISA_BASELINES:-$root/../shared/baselines}"
[ -f "$baselines/torch_gpt2_step.py" ] || { echo "vs-pytorch: no torch_gpt2_step.py in $baselines (set JLISA_BASELINES)" >&2; exit 2; }
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2
for round in $(seq 1 "${1:-2}"); do
    for cfg in "A gpt2-124M 4 64 10 2" "B d6 8 128 10 2" "C tiny 16 128 30 5"; do
        read -r name model batch seq steps warmup <<< "$cfg"
        echo "== round $round config $name $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
        /usr/bin/time -v "$root/jlisa" bench train --model "$model" --batch "$batch" --seq "$seq" --steps "$steps" \
            --warmup "$warmup" 2>&1 | grep -E "ms_per|Maximum resident" | tr '\n' ' '; echo
        (cd "$baselines" && /usr/bin/time -v /usr/bin/python3 torch_gpt2_step.py "$name" 2>&1) \
            | grep -E "RESULT|Maximum resident" | tr '\n' ' '; echo
    done
done
