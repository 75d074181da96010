#!/usr/bin/env bash
# Scheduling benchmarks, one command (after a build into ./build or $GWO_BUILD_DIR):
#   bash bench/run_sched_bench.sh [OUT_FILE]
# 1. Metric ingestion: 16 concurrent workers' reports through the coordinator's store
#    into an embedded, durable PostgreSQL, against a raw COPY of the same rows into the
#    same table (gwo-ingest-bench), with reports of 500 and of 50 points.
# 2. Submit-to-start latency with one idle worker: a real gwo-coordinator (embedded
#    PostgreSQL) and gwo-worker; 50 one-run submissions, one at a time
#    (gwo-submit-latency-bench). The worker runs gwo-train when it is built, else a
#    stand-in trainer that exits at once (the latency ends when the worker reports the
#    attempt's process started, before training).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${GWO_BUILD_DIR:-$root/build}/bin
out=${1:-/dev/stdout}
tmp=$(mktemp -d /tmp/gwo-sched-bench-XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
# Everything below goes to the terminal and to OUT (in this shell, so that the
# cleanup above sees the pids of the services it started).
if [ "$out" != /dev/stdout ]; then exec > >(tee "$out"); fi

  echo "# gwo scheduling benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD)"
  echo
  echo "## metric ingestion vs COPY"
  echo "command: $bin/gwo-ingest-bench --workers 16 --steps 2500 --names 4 --batch 500"
  "$bin/gwo-ingest-bench" --workers 16 --steps 2500 --names 4 --batch 500
  echo "command: $bin/gwo-ingest-bench --workers 16 --steps 2500 --names 4 --batch 50"
  "$bin/gwo-ingest-bench" --workers 16 --steps 2500 --names 4 --batch 50
  echo
  echo "## submit-to-start latency"
  # Its first start writes the admin and worker tokens here (not the user's own config).
  export GWO_CONFIG=$tmp/gwo-config.json
  "$bin/gwo-coordinator" --listen 127.0.0.1:0 --data-dir "$tmp/coord" --path_roots "$tmp,/usr/lib,/usr/share" \
    > "$tmp/coord.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do grep -q "listening on" "$tmp/coord.log" && break; sleep 0.1; done
  addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$tmp/coord.log" | head -1)
  [ -n "$addr" ] || { cat "$tmp/coord.log" >&2; exit 1; }
  trainer="$bin/gwo-train"
  if [ ! -x "$trainer" ]; then
    trainer="$tmp/stand-in-trainer.sh"
    printf '#!/bin/sh\nexit 0\n' > "$trainer"
    chmod +x "$trainer"
  fi
  echo "trainer: $trainer"
  "$bin/gwo-worker" --coordinator "$addr" --name bench --slots 1 --work-dir "$tmp/work" --trainer "$trainer" \
    > "$tmp/worker.log" 2>&1 &
  pids+=($!)
  sleep 2
  printf 'a sentence of text for the latency benchmark.\n%.0s' $(seq 200) > "$tmp/corpus.txt"
  cat > "$tmp/job.yaml" <<YAML
name: latency
datasets: [{name: d, path: $tmp/corpus.txt}]
model: {n_layer: 1, n_head: 1, n_embd: 8, block_size: 8}
training: {steps: 1, batch_size: 1, eval_every: 1, eval_batches: 1, log_every: 1}
YAML
  echo "command: $bin/gwo-submit-latency-bench --coordinator $addr --job job.yaml --samples 50"
  "$bin/gwo-submit-latency-bench" --coordinator "$addr" --job "$tmp/job.yaml" --samples 50
  echo "versions: $(psql --version 2>/dev/null || ls /usr/lib/postgresql), $(dpkg-query -W -f='grpc ${Version}' libgrpc++1.51 2>/dev/null || true)"
