# Shared start of the GPU benchmark scripts (bench/generate/run.sh,
# bench/gpu_examples/run.sh). `source` it after setting OUT; bench_begin PREFIX makes
# $work (a fresh /tmp/PREFIX-XXXXXX readable by the unprivileged PostgreSQL user),
# creates $OUT, and stops every process whose pid the script appends to PIDS when it
# exits (SIGTERM, then SIGKILL after 2 s). log prints a line with the UTC time.
log() { echo "[$(date -u +%T)] $*"; }

bench_cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 2
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}

bench_begin() {
  work=$(mktemp -d "/tmp/$1-XXXXXX")
  chmod 755 "$work"
  mkdir -p "$OUT"
  PIDS=()
  trap bench_cleanup EXIT
}
