#!/usr/bin/env bash
# The coordinator's RPC latency under mixed load on this machine (issue 14's "before and
# after" figure): a real gwo-coordinator (embedded PostgreSQL) and gwo-worker; a tiny
# GPT-2 trained first so Generate has a checkpoint; then, for SECONDS (30), 32 Generate
# streams, 20 submitters, 4 readers and a worker training and reporting a run, all at
# once (bench/rpc_load/load.py). Prints per-RPC p50/p99/max and writes $OUT/results.json.
#
#   bench/rpc_load/run.sh            (after a build in ./build; OUT defaults to /tmp/gwo-rpc-load)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-/tmp/gwo-rpc-load}
SECONDS_LOAD=${SECONDS_LOAD:-30}
bin=${BIN:-$root/build/bin}
PY=/usr/bin/python3  # Debian's, with python3-grpcio and python3-protobuf
source "$root/bench/lib.sh"
bench_begin gwo-rpc-load

gen=$work/gen
mkdir -p "$gen"
PLUGIN=$(command -v grpc_python_plugin) || { echo "grpc_python_plugin not found (protobuf-compiler-grpc)"; exit 1; }
protoc -I "$root/proto" --python_out="$gen" --grpc_out="$gen" --plugin=protoc-gen-grpc="$PLUGIN" \
  "$root"/proto/gwo/v1/*.proto || exit 1

export GWO_CONFIG=$work/gwo-config.json
"$bin/gwo-coordinator" --listen 127.0.0.1:0 --data-dir "$work/data" --http_listen "" \
  --path_roots "$work,/usr/lib,/usr/share" --rate_limit 100000 --rate_burst 100000 \
  >"$work/coordinator.out" 2>"$OUT/coordinator.log" &
PIDS+=($!)
for _ in $(seq 300); do grep -q "listening on" "$work/coordinator.out" 2>/dev/null && break; sleep 0.2; done
export GWO_COORDINATOR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$work/coordinator.out")
[ -n "$GWO_COORDINATOR" ] || { tail "$OUT/coordinator.log"; exit 1; }
"$bin/gwo-worker" --name load --slots 2 --work-dir "$work/work" >"$work/worker.out" 2>"$OUT/worker.log" &
PIDS+=($!)
TOKEN=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['coordinators'][sys.argv[2]]['token'])" \
  "$GWO_CONFIG" "$GWO_COORDINATOR")

cat >"$work/gen.yaml" <<YAML
name: gen
datasets: [{name: py, path: /usr/lib/python3.11, glob: "*.py", max_bytes: 300000}]
model: {arch: gpt2, n_layer: 2, n_head: 2, n_embd: 64, block_size: 128}
training: {steps: 40, batch_size: 4, eval_every: 40, eval_batches: 1, threads: 1}
YAML
log "training the model Generate serves"
"$bin/gwoctl" submit "$work/gen.yaml" --wait >"$OUT/gen.submit.log" 2>&1 || { cat "$OUT/gen.submit.log"; exit 1; }
RUN=$(sed -n 's/^  run-\([0-9]*\) .*/\1/p' "$OUT/gen.submit.log" | head -n 1)
# The worker's reports during the load: a longer run with a metric every step.
cat >"$work/train.yaml" <<YAML
name: reporting
datasets: [{name: py, path: /usr/lib/python3.11, glob: "*.py", max_bytes: 300000}]
model: {arch: gpt2, n_layer: 1, n_head: 1, n_embd: 16, block_size: 32}
training: {steps: 100000, batch_size: 2, eval_every: 100000, log_every: 1, threads: 1}
YAML
"$bin/gwoctl" submit "$work/train.yaml" >/dev/null
# What the submitters send: runs that wait in the queue (no GPU on this worker).
cat >"$work/load.yaml" <<YAML
name: queued
datasets: [{name: d, path: /usr/lib/python3.11/os.py}]
resources: {gpus: 1}
YAML
sleep 3
log "load: ${SECONDS_LOAD} s"
"$PY" "$root/bench/rpc_load/load.py" "$gen" "$GWO_COORDINATOR" "$TOKEN" "$RUN" "$work/load.yaml" "$SECONDS_LOAD" \
  | tee "$OUT/results.json"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null)"
  echo "cpu: $(nproc) x $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
} | tee "$OUT/env.txt"
