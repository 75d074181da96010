#!/usr/bin/env bash
# End-to-end test: coordinator + worker + gwoctl as real processes on loopback.
#  1. the quickstart experiment runs to SUCCEEDED with a finite val_ppl < 256;
#  2. gwoctl metrics shows the series; a resubmit with the same key is deduplicated;
#  3. bad specs are refused with file:line:column and write nothing;
#  4. a gwo-train that fails or crashes marks its run FAILED with its log tail,
#     and the worker keeps serving; cancel stops a running attempt.
# Usage: quickstart_test.sh BIN_DIR SOURCE_DIR
set -uo pipefail
BIN=$1
SRC=$2
source "$SRC/tests/e2e/lib.sh"
e2e_begin gwo-e2e

start_coordinator --worker_lease_s 10
echo "coordinator at $ADDR"

start_worker worker --name e2e-worker --slots 2 --work-dir "$TMP/work" --stop_grace_s 5

# 1. The quickstart, to the end.
"$BIN/gwoctl" submit "$SRC/examples/quickstart.yaml" --wait --idempotency_key e2e-quickstart \
  >"$TMP/submit.out" 2>&1
submit_rc=$?
cat "$TMP/submit.out"
check "quickstart submit --wait exits 0" test "$submit_rc" -eq 0
check "every quickstart run succeeded" grep -q "2/2 runs succeeded" "$TMP/submit.out"
ppl_ok() {
  local n=0
  while read -r ppl; do
    awk -v p="$ppl" 'BEGIN { exit !(p + 0 == p && p > 1 && p < 256) }' || return 1
    n=$((n + 1))
  done < <(sed -n 's/.*final val_ppl \([0-9.eE+-]*\).*/\1/p' "$TMP/submit.out")
  [ "$n" -eq 2 ]
}
check "each run ends with a finite val_ppl below 256" ppl_ok

# 2. Metrics and idempotency.
RUN1=$(sed -n 's/^  \(run-[0-9]*\) .*/\1/p' "$TMP/submit.out" | head -n 1)
"$BIN/gwoctl" metrics "$RUN1" >"$TMP/metrics.out" 2>&1
check "gwoctl metrics shows val_ppl and train_loss" grep -q "val_ppl" "$TMP/metrics.out"
check "gwoctl metrics shows the last step" grep -qE "^500 " "$TMP/metrics.out"
"$BIN/gwoctl" submit "$SRC/examples/quickstart.yaml" --idempotency_key e2e-quickstart >"$TMP/resubmit.out" 2>&1
check "same idempotency key returns the same experiment" grep -q "already submitted: exp-1 " "$TMP/resubmit.out"

# 2b. A run that starts from another run's final checkpoint.
RUN1_ID=${RUN1#run-}
printf 'name: finetune\ndatasets:\n  - name: d\n    path: /usr/lib/python3.11\n    glob: "*.py"\n    max_bytes: 200000\nmodel:\n  n_layer: 2\n  n_head: 2\n  n_embd: 64\n  block_size: 64\n  init: {from_run: %s}\ntraining: {steps: 5, eval_every: 5}\n' \
  "$RUN1_ID" >"$TMP/finetune.yaml"
"$BIN/gwoctl" submit "$TMP/finetune.yaml" --wait >"$TMP/finetune.out" 2>&1
check "a run initialised from another run succeeds" grep -q "1/1 runs succeeded" "$TMP/finetune.out"
FT_RUN=$(sed -n 's/^  run-\([0-9]*\) .*/\1/p' "$TMP/finetune.out")
check "its run spec points at that run's checkpoint" \
  grep -q "from_run: $RUN1_ID" "$TMP/work/runs/$FT_RUN/attempt-1/run.yaml"
check "its weights came from that checkpoint" \
  grep -q "initial weights from .*runs/$RUN1_ID/attempt-1/out/final.ckpt" "$TMP/work/runs/$FT_RUN/attempt-1/train.log"

# 3. Bad input: refused with a position, nothing written, coordinator still serving.
cat >"$TMP/bad.yaml" <<'YAML'
name: bad
datasets:
  - name: d
    path: /usr/lib/python3.11
training:
  steps: -3
YAML
"$BIN/gwoctl" submit "$TMP/bad.yaml" >"$TMP/bad.out" 2>&1
bad_rc=$?
cat "$TMP/bad.out"
check "negative steps are refused" test "$bad_rc" -ne 0
check "the error names file:line:column" grep -q "bad.yaml:6:10: training.steps" "$TMP/bad.out"
printf 'name: x\ndatasets: [\n' >"$TMP/malformed.yaml"
"$BIN/gwoctl" submit "$TMP/malformed.yaml" >"$TMP/malformed.out" 2>&1
check "malformed YAML is refused" grep -q "malformed.yaml:.*malformed YAML" "$TMP/malformed.out"
mkdir -p "$TMP/empty-corpus"
: >"$TMP/empty-corpus/a.txt"
printf 'name: empty\ndatasets:\n  - name: d\n    path: %s\n' "$TMP/empty-corpus" >"$TMP/empty.yaml"
"$BIN/gwoctl" submit "$TMP/empty.yaml" >"$TMP/empty.out" 2>&1
check "an empty corpus is refused" grep -q "empty.yaml:4:11: datasets\[0\].path: empty corpus" "$TMP/empty.out"
printf 'name: init\ndatasets:\n  - name: d\n    path: /usr/lib/python3.11\nmodel:\n  init: {from_run: 999}\n' >"$TMP/init.yaml"
"$BIN/gwoctl" submit "$TMP/init.yaml" >"$TMP/init.out" 2>&1
check "init from an unknown run is refused" grep -q "init.yaml:6:9: model.init.from_run: no run with id 999" "$TMP/init.out"
"$BIN/gwoctl" list >"$TMP/list.out" 2>&1
check "refused submits wrote nothing" test "$(grep -c '^exp-' "$TMP/list.out")" -eq 2  # quickstart + finetune

# 4a. A gwo-train that fails: corpus too small for the context length.
mkdir -p "$TMP/tiny"
echo "print('hi')" >"$TMP/tiny/a.py"
echo "print('yo')" >"$TMP/tiny/b.py"
printf 'name: tiny\ndatasets:\n  - name: d\n    path: %s\nmodel: {block_size: 64}\ntraining: {steps: 5}\n' \
  "$TMP/tiny" >"$TMP/tiny.yaml"
"$BIN/gwoctl" submit "$TMP/tiny.yaml" --wait >"$TMP/tiny.out" 2>&1
check "a failing gwo-train marks its run FAILED" grep -q "0/1 runs succeeded" "$TMP/tiny.out"
check "the failure quotes gwo-train's log" grep -q "gwo-train: error" "$TMP/tiny.out"

# 4b. A gwo-train killed by a signal, then a cancel; the worker keeps serving.
long_spec() {
  printf 'name: %s\ndatasets:\n  - name: d\n    path: %s\n    glob: "*.py"\n    max_bytes: 200000\n' \
    "$1" /usr/lib/python3.11
  printf 'model: {n_layer: 1, n_embd: 32, n_head: 2, block_size: 32}\ntraining: {steps: 1000000, eval_every: 100000}\n'
}
wait_state() {  # wait_state RUN STATE
  for _ in $(seq 150); do
    "$BIN/gwoctl" runs "$1" 2>/dev/null | grep -q " $2 " && return 0
    sleep 0.2
  done
  return 1
}
# A crash is worth another attempt (see recovery_test.sh); max_restarts 0 fails it at once.
{ long_spec crash; echo "max_restarts: 0"; } >"$TMP/crash.yaml"
"$BIN/gwoctl" submit "$TMP/crash.yaml" >"$TMP/crash.out" 2>&1
CRASH_EXP=$(sed -n 's/^submitted \(exp-[0-9]*\) .*/\1/p' "$TMP/crash.out")
check "crash experiment starts running" wait_state "$CRASH_EXP" RUNNING
CRASH_RUN=$(sed -n 's/^  run-\([0-9]*\) .*/\1/p' "$TMP/crash.out")
pkill -SEGV -f "gwo-train --spec $TMP/work/runs/$CRASH_RUN/" 
check "a crashed gwo-train marks its run FAILED" wait_state "$CRASH_EXP" FAILED
"$BIN/gwoctl" describe "$CRASH_EXP" >"$TMP/crash-describe.out" 2>&1
check "the failure names the signal" grep -q "killed by signal 11" "$TMP/crash-describe.out"
check "the worker survived the crash" kill -0 "$WORKER_PID"

long_spec cancel >"$TMP/cancel.yaml"
"$BIN/gwoctl" submit "$TMP/cancel.yaml" >"$TMP/cancel.out" 2>&1
CANCEL_EXP=$(sed -n 's/^submitted \(exp-[0-9]*\) .*/\1/p' "$TMP/cancel.out")
CANCEL_RUN=$(sed -n 's/^  run-\([0-9]*\) .*/\1/p' "$TMP/cancel.out")
check "cancel experiment starts running" wait_state "$CANCEL_EXP" RUNNING
"$BIN/gwoctl" cancel "$CANCEL_EXP" >"$TMP/cancel2.out" 2>&1
check "gwoctl cancel reports the stopped run" grep -q "1 unfinished run(s) stopped" "$TMP/cancel2.out"
check "cancelled run shows CANCELLED" wait_state "$CANCEL_EXP" CANCELLED
gone() {
  for _ in $(seq 100); do
    pgrep -f "gwo-train --spec $TMP/work/runs/$CANCEL_RUN/" >/dev/null || return 0
    sleep 0.2
  done
  return 1
}
check "the cancelled attempt's process is gone" gone

# The worker still takes work after all that.
printf 'name: after\ndatasets:\n  - name: d\n    path: /usr/lib/python3.11\n    glob: "*.py"\n    max_bytes: 100000\nmodel: {n_layer: 1, n_embd: 32, n_head: 2, block_size: 32}\ntraining: {steps: 5, eval_every: 5}\n' >"$TMP/after.yaml"
"$BIN/gwoctl" submit "$TMP/after.yaml" --wait >"$TMP/after.out" 2>&1
check "the worker keeps serving after failures" grep -q "1/1 runs succeeded" "$TMP/after.out"

# gwoctl against nothing: one clear line.
GWO_COORDINATOR=127.0.0.1:1 "$BIN/gwoctl" list >"$TMP/down.out" 2>&1
check "unreachable coordinator gives one clear line" \
  bash -c "grep -q 'cannot reach the coordinator at 127.0.0.1:1' '$TMP/down.out' && test \$(wc -l <'$TMP/down.out') -eq 1"

[ "$failed" -ne 0 ] && E2E_LOG_LINES=60 e2e_logs
e2e_end
