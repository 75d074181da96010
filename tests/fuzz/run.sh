#!/usr/bin/env bash
# Builds gwo's libFuzzer targets (fuzz/) with clang in their own build folder, replays
# every input under fuzz/regressions/<target>/ (inputs that once crashed), then fuzzes
# each target for FUZZ_SECONDS (default 20) from its seed corpus: fuzz/corpus/<target>/
# plus examples/*.yaml (job_spec) and tests/fixtures/tokenizers (bpe_tokenizer). New
# inputs go to a scratch folder, never into the repository. A crash fails the test and
# prints the input (hex); save it under fuzz/regressions/<target>/ with the fix.
#
# Usage: run.sh SOURCE_DIR BUILD_DIR [TARGET...]
set -uo pipefail
src=$1
build=$2
shift 2
targets=("$@")
((${#targets[@]})) || targets=(job_spec run_spec safetensors bpe_tokenizer metric_lines)
secs=${FUZZ_SECONDS:-20}

command -v clang++ >/dev/null || { echo "FAIL: clang++ is missing (deploy/install-deps.sh installs clang)"; exit 1; }
mkdir -p "$build"
if ! CC=clang CXX=clang++ cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGWO_FUZZ=ON -DGWO_BUILD_TRAINER=OFF -DGWO_BUILD_TESTS=OFF >"$build/configure.log" 2>&1; then
  tail -n 30 "$build/configure.log"
  exit 1
fi
ninja -C "$build" $(printf 'fuzz_%s ' "${targets[@]}") >"$build/build.log" 2>&1 || {
  grep -m 20 -A 5 "error" "$build/build.log" || tail -n 40 "$build/build.log"
  exit 1
}

work=$(mktemp -d /tmp/gwo-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
for t in "${targets[@]}"; do
  bin=$build/bin/fuzz_$t
  corpus=$work/$t
  mkdir -p "$corpus" "$work/artifacts-$t"
  cp "$src/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null
  case $t in
    job_spec) cp "$src"/examples/*.yaml "$corpus/" ;;
    bpe_tokenizer) cp "$src"/tests/fixtures/tokenizers/*.json "$corpus/" ;;
  esac
  if compgen -G "$src/fuzz/regressions/$t/*" >/dev/null; then
    if ! "$bin" -runs=1 "$src/fuzz/regressions/$t/"* >"$work/$t-regressions.log" 2>&1; then
      echo "FAIL: fuzz_$t: a saved regression input crashes again"
      tail -n 30 "$work/$t-regressions.log"
      failed=1
      continue
    fi
  fi
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts-$t/" "$corpus" >"$work/$t.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
  if [[ $rc -ne 0 ]]; then
    echo "FAIL: fuzz_$t (exit $rc after ${runs:-?} inputs)"
    grep -m 40 -E "ERROR|SUMMARY|#[0-9]+ 0x|Test unit written" "$work/$t.log"
    for a in "$work/artifacts-$t"/*; do
      [[ -f $a ]] && { echo "input $(basename "$a") (save it as fuzz/regressions/$t/NAME):"; od -A d -c "$a" | head -n 40; }
    done
    failed=1
  else
    echo "PASS: fuzz_$t: ${runs:-?} inputs in ${secs} s, no crash ($(ls "$corpus" | wc -l) in the corpus)"
  fi
done
exit $failed
