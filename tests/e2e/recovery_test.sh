#!/usr/bin/env bash
# Fault-injection end-to-end tests (issue 5: nothing accepted is lost or done
# twice). Real coordinator (embedded PostgreSQL), real workers and gwo-train,
# gwoctl, on loopback; one scenario per invocation:
#   worker_kill       SIGKILL the worker of a running attempt (two workers): the run
#                     is requeued within the lease + a sweep, resumes from its
#                     checkpoint on the other worker, and its series has each step once.
#   coordinator_kill  SIGKILL the coordinator mid-run and restart it on the same data
#                     dir and port: the attempt continues (no restart), no metric lost
#                     or duplicated.
#   postgres_restart  stop PostgreSQL mid-run, call the API during the outage (it
#                     answers UNAVAILABLE within its deadline), start it again: same
#                     guarantees as above.
#   worker_cutoff     SIGSTOP a worker (and its gwo-train) past its lease, then SIGCONT: its attempt has
#                     moved on, its late reports are refused, it stops the stale
#                     attempt, and the run's data stays consistent.
# Usage: recovery_test.sh BIN_DIR SOURCE_DIR SCENARIO
set -uo pipefail
BIN=$1
SRC=$2
SCENARIO=$3
source "$SRC/tests/e2e/lib.sh"
e2e_begin gwo-recovery
LEASE=3         # --worker_lease_s
# The faults hit past step 2 * CKPT_EVERY + 5; STEPS leaves room for a fast machine
# to still be mid-run by then, and a slow one to finish in tens of seconds.
STEPS=400       # training steps of the run
LOG_EVERY=5
CKPT_EVERY=20
declare -A WORKER_PID
COORD_PID=0

# Before the common cleanup stops PIDS: continue what a scenario stopped, and kill the
# gwo-train children orphaned by a killed worker and a PostgreSQL orphaned by a killed
# coordinator, by their pids.
recovery_cleanup() {
  local p pm
  for p in "${PIDS[@]}" $(pgrep -f "gwo-train --spec $TMP/"); do kill -CONT "$p" 2>/dev/null; done
  for p in $(pgrep -f "gwo-train --spec $TMP/"); do kill -KILL "$p" 2>/dev/null; done
  pm=$(head -n 1 "$TMP/data/postgres/postmaster.pid" 2>/dev/null)
  [ -n "$pm" ] && kill -QUIT "$pm" 2>/dev/null
  sleep 0.5
}
E2E_BEFORE_CLEANUP=recovery_cleanup

restartable_coordinator() {  # restartable_coordinator PORT (0: any)
  E2E_COORD_PORT=$1 start_coordinator --worker_lease_s $LEASE --heartbeat_interval_s 1 --requeue_backoff_s 0.5
  PG_PORT=$(sed -n 's/.*PostgreSQL in .*, port \([0-9]*\)).*/\1/p' "$TMP/coordinator.out")
}

add_worker() {  # add_worker NAME
  start_worker "$1" --name "$1" --slots 1 --work-dir "$TMP/$1" --stop_grace_s 3 --resend_after_s 1 \
    --max_reconnect_backoff_s 1
  WORKER_PID[$1]=$WORKER_PID
}

submit() {
  cat >"$TMP/job.yaml" <<YAML
name: recovery
datasets:
  - name: d
    path: /usr/lib/python3.11
    glob: "*.py"
    max_bytes: 300000
model: {n_layer: 2, n_head: 2, n_embd: 64, block_size: 64}
training: {steps: $STEPS, batch_size: 8, log_every: $LOG_EVERY, eval_every: 100, eval_batches: 2,
           checkpoint_every: $CKPT_EVERY, threads: 1}
YAML
  "$BIN/gwoctl" submit "$TMP/job.yaml" >"$TMP/submit.out" 2>&1 || die "submit failed: $(cat "$TMP/submit.out")"
  RUN=$(sed -n 's/^  run-\([0-9]*\) .*/\1/p' "$TMP/submit.out" | head -n 1)
  [ -n "$RUN" ] || die "no run in: $(cat "$TMP/submit.out")"
}

# Fields of the run from `gwoctl runs`: STATE STEP ATTEMPT WORKER (STEP as done/total).
run_fields() {
  "$BIN/gwoctl" runs exp-1 --timeout_s 5 2>/dev/null | awk -v r="run-$RUN" '$1 == r { print $3, $4, $5, $6 }'
}
state() { run_fields | awk '{ print $1 }'; }
step() { run_fields | awk '{ split($2, s, "/"); print s[1] + 0 }'; }
attempt() { run_fields | awk '{ print $3 }'; }
worker() { run_fields | awk '{ print $4 }'; }

wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1))
  shift
  while [ $SECONDS -lt $deadline ]; do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}
running_past() { [ "$(state)" = RUNNING ] && [ "$(step)" -ge "$1" ]; }
attempt_running() { [ "$(state)" = RUNNING ] && [ "$(attempt)" = "$1" ]; }
succeeded() { [ "$(state)" = SUCCEEDED ]; }

# The series in the database equals what gwo-train wrote (one jsonl), each step once.
series_matches() {  # series_matches JSONL
  "$BIN/gwoctl" metrics "run-$RUN" --names train_loss >"$TMP/train_loss.txt" 2>&1 || return 1
  "$BIN/gwoctl" metrics "run-$RUN" --names val_loss >"$TMP/val_loss.txt" 2>&1 || return 1
  python3 "$SRC/tests/e2e/check_series.py" "$TMP/train_loss.txt" "$1" train_loss --steps $STEPS \
    --log-every $LOG_EVERY && python3 "$SRC/tests/e2e/check_series.py" "$TMP/val_loss.txt" "$1" val_loss
}

# Waits until the run is past its second checkpoint; dies if it ended before.
reach_mid_run() {
  wait_for 120 running_past $((2 * CKPT_EVERY + 5)) || die "run did not get past step $((2 * CKPT_EVERY + 5)) ($(run_fields))"
  local s
  s=$(step)
  [ "$s" -lt $((STEPS - 60)) ] || die "the run is too fast for this test (already at step $s)"
  echo "run-$RUN at step $s on $(worker)"
}

# VICTIM: the worker running the attempt; OTHER: the idle one.
pick_victim() {
  VICTIM=$(worker)
  OTHER=$([ "$VICTIM" = wa ] && echo wb || echo wa)
}

case "$SCENARIO" in
worker_kill)
  restartable_coordinator 0
  add_worker wa
  add_worker wb
  submit
  reach_mid_run
  pick_victim
  kill -KILL "${WORKER_PID[$VICTIM]}"
  killed_ms=$(date +%s%3N)
  check "the run gets attempt 2 on the other worker" wait_for 30 attempt_running 2
  check "on the other worker" test "$(worker)" = "$OTHER"
  # When the coordinator released the attempt and assigned the next, by its log.
  ms_of() { date -d "$(grep -m 1 "$1" "$TMP/coordinator.log" | cut -d' ' -f1)" +%s%3N; }
  released_ms=$(ms_of "worker $VICTIM .* releasing its attempts")
  assigned_ms=$(ms_of "run $RUN .* attempt 2 -> worker")
  echo "released $((released_ms - killed_ms)) ms after the kill, attempt 2 assigned after $((assigned_ms - killed_ms)) ms (lease ${LEASE} s, sweeps every 1 s, backoff 0.5 s)"
  check "released within the lease + one sweep" test $((released_ms - killed_ms)) -le $(((LEASE + 1) * 1000 + 300))
  check "reassigned within the lease + one sweep + the backoff + one sweep" \
    test $((assigned_ms - killed_ms)) -le $(((LEASE + 2) * 1000 + 800))
  check "the run succeeds" wait_for 120 succeeded
  LOG2="$TMP/$OTHER/runs/$RUN/attempt-2/train.log"
  RESUMED=$(sed -n 's/.*resuming from .*step-\([0-9]*\)\.ckpt at step \([0-9]*\) .*/\2/p' "$LOG2" | head -n 1)
  echo "attempt 2 started at step ${RESUMED:-?}"
  check "attempt 2 resumed from a checkpoint (started at step > 1)" test "${RESUMED:-0}" -gt 1
  check "the coordinator logged the resume" grep -q "run $RUN attempt 2 resumed from step" "$TMP/coordinator.log"
  check "the series has each step once, as gwo-train wrote it" \
    series_matches "$TMP/$OTHER/runs/$RUN/attempt-2/out/metrics.jsonl"
  ;;
coordinator_kill)
  restartable_coordinator 0
  PORT=${ADDR##*:}
  add_worker wa
  submit
  reach_mid_run
  kill -KILL $COORD_PID
  sleep 2
  check "training goes on without the coordinator" pgrep -f "gwo-train --spec $TMP/wa/runs/$RUN/attempt-1/" >/dev/null
  restartable_coordinator "$PORT"
  check "the run succeeds" wait_for 120 succeeded
  check "with its first attempt (no restart)" test "$(attempt)" = 1
  check "the worker reattached its attempt" grep -q "1 attempt(s) reattached" "$TMP/coordinator.log"
  check "the series has each step once, as gwo-train wrote it" \
    series_matches "$TMP/wa/runs/$RUN/attempt-1/out/metrics.jsonl"
  spool_empty() { [ ! -s "$TMP/wa/spool/reports.log" ]; }
  check "the worker's spool drains (everything acknowledged)" wait_for 10 spool_empty
  ;;
postgres_restart)
  restartable_coordinator 0
  add_worker wa
  submit
  reach_mid_run
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  AS_PG=()
  [ "$(id -u)" -eq 0 ] && AS_PG=(runuser -u postgres --)
  (cd / && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$TMP/data/postgres" -m fast -w stop >"$TMP/pg_stop.out" 2>&1) ||
    die "pg_ctl stop: $(cat "$TMP/pg_stop.out")"
  t0=$(date +%s%3N)
  "$BIN/gwoctl" list --timeout_s 5 >"$TMP/outage.out" 2>&1
  outage_rc=$?
  elapsed_ms=$(($(date +%s%3N) - t0))
  echo "gwoctl list during the outage: rc $outage_rc after ${elapsed_ms} ms: $(cat "$TMP/outage.out")"
  check "an RPC during the outage fails" test $outage_rc -ne 0
  check "grpc.health.v1 says NOT_SERVING while the database is down" \
    /usr/bin/python3 "$SRC/tests/e2e/grpc_probe.py" health "$ADDR" NOT_SERVING 6
  check "with UNAVAILABLE from the database" grep -q "cannot reach its database right now (UNAVAILABLE" "$TMP/outage.out"
  check "within its deadline (5 s)" test $elapsed_ms -lt 5500
  "$BIN/gwoctl" submit "$TMP/job.yaml" --idempotency_key during-outage --timeout_s 5 >"$TMP/outage-submit.out" 2>&1
  check "a submit during the outage is refused" test $? -ne 0
  sleep 2  # the worker trains on and its reports wait in its spool
  (cd / && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$TMP/data/postgres" -l "$TMP/data/postgres/server.log" -w \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >"$TMP/pg_start.out" 2>&1) ||
    die "pg_ctl start: $(cat "$TMP/pg_start.out")"
  check "reports failed during the outage" grep -q "not stored" "$TMP/coordinator.log"
  check "the run succeeds" wait_for 120 succeeded
  check "with its first attempt (no restart)" test "$(attempt)" = 1
  check "the series has each step once, as gwo-train wrote it" \
    series_matches "$TMP/wa/runs/$RUN/attempt-1/out/metrics.jsonl"
  "$BIN/gwoctl" submit "$TMP/job.yaml" --idempotency_key during-outage >/dev/null 2>&1
  "$BIN/gwoctl" submit "$TMP/job.yaml" --idempotency_key during-outage >/dev/null 2>&1
  check "the retried submit is stored once" test "$("$BIN/gwoctl" list | grep -c '^exp-')" -eq 2
  ;;
worker_cutoff)
  restartable_coordinator 0
  add_worker wa
  add_worker wb
  submit
  reach_mid_run
  pick_victim
  # The whole host freezes (worker and its gwo-train), as a paused VM would.
  STALE=$(pgrep -f "gwo-train --spec $TMP/$VICTIM/runs/$RUN/attempt-1/")
  [ -n "$STALE" ] || die "no gwo-train process for attempt 1 on $VICTIM"
  kill -STOP "${WORKER_PID[$VICTIM]}" $STALE
  check "the run gets attempt 2 on the other worker" wait_for 30 attempt_running 2
  check "on the other worker" test "$(worker)" = "$OTHER"
  sleep 1
  kill -CONT "${WORKER_PID[$VICTIM]}" $STALE
  stale_gone() { ! pgrep -f "gwo-train --spec $TMP/$VICTIM/runs/$RUN/attempt-1/" >/dev/null; }
  check "the cut-off worker stops its stale attempt" wait_for 30 stale_gone
  check "it was told to" grep -q "stopping run $RUN attempt 1" "$TMP/$VICTIM.log"
  # Which message of the thawed worker the coordinator answers first is a race: its
  # registration (still claiming attempt 1) or a late report of attempt 1. Either way
  # the stop must say the attempt is stale; the series check below shows that nothing
  # the stale attempt reported was stored.
  check "because attempt 1 is stale (registration or a refused late report)" \
    grep -Eq "stopping run $RUN attempt 1: (attempt is no longer current|.*attempt 1 is not the running attempt .* report refused)" \
    "$TMP/$VICTIM.log"
  check "the run succeeds" wait_for 120 succeeded
  check "with attempt 2" test "$(attempt)" = 2
  check "the series has each step once, as gwo-train wrote it" \
    series_matches "$TMP/$OTHER/runs/$RUN/attempt-2/out/metrics.jsonl"
  victim_spool_empty() { [ ! -s "$TMP/$VICTIM/spool/reports.log" ]; }
  check "the cut-off worker's refused reports leave its spool" wait_for 10 victim_spool_empty
  ;;
*)
  die "unknown scenario $SCENARIO"
  ;;
esac

[ "$failed" -ne 0 ] && e2e_logs
e2e_end
