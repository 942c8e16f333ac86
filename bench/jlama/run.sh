#!/usr/bin/env bash
# Jlama 0.8.4 reference run: bench/jlama/run.sh DIR PROMPT_TOKENS NEW_TOKENS THREADS ROUNDS
# Prints JlamaGenerate's JSON lines (one per round, then "round":"median") on stdout; Jlama's logs go to stderr.
# DIR: a Hugging Face Llama directory (config.json + *.safetensors, F32 or BF16); no tokenizer files are needed.
# Environment: JAVA_HOME (used when it is a JDK 25+), JLAMA_JAVA_OPTS (extra JVM flags, e.g. -Xmx8g or
# -Djlama.bench.bf16acts=true for Jlama's default BF16 activations on BF16 weights).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() { echo "usage: $0 DIR PROMPT_TOKENS NEW_TOKENS THREADS ROUNDS   (all counts >= 1, ROUNDS >= 2: round 1 is warm-up)" >&2; exit 2; }
[ $# -eq 5 ] || usage
dir="$1"; shift
for n in "$@"; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage; done
[ "$4" -ge 2 ] || usage
[ -f "$dir/config.json" ] && compgen -G "$dir/*.safetensors" > /dev/null \
    || { echo "run.sh: $dir has no config.json and *.safetensors" >&2; exit 2; }
threads="$3"

java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }
jdk=/usr/lib/jvm/temurin-25-jdk-amd64
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ "$(java_major "$JAVA_HOME/bin/java")" -ge 25 ] 2>/dev/null; then
    jdk="$JAVA_HOME"
fi

# Class path of jlama-core 0.8.4 + dependencies, resolved once (target/ is git-ignored); redone when pom.xml changes.
mkdir -p "$here/target"
cp_file="$here/target/classpath.txt"
if [ ! -s "$cp_file" ] || [ "$here/pom.xml" -nt "$cp_file" ]; then
    JAVA_HOME="$jdk" MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}" \
        mvn -q -B -ntp -Dstyle.color=never -f "$here/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cp_file" >&2
fi

# Jlama's own launcher (run-cli.sh) inlines its dot products via this compiler directive; keep that advantage.
rules="$here/target/inlinerules.json"
[ -f "$rules" ] || echo '[{ match: ["*.*"], inline: ["+com.github.tjake.jlama.tensor.operations.PanamaTensorOperations::dotProduct*"] }]' > "$rules"

# Threads: JlamaGenerate sizes Jlama's pool to THREADS; the common pool (MLPBlock's parallel activation) gets
# THREADS-1 workers beside the calling thread. Weights are mmap'd, activations are direct buffers: a few GB suffice.
# shellcheck disable=SC2086
exec "$jdk/bin/java" -Xmx4g \
    --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
    --add-opens=jdk.incubator.vector/jdk.incubator.vector=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED \
    -Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0 -XX:+UnlockDiagnosticVMOptions -XX:CompilerDirectivesFile="$rules" \
    -XX:+AlignVector -XX:+DisplayVMOutputToStderr -Djava.util.concurrent.ForkJoinPool.common.parallelism=$((threads - 1)) \
    -Dorg.slf4j.simpleLogger.logFile=System.err ${JLAMA_JAVA_OPTS:-} \
    -cp "$(cat "$cp_file")" "$here/JlamaGenerate.java" "$dir" "$@"
