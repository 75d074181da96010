#!/usr/bin/env bash
# The five example experiments at their GPU scale, shortened, on a GPU machine, one command:
# builds gwo (Release), starts a coordinator (embedded PostgreSQL) and a worker, submits
# every examples/*.yaml with `--scale gpu` after bench/gpu_examples/shrink.py cut it to a
# few steps and one seed (shapes, contexts, batches, tokenizers, corpora and metrics kept),
# waits, and writes each experiment's report and per-run state under $OUT. A check that
# the GPU scale runs end to end (models, attention kinds, distillation, LoRA, ICL, CUDA
# memory statistics), not a scientific result.
#
#   source .debs/env.sh && bench/gpu_examples/run.sh
#
# Needs, git-ignored and carried: bench/generate/.carry/pg15.tgz (see bench/generate/run.sh)
# and .carry-gpu/{corpora.txz,pystdlib.txz}: the prepared corpora of the build machine
# (brown, math-synth, spam, gpt2, python-stdlib) and the Python 3.11 sources the
# python-stdlib recipe reads, made there with
#   (cd ~/.cache/gwo/corpora && tar cJf $REPO/.carry-gpu/corpora.txz brown math-synth spam gpt2 python-stdlib)
#   (cd / && find usr/lib/python3.11 -name '*.py' -print0 | tar --null -T - -cJf $REPO/.carry-gpu/pystdlib.txz)
# Environment: OUT (default /tmp/gwo-gpu-examples), STEPS (10), SLOTS (runs at once, 1:
# several runs of these shapes do not fit on one 80 GB GPU together),
# TIME_LIMIT_S (wait at most this long for all runs, 420), EXAMPLES (names, default all five),
# SHRINK_ARGS (passed to shrink.py, e.g. "--variants baseline,nsa --datasets prose" to rerun
# a few runs), EXTRA_CHECKS (1: also build and run the 1M-point downsample test and the LibTorch test
# binaries of gwo-train on this host; 0: skip). Writes everything as $OUT/results.tgz.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-/tmp/gwo-gpu-examples}
BUILD=${BUILD:-/tmp/gwo-examples-build}
STEPS=${STEPS:-10}
SLOTS=${SLOTS:-1}
source "$root/bench/lib.sh"
bench_begin gwo-gpuex

log "building gwo (Release) in $BUILD"
cmake -S "$root" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release ${GWO_PG_ARGS:-} >"$OUT/cmake.log" 2>&1
ninja -C "$BUILD" -j "$(nproc)" gwo-train gwo-coordinator gwo-worker gwoctl >"$OUT/build.log" 2>&1 \
  || { grep -m 20 -B 2 -A 6 "error" "$OUT/build.log" || tail -n 40 "$OUT/build.log"; exit 1; }
bin=$BUILD/bin

# Corpora: the build machine's, with the python-stdlib recipe pointed at the carried sources.
export GWO_CORPORA_DIR=$work/corpora
mkdir -p "$GWO_CORPORA_DIR" "$work/py"
tar xJf "$root/.carry-gpu/corpora.txz" -C "$GWO_CORPORA_DIR"
tar xJf "$root/.carry-gpu/pystdlib.txz" -C "$work/py"
sed -i "s#\"/usr/lib/python3.11\"#\"$work/py/usr/lib/python3.11\"#g" "$GWO_CORPORA_DIR/python-stdlib/recipe.json"
pg_bin=""
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  mkdir -p /opt/pg && tar xzf "$root/bench/generate/.carry/pg15.tgz" -C /opt/pg
  pg_bin=/opt/pg/usr/lib/postgresql/15/bin
  # The store tests look under /usr/lib/postgresql only.
  [[ -w /usr/lib ]] && tar xzf "$root/bench/generate/.carry/pg15.tgz" -C / 2>/dev/null || true
fi

# Its first start writes the admin and worker tokens here, for gwoctl and gwo-worker.
export GWO_CONFIG=$work/gwo-config.json
"$bin/gwo-coordinator" --listen 127.0.0.1:0 --data-dir "$work/data" ${pg_bin:+--pg_bin_dir "$pg_bin"} \
  --path_roots "$work,/usr/lib,/usr/share,$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')" \
  >"$work/coordinator.out" 2>"$OUT/coordinator.log" &
PIDS+=($!)
for _ in $(seq 300); do
  grep -q "listening on" "$work/coordinator.out" 2>/dev/null && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { tail -n 20 "$OUT/coordinator.log"; exit 1; }
  sleep 0.2
done
export GWO_COORDINATOR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$work/coordinator.out")
"$bin/gwo-worker" --name gpu0 --slots "$SLOTS" --work-dir "$work/work" >"$work/worker.out" 2>"$OUT/worker.log" &
PIDS+=($!)
log "coordinator at $GWO_COORDINATOR; worker with $SLOTS slots"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt" || true

exps=()
for name in ${EXAMPLES:-factorized-lora masks-distill performer-nsa-distill natural-side-by-side dual-form-icl}; do
  f=$root/examples/$name.yaml
  python3 "$root/bench/gpu_examples/shrink.py" "$f" "$work/$name.yaml" --steps "$STEPS" ${SHRINK_ARGS:-}
  cp "$work/$name.yaml" "$OUT/$name.smoke.yaml"
  if "$bin/gwoctl" submit "$work/$name.yaml" --scale gpu >"$OUT/$name.submit.log" 2>&1; then
    exp=$(grep -o 'exp-[0-9]*' "$OUT/$name.submit.log" | head -n 1)
    exps+=("$name:$exp")
    log "submitted $name as $exp"
  else
    log "submit of $name FAILED"; cat "$OUT/$name.submit.log"
  fi
done

# Meanwhile, with the CPU cores: the store's 1M-point downsample test and the LibTorch
# test binaries of gwo-train (the CUDA LibTorch build's file-writing tests crashed once).
if [[ ${EXTRA_CHECKS:-1} == 1 ]]; then
  (nice ninja -C "$BUILD" -j 8 series_store_test gwo_trainer_test gwo_models_test >"$OUT/build_tests.log" 2>&1; echo $? >"$work/tests_built") &
fi
deadline=$((SECONDS + ${TIME_LIMIT_S:-420}))
for e in "${exps[@]}"; do
  exp=${e#*:}
  left=$((deadline - SECONDS)); ((left > 5)) || left=5
  timeout "$left" "$bin/gwoctl" wait "$exp" >"$OUT/${e%%:*}.wait.log" 2>&1 || log "${e%%:*} ($exp) did not finish in time or failed"
done
for e in "${exps[@]}"; do
  name=${e%%:*} exp=${e#*:}
  "$bin/gwoctl" runs "$exp" >"$OUT/$name.runs.txt" 2>&1 || true
  "$bin/gwoctl" report "$exp" --format markdown >"$OUT/$name.report.md" 2>&1 || true
  echo "== $name ($exp)"; cat "$OUT/$name.runs.txt"
done
# Each failed run's log tail, for the record.
for e in "${exps[@]}"; do
  exp=${e#*:}
  for r in $(grep -E 'FAILED|CANCELLED' "$OUT/${e%%:*}.runs.txt" | grep -o 'run-[0-9]*' || true); do
    echo "== $r"; "$bin/gwoctl" logs "$r" --tail 15 2>&1 || true
  done
done | tee "$OUT/failed-runs.log"
(cd "$work/work" && find runs \( -name metrics.jsonl -o -name samples.jsonl \) -print0 | tar --null -T - -cf -) | tar -xf - -C "$OUT" || true

if [[ ${EXTRA_CHECKS:-1} == 1 ]]; then
  for _ in $(seq 240); do [[ -f $work/tests_built ]] && break; sleep 1; done
  if [[ $(cat "$work/tests_built" 2>/dev/null) == 0 ]]; then
    log "1M-point downsample (series_store_test), on this idle host"
    "$BUILD/tests/series_store_test" --gtest_filter='*OneMillion*' 2>&1 | tee "$OUT/series_test.log" | grep -E "measurement|OK|FAILED" || true
    for t in gwo_trainer_test gwo_models_test; do
      log "$t with this LibTorch"
      rc=0
      (cd "$work" && timeout 300 "$BUILD/tests/$t" >"$OUT/$t.log" 2>&1) || rc=$?
      echo "$t exit $rc" | tee -a "$OUT/$t.log"
      grep -E "^\[  (PASSED|FAILED) |tests? ran" "$OUT/$t.log" | head -n 8 || true
    done
    if command -v cuda-gdb >/dev/null; then
      (cd "$work" && timeout 120 cuda-gdb -batch -ex run -ex bt -ex "info sharedlibrary" --args "$BUILD/tests/gwo_trainer_test" \
        --gtest_filter='WriteFileAtomically.*' >"$OUT/trainer_test_gdb.log" 2>&1) || true
      grep -E -A 25 "SIGSEGV|signal" "$OUT/trainer_test_gdb.log" | head -n 40 || echo "no crash under cuda-gdb"
    fi
  else
    log "test binaries did not build"; tail -n 30 "$OUT/build_tests.log"
  fi
fi

# One archive of everything (the device tool returns a limited number of files).
tar czf "$OUT.tgz" -C "$OUT" . && rm -rf "${OUT:?}"/* && mv "$OUT.tgz" "$OUT/results.tgz"
