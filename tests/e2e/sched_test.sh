#!/usr/bin/env bash
# Scheduling end to end: real coordinator (embedded PostgreSQL), a real worker and
# gwo-train, gwoctl, on loopback; one scenario per invocation:
#   preempt  a priority-5 run arrives while a priority-0 run (max_restarts 0) holds
#            the worker's only slot: the low run's attempt is stopped (preempted),
#            the high run runs and succeeds, then the low run comes back as attempt 2
#            (no restart used), resumes from the checkpoint written on SIGTERM and
#            succeeds with each step of its series once.
#   stages   variant `tuned` has init: {from_variant: baseline}: with two free slots it
#            waits (gwoctl queue says for which run) until baseline succeeded, then
#            starts from baseline's final.ckpt and succeeds.
# Usage: sched_test.sh BIN_DIR SOURCE_DIR SCENARIO
set -uo pipefail
BIN=$1
SRC=$2
SCENARIO=$3
source "$SRC/tests/e2e/lib.sh"
e2e_begin gwo-sched

start() {  # start SLOTS: a coordinator and one worker
  start_coordinator --heartbeat_interval_s 1
  start_worker wa --name wa --slots "$1" --work-dir "$TMP/wa" --stop_grace_s 10
}

submit() {  # submit FILE: prints the first run id
  "$BIN/gwoctl" submit "$1" >"$1.out" 2>&1 || die "submit failed: $(cat "$1.out")"
  sed -n 's/^  run-\([0-9]*\) .*/\1/p' "$1.out" | head -n 1
}

job() {  # job NAME STEPS EXTRA_YAML
  cat <<YAML
name: $1
datasets:
  - name: d
    path: /usr/lib/python3.11
    glob: "*.py"
    max_bytes: 300000
model: {n_layer: 2, n_head: 2, n_embd: 64, block_size: 64}
training: {steps: $2, batch_size: 8, log_every: 5, eval_every: 100, eval_batches: 2, checkpoint_every: 30,
           threads: 1}
$3
YAML
}

# STATE STEP ATTEMPT of run-ID in experiment EXP (from `gwoctl runs`).
fields() { "$BIN/gwoctl" runs "exp-$1" --timeout_s 5 2>/dev/null | awk -v r="run-$2" '$1 == r { print $3, $4, $5 }'; }
state() { fields "$1" "$2" | awk '{ print $1 }'; }
step() { fields "$1" "$2" | awk '{ split($2, s, "/"); print s[1] + 0 }'; }
attempt() { fields "$1" "$2" | awk '{ print $3 }'; }
wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1))
  shift
  while [ $SECONDS -lt $deadline ]; do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}
is_state() { [ "$(state "$1" "$2")" = "$3" ]; }
running_past() { [ "$(state "$1" "$2")" = RUNNING ] && [ "$(step "$1" "$2")" -ge "$3" ]; }
attempt_is() { [ "$(attempt "$1" "$2")" = "$3" ]; }

case "$SCENARIO" in
preempt)
  start 1
  job low 300 "max_restarts: 0" >"$TMP/low.yaml"
  job high 20 "resources: {priority: 5}" >"$TMP/high.yaml"
  LOW=$(submit "$TMP/low.yaml")
  wait_for 120 running_past 1 "$LOW" 65 || die "the low run did not get past step 65 ($(fields 1 "$LOW"))"
  [ "$(step 1 "$LOW")" -lt 240 ] || die "the run is too fast for this test"
  HIGH=$(submit "$TMP/high.yaml")
  check "the coordinator preempts the low run for the high one" \
    wait_for 10 grep -q "preempting run $LOW attempt 1 for run $HIGH" "$TMP/coordinator.log"
  check "the worker is told why" \
    wait_for 10 grep -q "stopping run $LOW attempt 1: preempted for run $HIGH of higher priority" "$TMP/wa.log"
  check "the high run succeeds" wait_for 120 is_state 2 "$HIGH" SUCCEEDED
  check "the low run comes back as attempt 2 (max_restarts 0)" wait_for 30 attempt_is 1 "$LOW" 2
  check "and succeeds" wait_for 180 is_state 1 "$LOW" SUCCEEDED
  LOG2="$TMP/wa/runs/$LOW/attempt-2/train.log"
  RESUMED=$(sed -n 's/.*resuming from .*step-\([0-9]*\)\.ckpt at step \([0-9]*\) .*/\2/p' "$LOG2" | head -n 1)
  echo "attempt 2 started at step ${RESUMED:-?}"
  check "attempt 2 resumed from the checkpoint of the preempted attempt" test "${RESUMED:-0}" -gt 65
  "$BIN/gwoctl" metrics "run-$LOW" --names train_loss >"$TMP/train_loss.txt" 2>&1
  check "the low run's series has each step once, as gwo-train wrote it" \
    python3 "$SRC/tests/e2e/check_series.py" "$TMP/train_loss.txt" "$TMP/wa/runs/$LOW/attempt-2/out/metrics.jsonl" \
    train_loss --steps 300 --log-every 5
  ;;
stages)
  start 2
  job staged 60 "variants:
  - name: baseline
  - name: tuned
    init: {from_variant: baseline, checkpoint: final}
    training: {lr: 0.001}" >"$TMP/staged.yaml"
  BASE=$(submit "$TMP/staged.yaml")
  TUNED=$((BASE + 1))
  wait_for 60 is_state 1 "$BASE" RUNNING || die "baseline did not start"
  "$BIN/gwoctl" queue >"$TMP/queue.txt" 2>&1
  cat "$TMP/queue.txt"
  check "the stage waits for its dependency although a slot is free" \
    grep -q "run-$TUNED .*waiting for run $BASE (baseline/d/seed0)" "$TMP/queue.txt"
  check "baseline succeeds" wait_for 120 is_state 1 "$BASE" SUCCEEDED
  check "then the stage runs and succeeds" wait_for 120 is_state 1 "$TUNED" SUCCEEDED
  check "from baseline's final checkpoint" \
    grep -q "path: \".*/runs/$BASE/attempt-1/out/final.ckpt\"" "$TMP/wa/runs/$TUNED/attempt-1/run.yaml"
  check "with its provenance" grep -q "from_run: $BASE" "$TMP/wa/runs/$TUNED/attempt-1/run.yaml"
  ;;
*)
  die "unknown scenario $SCENARIO"
  ;;
esac

[ "$failed" -ne 0 ] && e2e_logs
e2e_end
