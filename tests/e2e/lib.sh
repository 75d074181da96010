# What every end-to-end script shares: sourced after BIN (the build's bin folder) is set.
#
#   e2e_begin PREFIX            TMP (a fresh folder /tmp/PREFIX-XXXXXX), GWO_CONFIG (in TMP),
#                               PIDS, the pass/fail counters and the exit trap that stops PIDS
#                               and removes TMP
#   check NAME COMMAND...       runs COMMAND; counts and prints PASS or FAIL
#   e2e_logs                    the last E2E_LOG_LINES (40) lines of every $TMP/*.log
#   die MESSAGE                 FATAL, the logs, the counts with one more failure; exit 1
#   start_coordinator FLAG...   gwo-coordinator on 127.0.0.1:$E2E_COORD_PORT (default 0: any)
#                               with its data under $TMP/data, spec paths allowed under $TMP
#                               and the default roots, output in $TMP/coordinator.out
#                               (this start's) and .log (all starts'); waits until it listens;
#                               sets COORD_PID and ADDR and exports GWO_COORDINATOR
#   start_worker LOG FLAG...    gwo-worker FLAG..., output in $TMP/LOG.{out,log}; sets WORKER_PID
#   e2e_end                     the counts; returns 0 only when nothing failed
#
# A script that starts more than PIDS holds (orphans, SIGSTOPped processes) names a
# function in E2E_BEFORE_CLEANUP; the exit trap calls it first.

e2e_begin() {
  TMP=$(mktemp -d "/tmp/$1-XXXXXX")
  chmod 755 "$TMP"
  # The coordinator's first start writes its admin and worker tokens here; gwoctl and
  # gwo-worker read them (never the user's own config).
  export GWO_CONFIG="$TMP/gwo-config.json"
  PIDS=()
  passed=0
  failed=0
  trap e2e_cleanup EXIT
}

e2e_cleanup() {
  [ -n "${E2E_BEFORE_CLEANUP:-}" ] && "$E2E_BEFORE_CLEANUP"
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null
  done
  rm -rf "$TMP"
}

check() {  # check NAME COMMAND...
  local name=$1
  shift
  if "$@"; then
    echo "PASS: $name"
    passed=$((passed + 1))
  else
    echo "FAIL: $name"
    failed=$((failed + 1))
  fi
}

e2e_logs() {
  local f
  for f in "$TMP"/*.log; do
    [ -f "$f" ] || continue
    echo "--- $(basename "$f")"
    tail -n "${E2E_LOG_LINES:-40}" "$f"
  done
}

die() {
  echo "FATAL: $*"
  e2e_logs
  echo "$passed passed, $((failed + 1)) failed"
  exit 1
}

start_coordinator() {  # start_coordinator FLAG...  (port: E2E_COORD_PORT, default any)
  # Job files may name files under TMP, as well as the default roots' system data.
  "$BIN/gwo-coordinator" --listen "127.0.0.1:${E2E_COORD_PORT:-0}" --data-dir "$TMP/data" \
    --path_roots "$TMP,/usr/lib,/usr/share,${GWO_CORPORA_DIR:-$HOME/.cache/gwo/corpora}" "$@" \
    >"$TMP/coordinator.out" 2>>"$TMP/coordinator.log" &
  COORD_PID=$!
  PIDS+=("$COORD_PID")
  for _ in $(seq 300); do
    grep -q "listening on" "$TMP/coordinator.out" 2>/dev/null && break
    kill -0 "$COORD_PID" 2>/dev/null || die "coordinator exited"
    sleep 0.1
  done
  ADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$TMP/coordinator.out")
  [ -n "$ADDR" ] || die "coordinator did not report its address"
  export GWO_COORDINATOR=$ADDR
}

start_worker() {  # start_worker LOG FLAG...
  local log=$1
  shift
  "$BIN/gwo-worker" "$@" >"$TMP/$log.out" 2>>"$TMP/$log.log" &
  WORKER_PID=$!
  PIDS+=("$WORKER_PID")
}

e2e_end() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
