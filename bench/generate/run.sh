#!/usr/bin/env bash
# Generate benchmark, one command, on a GPU machine: builds gwo, starts a coordinator
# (embedded PostgreSQL) and a worker, trains a GPT-2 124M-shaped run for one step
# (random weights, in effect) so that it has a checkpoint, then measures
#   - the peer: a minimal PyTorch decoder (static KV cache, one captured CUDA graph,
#     bf16, greedy) on that run's HF checkpoint, at batch 1 and 32;
#   - gwo: tokens/s received by clients of the Generate stream at 1 and 32
#     concurrent requests (greedy, 256 tokens each, serving overhead included);
# and prints both and the ratios. Writes logs and results.md, as $OUT/results.tgz.
#
#   source .debs/env.sh && bench/generate/run.sh
#
# Needs bench/generate/.carry/ (git-ignored), made on the Debian 12 build machine:
#   mkdir -p bench/generate/.carry && cp ~/.cache/gwo/corpora/gpt2/{encoder.json,vocab.bpe} bench/generate/.carry/
#   (cd / && tar czf "$OLDPWD/bench/generate/.carry/pg15.tgz" usr/lib/postgresql/15/bin/{postgres,initdb,pg_ctl} \
#      $(ls -d usr/lib/postgresql/15/lib/*.so | grep -v llvmjit) usr/share/postgresql/15)
# (PostgreSQL 15 server binaries for the embedded database; their libraries come from .debs).
# Environment: OUT (default /tmp/gwo-generate-bench), TOKENS (256), CONCURRENCY (1,32),
# SKIP_FUSED_STEP=1 (no fused-step microbenchmark), SMALL=1 for a
# CPU dry run with a 2-layer model.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-/tmp/gwo-generate-bench}
TOKENS=${TOKENS:-256}
BUILD=${BUILD:-/tmp/gwo-bench-build}
source "$root/bench/lib.sh"
bench_begin gwo-genbench

# 1. Build.
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  log "building gwo (Release) in $BUILD"
  # The fused decode kernels need nvcc; CMake looks on PATH and at CUDACXX.
  [[ -z ${CUDACXX:-} && -x /usr/local/cuda/bin/nvcc ]] && export CUDACXX=/usr/local/cuda/bin/nvcc
  cmake -S "$root" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release ${GWO_PG_ARGS:-} >"$OUT/cmake.log" 2>&1
  targets="gwo-train gwo-coordinator gwo-worker gwoctl gwo-generate-bench"
  if ! ninja -C "$BUILD" -j "$(nproc)" $targets >"$OUT/build.log" 2>&1; then
    grep -m 20 -B 2 -A 6 "error" "$OUT/build.log" || tail -n 40 "$OUT/build.log"
    log "build failed; retrying without CUDA graphs of the decode step"
    cmake -S "$root" -B "$BUILD" -DGWO_CUDA_GRAPHS=OFF >>"$OUT/cmake.log" 2>&1
    ninja -C "$BUILD" -j "$(nproc)" $targets >"$OUT/build2.log" 2>&1 || { tail -n 40 "$OUT/build2.log"; exit 1; }
  fi
  grep -h "gwo_generate: CUDA graphs" "$OUT/cmake.log" | head -n 1 || true
  grep -h "gwo_generate: .*fused" "$OUT/cmake.log" | head -n 1 || true
fi
bin=$BUILD/bin

# 1b. The fused decode step alone (no LibTorch, no serving): microseconds per step by
# batch, with and without programmatic dependent launches (bench/generate/fused_step_bench.cu).
nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if [[ ${SMALL:-0} != 1 && ${SKIP_FUSED_STEP:-0} != 1 && -x $nvcc ]]; then
  log "fused decode step alone"
  if "$nvcc" -std=c++20 -O3 -arch=sm_90 -I"$root" "$root/bench/generate/fused_step_bench.cu" \
       "$root/worker/generate/fused_gpt2.cu" -o "$work/fused_step_bench" >"$OUT/fused_step_build.log" 2>&1; then
    { "$work/fused_step_bench" 128; echo; "$work/fused_step_bench" 512; } >"$OUT/fused_step.txt" 2>&1 || true
    nsys=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -n 1 || true)
    if [[ -n $nsys ]]; then
      (cd "$work" && "$nsys" profile --cuda-graph-trace=node -o "$work/fused" "$work/fused_step_bench" 128 1 1 >/dev/null 2>&1 &&
        "$nsys" stats --report cuda_gpu_kern_sum --format csv "$work/fused.nsys-rep" >"$OUT/fused_kernels.csv" 2>/dev/null) || true
    fi
    cat "$OUT/fused_step.txt"
    [[ -s $OUT/fused_kernels.csv ]] && { echo "kernels of one step at 1 row (nsys):"; cut -d, -f1-9 "$OUT/fused_kernels.csv" | head -n 14; }
  else
    tail -n 20 "$OUT/fused_step_build.log"
  fi
fi

# 2. PostgreSQL server binaries for the embedded database, when the host has none.
pg_bin=""
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  mkdir -p /opt/pg && tar xzf "$root/bench/generate/.carry/pg15.tgz" -C /opt/pg
  pg_bin=/opt/pg/usr/lib/postgresql/15/bin
fi
mkdir -p "$work/tok" && cp "$root/bench/generate/.carry/encoder.json" "$root/bench/generate/.carry/vocab.bpe" "$work/tok/"

# 3. Coordinator and worker (if the coordinator cannot start, e.g. PostgreSQL does not
# run here, the gRPC figures are missing and the run is trained by gwo-train directly).
corpus=$(python3 -c "import os; print(os.path.dirname(os.__file__))")  # the Python standard library
if [[ ${SMALL:-0} == 1 ]]; then
  model="{arch: gpt2, n_layer: 2, n_head: 2, n_embd: 64, block_size: 1024}"
else
  model="{arch: gpt2, n_layer: 12, n_head: 12, n_embd: 768, block_size: 1024}"
fi
data="{path: $corpus, glob: \"*.py\", max_bytes: 2000000, tokenizer: $work/tok}"
training="{steps: 1, batch_size: 1, eval_every: 1, eval_batches: 1, warmup_steps: 0, threads: 4}"
coordinator_ok=1
# Its first start writes the admin and worker tokens here (not the user's own config);
# the job names the Python sources and the tokenizer under $work.
export GWO_CONFIG=$work/gwo-config.json
"$bin/gwo-coordinator" --listen 127.0.0.1:0 --data-dir "$work/data" ${pg_bin:+--pg_bin_dir "$pg_bin"} \
  --path_roots "$work,$corpus" >"$work/coordinator.out" 2>"$OUT/coordinator.log" &
PIDS+=($!)
for _ in $(seq 300); do
  grep -q "listening on" "$work/coordinator.out" 2>/dev/null && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { coordinator_ok=0; break; }
  sleep 0.2
done
grep -q "listening on" "$work/coordinator.out" 2>/dev/null || coordinator_ok=0
if [[ $coordinator_ok == 1 ]]; then
  ADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$work/coordinator.out")
  export GWO_COORDINATOR=$ADDR
  "$bin/gwo-worker" --name bench --slots 1 --work-dir "$work/work" >"$work/worker.out" 2>"$OUT/worker.log" &
  PIDS+=($!)
  log "coordinator at $ADDR"
  # 4. A run with a checkpoint: GPT-2 124M (12 x 768, 1024 positions, GPT-2 BPE), one step.
  printf 'name: generate-bench\ndatasets:\n  - {name: py, path: %s, glob: "*.py", max_bytes: 2000000, tokenizer: %s}\nmodel: %s\ntraining: %s\n' \
    "$corpus" "$work/tok" "$model" "$training" >"$work/job.yaml"
  log "training one step through the coordinator"
  "$bin/gwoctl" submit "$work/job.yaml" --wait >"$OUT/submit.log" 2>&1 || { cat "$OUT/submit.log"; tail -n 30 "$OUT/worker.log"; exit 1; }
  RUN=$(sed -n 's/^  run-\([0-9]*\) .*/\1/p' "$OUT/submit.log" | head -n 1)
  ckpt_dir=$work/work/runs/$RUN/attempt-1/out
else
  log "the coordinator did not start (see coordinator.log); training with gwo-train directly"
  tail -n 20 "$OUT/coordinator.log" || true
  printf 'experiment: generate-bench\nmodel: %s\ndata: %s\ntraining: %s\n' "$model" "$data" "$training" >"$work/run.yaml"
  "$bin/gwo-train" --spec "$work/run.yaml" --out "$work/direct" >"$OUT/train.log" 2>&1 || { tail -n 30 "$OUT/train.log"; exit 1; }
  ckpt_dir=$work/direct
fi
hf=$ckpt_dir/final
[[ -f $hf/model.safetensors ]] || { echo "no checkpoint at $hf"; exit 1; }

# 5. The peer, then gwo (the peer first: gwo's worker keeps its model loaded after).
log "peer: minimal PyTorch decoder"
python3 -c "import torch, safetensors" 2>/dev/null || { echo "no PyTorch here: the peer is skipped"; echo '{"device": "cpu", "torch": "none", "rows": []}' >"$OUT/peer.json"; : >"$OUT/peer_tokens.txt"; SKIP_PEER=1; }
[[ ${SKIP_PEER:-0} == 1 ]] || PYTHONUNBUFFERED=1 python3 "$root/bench/generate/peer_decode.py" --hf "$hf" --batch 1,32 --tokens "$TOKENS" \
  --json "$OUT/peer.json" --tokens_out "$OUT/peer_tokens.txt" 2>&1 | tee "$OUT/peer.log"
if [[ $coordinator_ok == 1 ]]; then
  log "gwo: Generate streams through the coordinator"
  "$bin/gwo-generate-bench" --coordinator "$ADDR" --run "$RUN" --concurrency ${CONCURRENCY:-1,32} --max_tokens "$TOKENS" \
    --repeats 5 --json "$OUT/gwo.json" --tokens_out "$OUT/gwo_tokens.txt" 2>&1 | tee "$OUT/gwo.log"
fi
log "gwo: the engine alone (gwo-train --serve, no gRPC)"
PYTHONUNBUFFERED=1 python3 "$root/bench/generate/serve_client.py" "$bin/gwo-train" "$ckpt_dir/final.ckpt" \
  --concurrency 1,32 --tokens "$TOKENS" --json "$OUT/engine.json" 2>&1 | tee "$OUT/engine.log"

# 6. The engine's unit tests (CPU) against this LibTorch, after the timings, and the
# fused kernels' GPU test (against the LibTorch path) when they were built.
if [[ ${SKIP_BUILD:-0} != 1 && $SECONDS -lt ${TEST_BUDGET_S:-420} ]]; then
  log "unit tests of worker/generate"
  tests="gwo_generate_test gwo_generate_text_test"
  grep -q "fused CUDA decode kernels" "$OUT/cmake.log" && tests="$tests gwo_fused_decode_test"
  if ninja -C "$BUILD" $tests >"$OUT/build_tests.log" 2>&1; then
    for t in $tests; do
      if "$BUILD/tests/$t" >"$OUT/$t.log" 2>&1; then
        echo "$t passed"
      else
        echo "$t FAILED ($t.log):"
        grep -E -B 2 -A 8 "Failure|FAILED|Error|error" "$OUT/$t.log" | head -n 60
      fi
    done
  else
    echo "unit tests did not build (build_tests.log)"; tail -n 20 "$OUT/build_tests.log"
  fi
fi

# 7. Report.
python3 - "$OUT" "$TOKENS" <<'PY' | tee "$OUT/results.md"
import json, subprocess, sys, datetime, os
out, tokens = sys.argv[1], int(sys.argv[2])
peer = json.load(open(f"{out}/peer.json"))
gwo = {r["concurrency"]: r for r in json.load(open(f"{out}/gwo.json"))} if os.path.exists(f"{out}/gwo.json") else {}
engine = {r["concurrency"]: r["tokens_per_s"] for r in json.load(open(f"{out}/engine.json"))}
p = {(r["batch"], r["mode"]): r["tokens_per_s"] for r in peer["rows"]}
mode = "graph" if (1, "graph") in p else "eager"
if not p:
    p = {(1, mode): float("nan"), (32, mode): float("nan")}
a = open(f"{out}/gwo_tokens.txt").read().split() if gwo else []
b = open(f"{out}/peer_tokens.txt").read().split()
same = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
print(f"# Generate benchmark ({datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC)\n")
print(f"GPU: {peer['device']}; PyTorch {peer['torch']}; GPT-2 124M shape, bf16, greedy, "
      f"prompt 9 tokens, {tokens} new tokens per request.\n")
print("| measure | tokens/s |\n|---|---|")
for (bsz, m), v in sorted(p.items()):
    print(f"| peer ({m}), batch {bsz} (median of its timed runs) | {v:,.0f} |")
for c, r in sorted(gwo.items()):
    print(f"| gwo Generate stream, {c} concurrent (median of {r.get('rounds', 1)} rounds, best "
          f"{r.get('best_tokens_per_s', r['tokens_per_s']):,.0f}; first token {r['mean_first_token_ms']:.0f} ms) | {r['tokens_per_s']:,.0f} |")
for c, v in sorted(engine.items()):
    print(f"| gwo engine alone (gwo-train --serve, no gRPC), {c} concurrent (median) | {v:,.0f} |")
if not gwo:
    print("\nNo gRPC figures: the coordinator did not start (see coordinator.log).")
    gwo = {c: {"tokens_per_s": v} for c, v in engine.items()}
g1, g32 = (gwo[c]["tokens_per_s"] if c in gwo else float("nan") for c in (1, 32))
nan = float("nan")
print(f"\n- gwo 1 request / peer ({mode}) batch 1: **{g1 / p.get((1, mode), nan):.2f}x** (target >= 2x)")
print(f"- gwo 32 concurrent / gwo 1 request: **{g32 / g1:.1f}x** (target >= 10x)")
print(f"- gwo 32 concurrent / peer ({mode}) batch 32: {g32 / p.get((32, mode), nan):.2f}x")
print(f"- greedy tokens of gwo and the peer agree for the first {same} of {min(len(a), len(b))} tokens")
if os.path.exists(f"{out}/fused_step.txt"):
    print("\nThe fused decode step alone (bench/generate/fused_step_bench.cu):\n")
    print(open(f"{out}/fused_step.txt").read())
PY

# One archive of everything, alone under $OUT (the device tool returns a limited number of files).
tar czf "$OUT.tgz" -C "$OUT" . && rm -rf "${OUT:?}"/* && mv "$OUT.tgz" "$OUT/results.tgz"
