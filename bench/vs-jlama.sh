#!/usr/bin/env bash
# jlisa beside Jlama 0.8.4, generating on the same model directories, alternately, so both see the same machine:
#   bench/vs-jlama.sh [PAIRS] DIR...
# For each directory and each thread count (JLISA_BENCH_THREADS, default "1 2"), PAIRS times (default 3):
# `./jlisa bench generate --json` then bench/jlama/run.sh, each with 4 rounds of 64 prompt tokens and 32 decode steps
# (the first round is warm-up). Prints one Markdown row per directory × threads with the medians over the pairs:
# decode and prefill tok/s of both, their ratios, jlisa's share of the bandwidth floor and its peak resident memory
# against the weights, and whether both picked the same greedy tokens. Raw JSON lines go to bench/target/vs-jlama.jsonl.
# A directory needs config.json and model.safetensors (Llama layout, F32 or BF16); the prompt is token ids, so no
# tokenizer. The random-weight directories of bench/RESULTS.md: ./jlisa bench generate --model DIR --random
# smollm-135m|tinyllama-8l [--dtype bf16] writes one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
pairs=3
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then pairs="$1"; shift; fi
[ $# -ge 1 ] || { echo "usage: $0 [PAIRS] DIR..." >&2; exit 2; }
threads_list="${JLISA_BENCH_THREADS:-1 2}"
mkdir -p "$here/target"
log="$here/target/vs-jlama.jsonl"
: > "$log"
prompt=64 new=32 rounds=4

echo "| model | dtype | threads | decode jlisa | decode Jlama | ratio | of floor | prefill jlisa | prefill Jlama | ratio | peak RSS / weights | same tokens |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for dir in "$@"; do
    for t in $threads_list; do
        for ((p = 1; p <= pairs; p++)); do
            "$root/jlisa" bench generate --model "$dir" --threads "$t" --rounds "$rounds" \
                --prompt-tokens "$prompt" --new-tokens "$new" --json 2>/dev/null \
                | sed "s|^|{\"pair\":$p,\"dir\":\"$dir\",\"doc\":|; s|\$|}|" >> "$log"
            "$here/jlama/run.sh" "$dir" "$prompt" "$new" "$t" "$rounds" 2>/dev/null | grep '"round":"median"' \
                | sed "s|^|{\"pair\":$p,\"dir\":\"$dir\",\"doc\":|; s|\$|}|" >> "$log"
        done
        python3 - "$log" "$dir" "$t" <<'PY'
import json, statistics, sys
log, d, t = sys.argv[1], sys.argv[2], int(sys.argv[3])
js, jl = [], []
for line in open(log):
    r = json.loads(line)
    if r["dir"] != d: continue
    doc = r["doc"]
    if doc.get("engine") == "jlisa":
        js += [(doc, x) for x in doc["runs"] if x["threads"] == t]
    elif doc.get("engine") == "jlama" and doc["threads"] == t:
        jl.append(doc)
med = statistics.median
dj, dl = med(r["decode_tok_s"] for _, r in js), med(x["decode_tok_s"] for x in jl)
pj, pl = med(r["prefill_tok_s"] for _, r in js), med(x["prefill_tok_s"] for x in jl)
floor = med(r["of_floor"] for _, r in js)
rss = med(doc["peak_rss_of_weights"] for doc, _ in js)
same = js[0][1]["tokens"] == jl[0]["tokens"]
doc = js[0][0]
print(f"| {d} | {doc['dtype']} | {t} | {dj:.1f} | {dl:.1f} | {dj / dl:.2f}× | {100 * floor:.0f}% | {pj:.0f} | {pl:.0f} "
      f"| {pj / pl:.2f}× | {rss:.2f}× | {'yes' if same else 'no'} |")
PY
    done
done
