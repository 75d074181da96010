#!/usr/bin/env bash
# On a GPU machine (see ../shared/device/README.md): builds gwo against PyTorch's CUDA
# LibTorch, runs the unit tests there, and trains the quickstart spec on the GPU.
# Logs go to $OUT (default /tmp/gwo-gpu-check); the last lines are a summary.
set -uo pipefail
OUT=${OUT:-/tmp/gwo-gpu-check}
mkdir -p "$OUT"
BUILD=${GWO_BUILD_DIR:-/tmp/gwo-gpu-build}
summary=()
t0=$SECONDS
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release ${GWO_PG_ARGS:-} >"$OUT/configure.log" 2>&1
if ninja -C "$BUILD" -j "$(nproc)" >"$OUT/build.log" 2>&1; then
  summary+=("build: ok in $((SECONDS - t0)) s")
else
  summary+=("build: FAILED (see build.log)"); grep -m 20 -E "error" "$OUT/build.log"
fi
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' >"$OUT/versions.txt" 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >>"$OUT/versions.txt" 2>&1
ctest --test-dir "$BUILD" -L unit -j 8 >"$OUT/unit.log" 2>&1
summary+=("unit tests: $(grep -E 'tests passed|tests failed' "$OUT/unit.log" | tail -1)")
cat >"$OUT/run.yaml" <<'YAML'
experiment: gpu-check
variant: baseline
seed: 1
model: {arch: gpt2, n_layer: 2, n_head: 2, n_embd: 64, block_size: 64}
data: {name: py, path: /usr/lib/python3.12, glob: "*.py", max_bytes: 2000000}
training: {steps: 300, batch_size: 16, lr: 0.003, warmup_steps: 30, eval_every: 100, log_every: 100, device: cuda}
YAML
[ -d /usr/lib/python3.12 ] || sed -i "s|/usr/lib/python3.12|$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')|" "$OUT/run.yaml"
"$BUILD/bin/gwo-train" --spec "$OUT/run.yaml" --out /tmp/gwo-gpu-run >"$OUT/train.log" 2>&1
summary+=("gwo-train on cuda: exit $? ; $(grep -E '^final' "$OUT/train.log")")
printf '%s\n' "${summary[@]}" | tee "$OUT/summary.txt"
