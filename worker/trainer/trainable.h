// What trains (training.trainable): attaches LoRA adapters, sets requires_grad, and
// for GPT-2's kv_only holds the query rows of the fused c_attn projection fixed.
#ifndef GWO_WORKER_TRAINER_TRAINABLE_H_
#define GWO_WORKER_TRAINER_TRAINABLE_H_

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/training_modes.h"
#include "worker/models/model.h"

namespace gwo::trainer {

// Rows [begin, begin + count) of dimension 0 of `param` that do not train although
// the tensor does: their gradient is zeroed by a hook and their values are put back
// after each optimizer step (AdamW's decoupled weight decay would move them).
struct FrozenRows {
  torch::Tensor param;
  int64_t begin = 0;
  int64_t count = 0;
  torch::Tensor saved;  // (count, ...) the values they keep; set by Capture()
};

struct TrainableSetup {
  std::vector<std::string> lora_modules;  // module paths that got an adapter
  std::vector<FrozenRows> frozen_rows;
  int64_t total = 0;      // every parameter (adapters included)
  int64_t trainable = 0;  // those that change: requires_grad minus frozen rows

  // Records the current values of the frozen rows (call once the weights are final:
  // after loading initial weights or restoring a checkpoint).
  void Capture();
  // Puts the frozen rows back to the captured values (after each optimizer step).
  void Restore() const;
};

// Applies `spec` to `model` (whose weights are already loaded; adapters are created
// on the device of the weights they adapt): mode full / lora / kv_only, then the
// `train` patterns (full: only matching parameters train; otherwise they train too)
// and the `freeze` patterns. INVALID_ARGUMENT when a pattern matches no parameter, a
// LoRA target matches no Linear, or nothing is left to train.
absl::StatusOr<TrainableSetup> ApplyTrainable(models::CausalLm& model, const spec::TrainableSpec& spec);

// Whether parameter `name` is a key or value projection weight/bias of `arch`
// (qwen3: *.self_attn.k_proj.*, *.self_attn.v_proj.*). GPT-2 fuses q, k, v in c_attn:
// see ApplyTrainable.
bool IsKvProjection(const std::string& arch, const std::string& name);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_TRAINABLE_H_
