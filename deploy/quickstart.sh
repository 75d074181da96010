#!/usr/bin/env bash
# Installs what is missing, builds, starts a coordinator (with its embedded
# PostgreSQL) and a worker on this machine, runs examples/quickstart.yaml to the
# end and prints each run's final validation perplexity. Stops both afterwards;
# the results stay in the data directory ($GWO_DATA_DIR, default ./.gwo-quickstart).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/build.sh
BIN=${GWO_BUILD_DIR:-build}/bin
DATA=${GWO_DATA_DIR:-$PWD/.gwo-quickstart}
mkdir -p "$DATA" && chmod 755 "$DATA"
LOGS=$DATA/logs
mkdir -p "$LOGS"
ADDR=${GWO_COORDINATOR:-127.0.0.1:7070}
export GWO_COORDINATOR=$ADDR

pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait' EXIT
"$BIN/gwo-coordinator" --listen "$ADDR" --data-dir "$DATA" >"$LOGS/coordinator.out" 2>"$LOGS/coordinator.log" &
pids+=($!)
for _ in $(seq 300); do
  grep -q "listening on" "$LOGS/coordinator.out" 2>/dev/null && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "gwo-coordinator failed to start:"; tail -n 20 "$LOGS/coordinator.log"; exit 1
  fi
  sleep 0.2
done
cat "$LOGS/coordinator.out"
"$BIN/gwo-worker" --work-dir "$DATA/worker" >"$LOGS/worker.out" 2>"$LOGS/worker.log" &
pids+=($!)
echo "worker started (logs in $LOGS)"
"$BIN/gwoctl" submit examples/quickstart.yaml --wait
