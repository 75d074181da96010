#!/usr/bin/env bash
# End-to-end test of the five experiments' examples (examples/*.yaml, issue 4): a
# real coordinator and a real worker with 2 slots; each example is submitted at its
# cpu scale with gwoctl, every run must reach SUCCEEDED, and each run must have
# recorded the metrics its experiment promises (gwoctl metrics RUN --names ...).
# Usage: examples_test.sh BIN_DIR SOURCE_DIR
set -uo pipefail
BIN=$1
SRC=$2
source "$SRC/tests/e2e/lib.sh"
e2e_begin gwo-e2e-examples

start_coordinator --http_listen=
echo "coordinator at $ADDR"

start_worker worker --name e2e-examples --slots 2 --work-dir "$TMP/work" --stop_grace_s 5

EXAMPLES=(factorized-lora masks-distill performer-nsa-distill natural-side-by-side dual-form-icl)

# Submit all five at once (the scheduler interleaves their stages on the 2 slots).
declare -A EXP
for ex in "${EXAMPLES[@]}"; do
  "$BIN/gwoctl" submit "$SRC/examples/$ex.yaml" --scale cpu >"$TMP/$ex.submit" 2>&1
  rc=$?
  cat "$TMP/$ex.submit"
  check "$ex: submitted at cpu scale" test "$rc" -eq 0
  EXP[$ex]=$(sed -n 's/^submitted \(exp-[0-9]*\) .*/\1/p' "$TMP/$ex.submit")
done

# A scale the file does not define is refused with the scales it has.
"$BIN/gwoctl" submit "$SRC/examples/masks-distill.yaml" --scale tpu >"$TMP/tpu.out" 2>&1
check "an unknown scale is refused" grep -q 'masks-distill.yaml:.*no scale "tpu" (expected one of cpu, gpu)' "$TMP/tpu.out"

for ex in "${EXAMPLES[@]}"; do
  [ -n "${EXP[$ex]}" ] || continue
  timeout 600 "$BIN/gwoctl" wait "${EXP[$ex]}" >"$TMP/$ex.wait" 2>&1
  total=$(grep -c '^  run-' "$TMP/$ex.submit")
  grep -E "runs succeeded|error:|FAILED" "$TMP/$ex.wait"
  check "$ex: all $total runs succeeded" grep -q "$total/$total runs succeeded" "$TMP/$ex.wait"
done

# The ids (run-N) of an example's runs whose name (VARIANT/DATASET/seedN) matches a regex.
runs_of() {  # runs_of EXAMPLE NAME-REGEX
  "$BIN/gwoctl" runs "${EXP[$1]}" 2>/dev/null | awk -v v="$2" '$1 ~ /^run-/ && $2 ~ v { print $1 }'
}

# The values of column NAME of a gwo tabular output (left-aligned columns, empty
# cells left blank), one per row that has one.
column() {  # column NAME FILE
  awk -v n="$1" '
    NR == 1 {
      p = 1
      while (match(substr($0, p), /[^ ]+/)) {
        s = p + RSTART - 1
        if (substr($0, s, RLENGTH) == n) col = s
        p = s + RLENGTH
      }
      next
    }
    col { v = substr($0, col); sub(/ .*/, "", v); if (v != "") print v }' "$2"
}

# Every run of EXAMPLE whose name matches NAME-REGEX has each metric as a column of
# gwoctl metrics, with at least one finite value.
has_metrics() {  # has_metrics EXAMPLE NAME-REGEX METRIC...
  local ex=$1 variant=$2
  shift 2
  local names runs run metric
  names=$(IFS=,; echo "$*")
  runs=$(runs_of "$ex" "$variant")
  [ -n "$runs" ] || { echo "  no runs of $ex matching $variant"; return 1; }
  for run in $runs; do
    "$BIN/gwoctl" metrics "$run" --names "$names" >"$TMP/metrics.out" 2>&1 || return 1
    for metric in "$@"; do
      if ! column "$metric" "$TMP/metrics.out" | awk '$1 + 0 == $1 && $1 != "nan" { ok = 1 } END { exit !ok }'; then
        echo "  $ex $run lacks a value of $metric:"
        head -n 5 "$TMP/metrics.out"
        return 1
      fi
    done
  done
}

check "factorized-lora: val_ppl and trainable parameters of every run" \
  has_metrics factorized-lora "" val_ppl params_trainable params_total
# Every run matching NAME-REGEX trains fewer parameters than its model has.
fewer_trainable() {  # fewer_trainable EXAMPLE NAME-REGEX
  local runs run total trainable
  runs=$(runs_of "$1" "$2")
  [ -n "$runs" ] || return 1
  for run in $runs; do
    "$BIN/gwoctl" metrics "$run" --names params_total,params_trainable >"$TMP/params.out" 2>&1 || return 1
    total=$(column params_total "$TMP/params.out" | head -n 1)
    trainable=$(column params_trainable "$TMP/params.out" | head -n 1)
    echo "  $run: params_trainable $trainable of $total"
    awk -v p="$trainable" -v t="$total" 'BEGIN { exit !(p > 0 && p < t) }' || return 1
  done
}
check "factorized-lora: the LoRA arms train only part of the model" \
  fewer_trainable factorized-lora "^(baseline-lora|factorized-lora)/"
factorized_kept() {
  local run
  run=$(runs_of factorized-lora "^factorized-lora/" | head -n 1 | sed 's/run-//')
  grep -q "attention-variant tensors not in .* keep their initial values" \
    "$TMP"/work/runs/"$run"/attempt-*/train.log
}
check "factorized-lora: the factorized arm started from the pretrained weights" factorized_kept

DISTILL=(val_kl_teacher attn_prob_mse attn_grad_cosine val_ppl train_step_peak_mem_bytes
  infer_peak_mem_bytes_len128)
check "masks-distill: fidelity, perplexity and memory of every distilled run" \
  has_metrics masks-distill "^(window|learned-mask|mask-mixture)/" "${DISTILL[@]}"
check "masks-distill: the baseline's perplexity and memory" \
  has_metrics masks-distill "^baseline/" val_ppl train_step_peak_mem_bytes infer_peak_mem_bytes_len64
samples_written() {
  local run id
  for run in $(runs_of masks-distill ""); do
    id=${run#run-}
    grep -q '"greedy"' "$TMP"/work/runs/"$id"/attempt-*/out/samples.jsonl 2>/dev/null || return 1
  done
}
check "masks-distill: every run wrote samples" samples_written
check "performer-nsa-distill: fidelity, perplexity and memory of performer and nsa" \
  has_metrics performer-nsa-distill "^(performer|nsa)/" "${DISTILL[@]}"
check "natural-side-by-side: both models' series" \
  has_metrics natural-side-by-side "" train_loss val_loss val_ppl nat_train_loss nat_val_loss nat_val_ppl \
  nat_natural_lr_scale_l0 nat_natural_lr_scale_l1
ICL=(icl_sim_aou icl_sim_am icl_kendall_tau icl_acc_icl icl_acc_ft icl_acc_zsl)
check "dual-form-icl: SimAOU, SimAM, Kendall tau and accuracies on both tasks, softmax arm" \
  has_metrics dual-form-icl "^kv-finetune/" "${ICL[@]}"
check "dual-form-icl: SimAOU, SimAM, Kendall tau and accuracies on both tasks, linear arm" \
  has_metrics dual-form-icl "^kv-finetune-linear/" "${ICL[@]}"
check "dual-form-icl: only part of the model (K/V) trains in the fine-tuning" \
  fewer_trainable dual-form-icl "^kv-finetune(-linear)?/"
# Each fine-tuning trained on the comparison's 5 demonstrations, every label among
# them (round-robin over the labels; max_bytes_per_label reads every label).
finetuned_on_demonstrations() {
  local run id log
  for run in $(runs_of dual-form-icl "^kv-finetune(-linear)?/spam/"); do
    id=${run#run-}
    grep -q "fine-tuning on the 5 demonstrations (labels ham, spam, ham, spam, ham," \
      "$TMP"/work/runs/"$id"/attempt-*/train.log || { echo "  $run"; return 1; }
  done
  for run in $(runs_of dual-form-icl "^kv-finetune(-linear)?/spam5/"); do
    id=${run#run-}
    log=$(grep -h "fine-tuning on the 5 demonstrations" "$TMP"/work/runs/"$id"/attempt-*/train.log)
    for label in easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2; do
      [[ "$log" == *"$label"* ]] || { echo "  $run lacks $label: $log"; return 1; }
    done
  done
}
check "dual-form-icl: the fine-tuning trained on the demonstrations of every label" \
  finetuned_on_demonstrations
# The report puts the two arms side by side (printed for the log).
icl_report() {
  "$BIN/gwoctl" report "${EXP[dual-form-icl]}" --baseline kv-finetune \
    --metrics icl_sim_aou,icl_sim_am,icl_kendall_tau,icl_acc_icl,icl_acc_ft,icl_acc_zsl >"$TMP/icl.report" 2>&1 || return 1
  cat "$TMP/icl.report"
  grep -q "kv-finetune-linear" "$TMP/icl.report" && grep -q "icl_acc_ft" "$TMP/icl.report"
}
check "dual-form-icl: the report compares the softmax and linear arms" icl_report

if [ "$failed" -ne 0 ]; then
  echo "--- coordinator log"; tail -n 60 "$TMP/coordinator.log"
  echo "--- worker log"; tail -n 60 "$TMP/worker.log"
  for f in "$TMP"/work/runs/*/attempt-*/train.log; do
    grep -q "error" "$f" 2>/dev/null && { echo "--- $f"; tail -n 15 "$f"; }
  done
fi
e2e_end
