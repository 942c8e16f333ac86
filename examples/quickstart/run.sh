#!/usr/bin/env bash
# The fresh-project check: builds this stand-alone Maven project (only the jlisa BOM and published coordinates,
# from the local repository) around the README's Java quickstart, then runs it on the class path and on the
# module path. Each must exit 0. './jlisa test' runs it after 'mvn verify' and 'mvn install'.
#   examples/quickstart/run.sh                 the block between README.md's quickstart markers
#   SNIPPET=file examples/quickstart/run.sh    another source: a Markdown file with the same markers, or a .java file
# Needs: JAVA_HOME set to a JDK 25+ (./jlisa sets it), mvn, and the jlisa artifacts installed (./jlisa install).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$here/target/run"
stage=0
step() { stage=$((stage + 1)); echo "quickstart [$stage/6] $*"; }
fail() { echo "quickstart FAILED at stage $stage: $*" >&2; exit 1; }

if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
    fail "set JAVA_HOME to a JDK 25 or newer (./jlisa test does), got '${JAVA_HOME:-<unset>}'"
fi
java="$JAVA_HOME/bin/java"
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
version="$(sed -n '/<artifactId>jlisa-parent<\/artifactId>/{n;s/.*<version>\(.*\)<\/version>.*/\1/p;}' "$root/pom.xml")"
[ -n "$version" ] || fail "could not read jlisa-parent's version from $root/pom.xml"

step "extract QuickStart from ${SNIPPET:-README.md}"
source_file="${SNIPPET:-$root/README.md}"
[ -f "$source_file" ] || fail "no such file: $source_file"
if grep -q '<!-- quickstart:begin -->' "$source_file"; then
    # the lines inside the ```java fence between the markers, nothing else
    java_src="$(awk '/<!-- quickstart:begin -->/ {inside = 1; next}
                     /<!-- quickstart:end -->/ {inside = 0}
                     inside && /^```java$/ {fence = 1; next}
                     inside && fence && /^```$/ {fence = 0; next}
                     inside && fence {print}' "$source_file")"
    [ -n "$java_src" ] || fail "$source_file has the quickstart markers but no \`\`\`java block between them"
elif [[ "$source_file" == *.java ]]; then
    java_src="$(cat "$source_file")"
else
    fail "$source_file has no '<!-- quickstart:begin -->' marker (and is not a .java file)"
fi
grep -q 'class QuickStart\b' <<<"$java_src" || fail "the snippet declares no class QuickStart"
package="$(sed -n 's/^package \([A-Za-z0-9_.]*\);.*/\1/p' <<<"$java_src" | head -n 1)"
[ -n "$package" ] || fail "the snippet has no package declaration (a named module cannot hold the unnamed package)"
main_class="$package.QuickStart"
find "$here/src/main/java" -mindepth 1 -maxdepth 1 ! -name module-info.java -exec rm -rf {} +
mkdir -p "$here/src/main/java/${package//.//}"
printf '%s\n' "$java_src" > "$here/src/main/java/${package//.//}/QuickStart.java"
echo "    $main_class, $(wc -l <<<"$java_src") lines"

step "make a tiny model directory and a JSONL file to train on (with ./jlisa pretrain)"
rm -rf "$work" && mkdir -p "$work"
for i in $(seq 1 40); do
    word="$(printf 'w%03dabc' "$i")"
    printf '{"prompt": "%s=", "response": "%s"}\n' "$word" "$(rev <<<"$word")"
done > "$work/train.jsonl"
# a freshly initialised llama-tiny (byte-level ids) after one step, saved as a Hugging Face model directory
"$root/jlisa" pretrain --preset llama-tiny --jsonl "$work/train.jsonl" --steps 1 --quiet --save "$work/model" \
    > "$work/pretrain.log" 2>&1 || { cat "$work/pretrain.log" >&2; fail "jlisa pretrain could not save the tiny model"; }
[ -f "$work/model/config.json" ] && [ -f "$work/model/model.safetensors" ] || fail "no model directory at $work/model"

step "build the example against io.github.jlisa:jlisa-bom:$version from the local repository"
mvn -B -ntp -q -f "$here/pom.xml" -Djlisa.version="$version" package \
    || fail "the example did not build; are the jlisa $version artifacts installed? (./jlisa install)"

# Run one way, show what it printed, and fail on a non-zero exit or on warnings that say a flag is missing.
run_quickstart() {
    local how="$1"; shift
    local log="$work/$how.log"
    echo "    \$ java $*"
    if ! (cd "$work" && "$java" "$@" > "$log" 2>&1); then
        sed 's/^/    | /' "$log" >&2
        fail "QuickStart exited non-zero on the $how"
    fi
    sed 's/^/    | /' "$log"
    if grep -E 'restricted method|could not keep C1 off|needs the JDK.s Vector API' "$log" >/dev/null; then
        fail "QuickStart on the $how printed a warning about its JVM flags (above)"
    fi
    grep -vq '^WARNING: Using incubator modules' "$log" || fail "QuickStart on the $how printed nothing"
}

step "run on the class path"
run_quickstart "class path" --add-modules jdk.incubator.vector \
    -cp "$here/target/classes:$here/target/lib/*" "$main_class" model train.jsonl out-class-path

step "run on the module path"
run_quickstart "module path" \
    -p "$here/target/classes:$here/target/lib" -m "jlisa.example.quickstart/$main_class" model train.jsonl out-module-path

step "done: the README's quickstart builds from the published coordinates and runs on both paths"
