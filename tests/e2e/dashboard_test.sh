#!/usr/bin/env bash
# End-to-end test of reports and live metrics: a real coordinator (embedded
# PostgreSQL) and worker run a tiny 2-variant x 2-seed experiment, while
#  1. a Python dashboard generated from proto/ alone (grpcio, not gwo code)
#     streams a run's metrics live, then fetches the report and series
#     (dashboard_client.py);
#  2. gwoctl watch / logs -f follow it, and gwoctl report (all formats),
#     compare and plot show the results.
# Usage: dashboard_test.sh BIN_DIR SOURCE_DIR
set -uo pipefail
BIN=$1
SRC=$2
PY=/usr/bin/python3  # Debian's python3 with python3-grpcio and python3-protobuf
source "$SRC/tests/e2e/lib.sh"
e2e_begin gwo-dash

# The dashboard's client, generated from the .proto files only.
GEN=$TMP/gen
mkdir -p "$GEN"
if "$PY" -c "import grpc_tools" 2>/dev/null; then
  "$PY" -m grpc_tools.protoc -I "$SRC/proto" --python_out="$GEN" --grpc_python_out="$GEN" "$SRC"/proto/gwo/v1/*.proto \
    || die "grpc_tools.protoc failed"
else
  PLUGIN=$(command -v grpc_python_plugin) || die "grpc_python_plugin not found (protobuf-compiler-grpc)"
  protoc -I "$SRC/proto" --python_out="$GEN" --grpc_out="$GEN" --plugin=protoc-gen-grpc="$PLUGIN" \
    "$SRC"/proto/gwo/v1/*.proto || die "protoc failed"
fi
"$PY" -c "import sys; sys.path.insert(0, '$GEN'); from gwo.v1 import reports_pb2_grpc" \
  || die "the generated Python client does not import (python3-grpcio / python3-protobuf missing?)"

start_coordinator --worker_lease_s 10

cat >"$TMP/tiny.yaml" <<'YAML'
name: tiny-report
datasets:
  - name: stdlib
    path: /usr/lib/python3.11
    glob: "*.py"
    max_bytes: 200000
model: {n_layer: 1, n_head: 2, n_embd: 32, block_size: 32}
training: {steps: 120, batch_size: 8, lr: 0.003, eval_every: 60, eval_batches: 2, log_every: 5, threads: 1}
variants:
  - name: baseline
  - name: high-lr
    training: {lr: 0.01}
seeds: [1, 2]
YAML
# Submitted before any worker exists: every point of the first run is streamed live.
"$BIN/gwoctl" submit "$TMP/tiny.yaml" >"$TMP/submit.out" 2>&1 || die "submit failed: $(cat "$TMP/submit.out")"
EXP=$(sed -n 's/^submitted exp-\([0-9]*\) .*/\1/p' "$TMP/submit.out")
RUN1=$(sed -n 's/^  \(run-[0-9]*\) .*/\1/p' "$TMP/submit.out" | head -n 1)
RUN2=$(sed -n 's/^  \(run-[0-9]*\) .*/\1/p' "$TMP/submit.out" | sed -n 3p)

# The dashboard signs in with a token of its own, made through the API.
DASH_TOKEN=$("$BIN/gwoctl" token create --name dashboard --ttl 1h 2>/dev/null) || die "token create failed"
GWO_TOKEN=$DASH_TOKEN "$PY" "$SRC/tests/e2e/dashboard_client.py" "$GEN" "$ADDR" "$EXP" >"$TMP/dashboard.out" 2>&1 &
DASH=$!
"$BIN/gwoctl" logs -f "$RUN1" >"$TMP/logs-f.out" 2>&1 &
LOGS=$!
"$BIN/gwoctl" watch "exp-$EXP" >"$TMP/watch.out" 2>&1 &
WATCH=$!
sleep 1
start_worker worker --name dash-worker --slots 2 --work-dir "$TMP/work" --stop_grace_s 5

wait "$DASH"
dash_rc=$?
cat "$TMP/dashboard.out"
check "the Python dashboard's checks pass" test "$dash_rc" -eq 0
wait "$WATCH"
watch_rc=$?
check "gwoctl watch ends when every run ended, exit 0" test "$watch_rc" -eq 0
check "gwoctl watch (not a tty) prints plain progress lines" grep -qE "run-[0-9]+ .* RUNNING [0-9]+/120  step/s" "$TMP/watch.out"
check "gwoctl watch prints the summary" grep -q "exp-$EXP: 4/4 runs succeeded" "$TMP/watch.out"
check "gwoctl watch never writes escape sequences to a file" bash -c "! grep -q $'\x1b' '$TMP/watch.out'"
# On a terminal (script(1) gives it one) watch draws a table with progress bars.
script -qec "$BIN/gwoctl watch exp-$EXP" /dev/null >"$TMP/watch-tty.out" 2>&1
check "gwoctl watch on a terminal draws the table with progress bars" \
  grep -qE "^run-[0-9]+ +baseline/stdlib/seed1 +SUCCEEDED +\[#{20}\] 100% +120/120" "$TMP/watch-tty.out"
wait "$LOGS"
check "gwoctl logs -f ends when the run ends, exit 0" test $? -eq 0
"$BIN/gwoctl" logs "$RUN1" >"$TMP/logs.out" 2>&1
check "gwoctl logs -f printed the whole log live" cmp -s "$TMP/logs.out" "$TMP/logs-f.out"
check "the log has gwo-train's lines" test "$(wc -l <"$TMP/logs.out")" -gt 5
"$BIN/gwoctl" logs "$RUN1" --tail 3 >"$TMP/tail.out" 2>&1
check "gwoctl logs --tail 3 prints the last 3 lines" bash -c "diff <(tail -n 3 '$TMP/logs.out') '$TMP/tail.out'"

"$BIN/gwoctl" report "exp-$EXP" >"$TMP/report.txt" 2>&1
cat "$TMP/report.txt"
check "report text has the header with a PARAMS and an improvement column" \
  grep -qE "^DATASET +VARIANT +SEEDS +PARAMS .*val_ppl impr %" "$TMP/report.txt"
check "report text marks the baseline" grep -qE "^stdlib +baseline \(baseline\) +2 " "$TMP/report.txt"
check "report text shows mean ± std and a signed improvement" \
  grep -qE "^stdlib +high-lr +2 .*[0-9] ± [0-9.]+ .*[+-][0-9.]+ ± [0-9.]+ %" "$TMP/report.txt"
check "report text prints the sign convention" grep -q "positive is better" "$TMP/report.txt"
"$BIN/gwoctl" report "exp-$EXP" --format markdown >"$TMP/report.md" 2>&1
check "report markdown is a pipe table" grep -q "^| stdlib | high-lr | 2 |" "$TMP/report.md"
"$BIN/gwoctl" report "exp-$EXP" --format csv >"$TMP/report.csv" 2>&1
check "report csv has one line per row plus a header" test "$(wc -l <"$TMP/report.csv")" -eq 3
check "report csv has val_ppl mean and improvement columns" grep -q "val_ppl_mean,val_ppl_std,val_ppl_n,val_ppl_impr_pct_mean" "$TMP/report.csv"
"$BIN/gwoctl" report "exp-$EXP" --format json >"$TMP/report.json" 2>&1
check "report json parses and has 2 rows" "$PY" -c "import json,sys; d=json.load(open('$TMP/report.json')); sys.exit(len(d['rows']) != 2)"
"$BIN/gwoctl" report "exp-$EXP" --format xml >"$TMP/bad-format.out" 2>&1
check "an unknown report format is refused naming the choices" grep -q "text, markdown, csv or json" "$TMP/bad-format.out"

"$BIN/gwoctl" compare "$RUN1" "$RUN2" >"$TMP/compare.out" 2>&1
cat "$TMP/compare.out"
check "compare shows the spec difference (lr)" grep -qE "^  training\.lr +0\.003[0-9]* +0\.01" "$TMP/compare.out"
check "compare shows latest metrics with a best marker" grep -qE "^  val_ppl .*\*" "$TMP/compare.out"

"$BIN/gwoctl" plot "exp-$EXP" --metric train_loss -o "$TMP/loss.svg" >"$TMP/plot.out" 2>&1
check "plot writes an SVG" grep -q "<svg" "$TMP/loss.svg"
check "plot draws one line per run" test "$(grep -c '<polyline class="run"' "$TMP/loss.svg")" -eq 4
check "plot shades one seed band per variant" test "$(grep -c '<path class="band"' "$TMP/loss.svg")" -eq 2
check "the SVG is well-formed XML" "$PY" -c "import xml.dom.minidom,sys; xml.dom.minidom.parse('$TMP/loss.svg')"
"$BIN/gwoctl" plot "exp-$EXP" --metric train_loss -o "$TMP/loss.png" >"$TMP/plot-png.out" 2>&1
check "plot -o FILE.png reports what it drew" grep -q "wrote $TMP/loss.png: 4 run(s) in 2 group(s)" "$TMP/plot-png.out"
# A valid PNG of the default 900x520 with lines in both variants' colours.
check "the PNG decodes with valid CRCs and both variants' colours" \
  "$PY" "$SRC/tests/e2e/png_check.py" "$TMP/loss.png" 900 520 50 0072b2 d55e00
"$BIN/gwoctl" plot "exp-$EXP" --metric train_loss -o "$TMP/no-such-dir/loss.png" >"$TMP/plot-bad.out" 2>&1
plot_bad_rc=$?
check "plot to an unwritable path fails naming the path and the reason" \
  bash -c "test $plot_bad_rc -eq 1 && grep -q 'cannot write $TMP/no-such-dir/loss.png: No such file or directory' '$TMP/plot-bad.out'"

if [ "$failed" -ne 0 ]; then
  echo "--- coordinator log"; tail -n 60 "$TMP/coordinator.log"
  echo "--- worker log"; tail -n 30 "$TMP/worker.log"
fi
e2e_end
