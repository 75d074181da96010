#!/usr/bin/env bash
# Observability end to end: a real coordinator (embedded PostgreSQL) and worker,
# both serving /metrics, /healthz and /readyz; one small run through a stand-in
# gwo-train that reports a known tokens_per_s; then
#  1. /metrics of both pass `promtool check metrics` and carry the expected values;
#  2. the Grafana dashboard parses and queries only metrics that exist;
#  3. a real Prometheus scrapes the coordinator and answers a query for a metric;
#  4. readiness follows the database (coordinator) and the connection (worker);
#     a lost database shows in gwo_database_errors_total.
# Usage: observability_test.sh BIN_DIR SOURCE_DIR
set -uo pipefail
BIN=$1
SRC=$2
source "$SRC/tests/e2e/lib.sh"
e2e_begin gwo-obs

# wait_line FILE PATTERN PID: until FILE has a line matching PATTERN (60 s).
wait_line() {
  for _ in $(seq 300); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

http_code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }

# value FILE SAMPLE: the value of the exposition line that starts with SAMPLE + " ".
value() { awk -v s="$2" 'index($0, s " ") == 1 { print $2; found = 1 } END { exit !found }' "$1"; }

# eq FILE SAMPLE WANT / gt FILE SAMPLE MIN: compare a sample's value.
eq() { local v; v=$(value "$1" "$2") && awk -v v="$v" -v w="$3" 'BEGIN { exit !(v + 0 == w + 0) }'; }
gt() { local v; v=$(value "$1" "$2") && awk -v v="$v" -v w="$3" 'BEGIN { exit !(v + 0 > w + 0) }'; }

# --- Coordinator
start_coordinator --http_listen 127.0.0.1:0
CHTTP=$(sed -n 's|.*serving /metrics, /healthz, /readyz on \(http://[0-9.]*:[0-9]*\).*|\1|p' "$TMP/coordinator.out")
[ -n "$CHTTP" ] || die "coordinator did not report its HTTP address"
echo "coordinator gRPC at $ADDR, HTTP at $CHTTP"
check "coordinator /healthz is 200" test "$(http_code "$CHTTP/healthz")" = 200
check "coordinator /readyz is 200 (database and gRPC up)" test "$(http_code "$CHTTP/readyz")" = 200
check "grpc.health.v1 answers SERVING, without a token" /usr/bin/python3 "$SRC/tests/e2e/grpc_probe.py" health "$ADDR" SERVING
check "server reflection lists gwo's services" /usr/bin/python3 "$SRC/tests/e2e/grpc_probe.py" reflection "$ADDR" \
  gwo.v1.ExperimentService gwo.v1.MetricService gwo.v1.ReportService gwo.v1.QueueService \
  gwo.v1.GenerationService gwo.v1.WorkerService gwo.v1.AccessService grpc.health.v1.Health
check "unknown path is 404" test "$(http_code "$CHTTP/nothing")" = 404

# --- Worker with a stand-in gwo-train: reports tokens_per_s 1234.5 and 4 other
# points, then waits for $TMP/release so the test sees it running.
cat >"$TMP/trainer.sh" <<SH
#!/bin/sh
printf 'metric\t1\ttrain_loss\t2.5\nmetric\t1\ttokens_per_s\t1000\n' >&3
printf 'metric\t2\ttrain_loss\t2.25\nmetric\t2\ttokens_per_s\t1234.5\nmetric\t2\tval_ppl\t9.5\n' >&3
for i in \$(seq 300); do [ -f "$TMP/release" ] && exit 0; sleep 0.1; done
echo "gwo-train stand-in: never released" >&2
exit 1
SH
chmod +x "$TMP/trainer.sh"
start_worker worker --name obs-worker --slots 1 --work-dir "$TMP/work" --trainer "$TMP/trainer.sh" \
  --http_listen 127.0.0.1:0
wait_line "$TMP/worker.out" "serving /metrics" $WORKER_PID || die "worker did not start its HTTP server"
WHTTP=$(sed -n 's|.*serving /metrics, /healthz, /readyz on \(http://[0-9.]*:[0-9]*\).*|\1|p' "$TMP/worker.out")
echo "worker HTTP at $WHTTP"
ready=0
for _ in $(seq 100); do [ "$(http_code "$WHTTP/readyz")" = 200 ] && { ready=1; break; }; sleep 0.2; done
check "worker /readyz turns 200 once registered" test $ready = 1
check "worker /healthz is 200" test "$(http_code "$WHTTP/healthz")" = 200

# --- One small run.
printf 'name: obs\ndatasets:\n  - name: d\n    path: /usr/lib/python3.11\n    glob: "*.py"\n    max_bytes: 20000\ntraining: {steps: 2}\n' \
  >"$TMP/job.yaml"
"$BIN/gwoctl" submit "$TMP/job.yaml" >"$TMP/submit.out" 2>&1 || die "submit failed: $(cat "$TMP/submit.out")"
running=0
for _ in $(seq 150); do
  curl -s "$WHTTP/metrics" >"$TMP/worker-running.prom"
  if eq "$TMP/worker-running.prom" gwo_worker_tokens_per_second 1234.5; then running=1; break; fi
  sleep 0.2
done
check "worker tokens/s is the running attempt's latest tokens_per_s" test $running = 1
check "worker shows one attempt running" eq "$TMP/worker-running.prom" gwo_worker_attempts_running 1
check "no run id among the worker's labels" bash -c "! grep -q 'run_id\|run=' '$TMP/worker-running.prom'"
touch "$TMP/release"
"$BIN/gwoctl" wait exp-1 >"$TMP/wait.out" 2>&1
check "the run succeeded" grep -q "1/1 runs succeeded" "$TMP/wait.out"

# --- 1. /metrics of both, checked by promtool and for values.
curl -s "$CHTTP/metrics" >"$TMP/coordinator.prom"
curl -s "$WHTTP/metrics" >"$TMP/worker.prom"
check "promtool accepts the coordinator's /metrics" promtool check metrics <"$TMP/coordinator.prom"
check "promtool accepts the worker's /metrics" promtool check metrics <"$TMP/worker.prom"
check "gwo_runs succeeded is 1" eq "$TMP/coordinator.prom" 'gwo_runs{state="succeeded"}' 1
check "gwo_runs queued is 0" eq "$TMP/coordinator.prom" 'gwo_runs{state="queued"}' 0
check "queue depth is 0" eq "$TMP/coordinator.prom" gwo_queue_depth_runs 0
check "5 metric points ingested" eq "$TMP/coordinator.prom" gwo_metric_points_ingested_total 5
check "one queue wait observed" eq "$TMP/coordinator.prom" gwo_queue_wait_seconds_count 1
check "one attempt finished succeeded" eq "$TMP/coordinator.prom" 'gwo_attempts_finished_total{state="succeeded"}' 1
check "one idle worker" eq "$TMP/coordinator.prom" 'gwo_workers{state="idle"}' 1
check "one free slot" eq "$TMP/coordinator.prom" 'gwo_slots{state="free"}' 1
check "SubmitExperiment timed with code OK" \
  eq "$TMP/coordinator.prom" 'gwo_rpc_duration_seconds_count{method="/gwo.v1.ExperimentService/SubmitExperiment",code="OK"}' 1
check "ListRuns calls of gwoctl wait timed" \
  gt "$TMP/coordinator.prom" 'gwo_rpc_duration_seconds_count{method="/gwo.v1.ExperimentService/ListRuns",code="OK"}' 0
check "no database errors" eq "$TMP/coordinator.prom" 'gwo_database_errors_total{code="unavailable"}' 0
check "worker relayed 5 points" eq "$TMP/worker.prom" gwo_worker_metric_points_total 5
check "worker tokens/s back to 0 after the run" eq "$TMP/worker.prom" gwo_worker_tokens_per_second 0
check "worker counts the succeeded attempt" eq "$TMP/worker.prom" 'gwo_worker_attempts_finished_total{state="succeeded"}' 1
check "worker is connected" eq "$TMP/worker.prom" gwo_worker_connected 1
"$BIN/gwoctl" runs exp-1 >/dev/null 2>&1
GWO_COORDINATOR=$ADDR "$BIN/gwoctl" describe exp-999 >/dev/null 2>&1
curl -s "$CHTTP/metrics" >"$TMP/coordinator2.prom"
check "a NOT_FOUND call is timed under its code" \
  eq "$TMP/coordinator2.prom" 'gwo_rpc_duration_seconds_count{method="/gwo.v1.ExperimentService/GetExperiment",code="NOT_FOUND"}' 1

# --- 2. The dashboard.
check "the Grafana dashboard queries only existing metrics" \
  python3 "$SRC/tests/e2e/check_dashboard.py" "$SRC/deploy/grafana/gwo-dashboard.json" "$TMP/coordinator.prom" "$TMP/worker.prom"
check "deploy/prometheus.yml is a valid config" promtool check config "$SRC/deploy/prometheus.yml"

# --- 3. A real Prometheus scrapes both, from deploy/prometheus.yml with our targets and 1 s.
PROM_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|127.0.0.1:9180|${CHTTP#http://}|; s|127.0.0.1:9181|${WHTTP#http://}|; s|scrape_interval: 15s|scrape_interval: 1s|" \
  "$SRC/deploy/prometheus.yml" >"$TMP/prometheus.yml"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
query() {  # query PROMQL: the first result's value, or nothing
  curl -s -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null
}
got=""
for _ in $(seq 60); do
  got=$(query 'gwo_runs{job="gwo-coordinator",state="succeeded"}')
  [ -n "$got" ] && break
  sleep 0.5
done
check "Prometheus answers gwo_runs{state=succeeded} = 1 from its scrape" test "$got" = 1
got=""
for _ in $(seq 20); do
  got=$(query 'gwo_worker_metric_points_total{job="gwo-worker"}')
  [ -n "$got" ] && break
  sleep 0.5
done
check "Prometheus scraped the worker too" test "$got" = 5

# --- 4. Readiness. The database goes away (fast shutdown of the embedded
# PostgreSQL, started by this test's coordinator): the coordinator is not ready,
# still serves /metrics, and counts the failed reads as database errors.
PG_PID=$(head -n 1 "$TMP/data/postgres/postmaster.pid" 2>/dev/null)
[ -n "$PG_PID" ] || die "no postmaster.pid under $TMP/data/postgres"
kill -INT "$PG_PID"
dbdown=0
for _ in $(seq 100); do [ "$(http_code "$CHTTP/readyz")" = 503 ] && { dbdown=1; break; }; sleep 0.2; done
check "coordinator /readyz is 503 without its database" test $dbdown = 1
check "coordinator /readyz names the database" bash -c "curl -s '$CHTTP/readyz' | grep -q 'not ready: database'"
check "coordinator /metrics still answers" test "$(http_code "$CHTTP/metrics")" = 200
curl -s "$CHTTP/metrics" >"$TMP/coordinator-nodb.prom"
check "the failed reads count as database errors" \
  gt "$TMP/coordinator-nodb.prom" 'gwo_database_errors_total{code="unavailable"}' 0

# The worker is not ready without a coordinator.
kill -TERM $COORD_PID
notready=0
for _ in $(seq 100); do [ "$(http_code "$WHTTP/readyz")" = 503 ] && { notready=1; break; }; sleep 0.2; done
check "worker /readyz is 503 once the coordinator is gone" test $notready = 1
check "worker /readyz says why" bash -c "curl -s '$WHTTP/readyz' | grep -q 'not connected to the coordinator'"
check "worker /healthz is still 200" test "$(http_code "$WHTTP/healthz")" = 200

if [ "$failed" -ne 0 ]; then
  E2E_LOG_LINES=30 e2e_logs
  echo "--- coordinator /metrics"; cat "$TMP/coordinator.prom"
fi
e2e_end
