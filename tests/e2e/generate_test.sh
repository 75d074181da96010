#!/usr/bin/env bash
# End-to-end test of text generation: coordinator + worker + gwoctl as real processes
# on loopback, with a run trained first.
#  1. greedy `gwoctl generate` is deterministic and equals the engine run directly
#     (`gwo-train --serve` on the run's checkpoint);
#  2. 4 concurrent requests all complete;
#  3. an unknown run is NOT_FOUND, a missing checkpoint NOT_FOUND, a bad checkpoint
#     name INVALID_ARGUMENT;
#  4. a client killed mid-stream does not wedge the worker.
# Usage: generate_test.sh BIN_DIR SOURCE_DIR
set -uo pipefail
BIN=$1
SRC=$2
source "$SRC/tests/e2e/lib.sh"
e2e_begin gwo-gen-e2e

start_coordinator --worker_lease_s 10

start_worker worker --name gen-worker --slots 1 --work-dir "$TMP/work" --stop_grace_s 5

# The quickstart's model (2 layers, 64 dims, bytes), trained briefly; a context of 1024
# so that a long generation streams for a while (part 4).
cat >"$TMP/job.yaml" <<'YAML'
name: gen
datasets:
  - name: python-stdlib
    path: /usr/lib/python3.11
    glob: "*.py"
    max_bytes: 500000
model: {arch: gpt2, n_layer: 2, n_head: 2, n_embd: 64, block_size: 1024}
training: {steps: 60, batch_size: 2, eval_every: 60, eval_batches: 2, threads: 1}
YAML
"$BIN/gwoctl" submit "$TMP/job.yaml" --wait >"$TMP/submit.out" 2>&1
grep -q "1/1 runs succeeded" "$TMP/submit.out" || { cat "$TMP/submit.out"; die "training failed"; }
RUN=$(sed -n 's/^  \(run-[0-9]*\) .*/\1/p' "$TMP/submit.out" | head -n 1)
RUN_ID=${RUN#run-}
CKPT="$TMP/work/runs/$RUN_ID/attempt-1/out/final.ckpt"
[ -f "$CKPT" ] || die "no checkpoint at $CKPT"

# 1. Greedy: deterministic, and the same text as the engine run directly.
gen() { "$BIN/gwoctl" generate "$RUN" "def main(" --temperature 0 --max_tokens 40 "$@"; }
gen >"$TMP/g1.out" 2>"$TMP/g1.err"
check "greedy generate exits 0" test $? -eq 0
gen >"$TMP/g2.out" 2>"$TMP/g2.err"
check "greedy generate is deterministic" cmp -s "$TMP/g1.out" "$TMP/g2.out"
check "it reports 40 tokens ending by length" grep -q "^\[40 tokens, length" "$TMP/g1.err"
# The engine directly: one request to a fresh `gwo-train --serve`, stdin kept open
# until its last reply (end of input cancels what runs).
python3 - "$BIN/gwo-train" "$CKPT" >"$TMP/direct.out" 2>"$TMP/direct.err" <<'PY'
import json, subprocess, sys
serve = subprocess.Popen([sys.argv[1], "--serve", "--serve_device", "cpu"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
serve.stdin.write(json.dumps({"op": "generate", "id": 1, "checkpoint": sys.argv[2],
                              "prompt": "def main(", "max_tokens": 40, "temperature": 0}) + "\n")
serve.stdin.flush()
text = ""
for line in serve.stdout:
    reply = json.loads(line)
    if reply.get("id") != 1:
        continue
    text += reply.get("text", "")
    if reply.get("done"):
        break
serve.stdin.close()
serve.wait(timeout=30)
print(text)
PY
check "gRPC output equals the engine run directly" cmp -s "$TMP/g1.out" "$TMP/direct.out"
check "the worker started one generation server" grep -q "started generation server" "$TMP/worker.log"

# 2. Four concurrent sampled requests all complete.
for i in 1 2 3 4; do
  "$BIN/gwoctl" generate "$RUN" "import " --temperature 0.8 --top_k 20 --seed "$i" --max_tokens 50 \
    >"$TMP/c$i.out" 2>"$TMP/c$i.err" &
  CPIDS[$i]=$!
done
all_ok=0
for i in 1 2 3 4; do wait "${CPIDS[$i]}" || all_ok=1; done
check "4 concurrent requests exit 0" test "$all_ok" -eq 0
check "each got 50 tokens" test "$(cat "$TMP"/c*.err | grep -c '^\[50 tokens, length')" -eq 4

# 3. Errors.
"$BIN/gwoctl" generate run-999 "x" >"$TMP/e1.out" 2>&1
check "an unknown run is NOT_FOUND" grep -q "no run with id 999 (code 5)" "$TMP/e1.out"
"$BIN/gwoctl" generate "$RUN" "x" --checkpoint step:7 >"$TMP/e2.out" 2>&1
check "a missing checkpoint is NOT_FOUND" grep -q "no checkpoint at .*step-7.ckpt (code 5)" "$TMP/e2.out"
"$BIN/gwoctl" generate "$RUN" "x" --checkpoint latest >"$TMP/e3.out" 2>&1
check "a bad checkpoint name is INVALID_ARGUMENT" grep -q "final, best or step:N.*(code 3)" "$TMP/e3.out"

# 4. A client killed mid-stream; the worker keeps serving.
"$BIN/gwoctl" generate "$RUN" "class " --temperature 1 --max_tokens 1000 --ignore_eos >"$TMP/k.out" 2>&1 &
KPID=$!
for _ in $(seq 200); do [ -s "$TMP/k.out" ] && break; sleep 0.02; done
# Killed once text has arrived and before the stream ended: truly mid-stream.
kill -0 "$KPID" 2>/dev/null && [ -s "$TMP/k.out" ]
check "the client was killed mid-stream (text had arrived, the stream had not ended)" test $? -eq 0
kill -KILL "$KPID" 2>/dev/null
wait "$KPID" 2>/dev/null
check "and had received less than the whole answer" test "$(wc -c <"$TMP/k.out")" -lt 1000
gen >"$TMP/g3.out" 2>"$TMP/g3.err"
check "after a killed client the same greedy text comes back" cmp -s "$TMP/g1.out" "$TMP/g3.out"
check "the worker is alive" kill -0 "$WORKER_PID"

if [ "$failed" -ne 0 ]; then
  for f in g1.out g1.err direct.out direct.err e1.out e2.out e3.out; do echo "--- $f"; cat "$TMP/$f"; done
  e2e_logs
fi
e2e_end
