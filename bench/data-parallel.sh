#!/usr/bin/env bash
# Data parallel on one machine (issue 18): Open MPI all-reduce bandwidth through jlisa's Collective, then the same
# fine-tune as 1 rank × 2 threads (batch 2B) and 2 ranks × 1 thread (batch B each), alternating, ROUNDS times.
#   bench/data-parallel.sh [ROUNDS] [STEPS]      (defaults 2, 16; needs mpirun: apt-get install openmpi-bin libopenmpi-dev)
# Prints one line per run: method, layout, tokens/s of the job over the last half of the steps, MiB sent per step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds="${1:-2}" steps="${2:-16}"
export OMPI_MCA_btl_vader_single_copy_mechanism=none   # containers forbid the ptrace-based single copy
mpi=(mpirun --allow-run-as-root --oversubscribe)
./jlisa build >/dev/null
java=""
for d in "${JAVA_HOME:-}" /usr/lib/jvm/*25*; do   # a JDK 25, as the launcher finds it
    if [ -n "$d" ] && "$d/bin/java" -version 2>&1 | grep -q 'version "2[5-9]'; then java="$d/bin/java"; break; fi
done
"${mpi[@]}" -np 2 "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -cp bench/target/benchmarks.jar jlisa.bench.AllReduceBench 2>/dev/null | grep '^allreduce'
data="$(mktemp)"
trap 'rm -f "$data"' EXIT
python3 -c "
import random
random.seed(2)
print('\n'.join(' '.join(str(random.randrange(0, 5000)) for _ in range(200)) for _ in range(400)))" > "$data"
common=(--preset d6 --tokens "$data" --steps "$steps" --block-size 128 --log-every $((steps / 2)) --lr 1e-4)
report() { # method layout: the last step line's tokens/s and sent/step
    local line; line="$(grep '^step=' | tail -n 1)"
    echo "$1 $2 $(grep -o 'tokens/s=[0-9]*' <<<"$line") sent/step=$(grep -o 'sent/step [0-9.]*' <<<"$line" | cut -d' ' -f2 || true)MiB"
}
for r in $(seq "$rounds"); do
    for m in full lisa; do
        JLISA_THREADS=2 ./jlisa finetune "${common[@]}" --method "$m" --lisa-gamma 2 --lisa-period 4 --batch-size 8 2>/dev/null \
            | report "$m" "1rank×2threads"
        "${mpi[@]}" -np 2 ./jlisa finetune "${common[@]}" --method "$m" --lisa-gamma 2 --lisa-period 4 --batch-size 4 \
            2>/dev/null | report "$m" "2ranks×1thread"
    done
done
