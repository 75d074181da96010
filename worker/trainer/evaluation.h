// Measurements on held-out data: the validation loss, and the fidelity of a model to
// a reference (the teacher) on the same inputs: KL of next-token distributions,
// attention-probability MSE, cosine of the attention projections' gradients.
#ifndef GWO_WORKER_TRAINER_EVALUATION_H_
#define GWO_WORKER_TRAINER_EVALUATION_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "spec/run_spec.h"
#include "worker/models/model.h"
#include "worker/trainer/precision.h"

namespace gwo::trainer {

// (B, T) int64 inputs and targets on `device` for the windows at `starts`.
std::pair<torch::Tensor, torch::Tensor> ToTensors(std::span<const int32_t> tokens,
                                                  const std::vector<int64_t>& starts, int64_t T,
                                                  const torch::Device& device);

// The fixed validation batches: eval_batches of batch_size windows, evenly spaced.
std::vector<std::vector<int64_t>> ValidationBatches(int64_t val_tokens, const spec::RunSpec& spec);

// Mean loss over the validation batches; nullopt when a stop was requested midway.
// The forward runs under `precision` (the run's), the loss in float32 through
// LmHeadLoss. Draws no random numbers (eval mode: no dropout), so it does not move the
// run's trajectory. Leaves the model in training mode.
std::optional<double> Evaluate(models::CausalLm& model, std::span<const int32_t> val,
                               const spec::RunSpec& spec, const torch::Device& device,
                               const std::atomic<bool>* stop,
                               Precision precision = Precision::kFp32);

struct Fidelity {
  double kl = 0;                 // mean per-token KL(P_reference ‖ P_model), nats
  double attn_prob_mse = 0;      // mean over layers of the probabilities' MSE; NaN if not comparable
  double attn_grad_cosine = 0;   // mean over layers of the gradient cosine; NaN if not comparable
};

// The projection weights of each layer's attention (gpt2: attn.c_attn, attn.c_proj;
// qwen3: self_attn.{q,k,v,o}_proj), in layer order.
std::vector<std::vector<torch::Tensor>> AttentionProjectionWeights(const models::CausalLm& model);

// Compares `model` with `reference` on the (inputs, targets) `batches` (both in eval
// mode, no dropout), averaging over batches:
//   kl: TokenKl(reference logits, model logits) at temperature 1;
//   attn_prob_mse: MeanSquaredErrorPerLayer of the captured (B, nh, T, T)
//     probabilities, when both have the same number of layers and heads;
//   attn_grad_cosine: for each layer, the cosine between the two models' gradients
//     of the LM loss on the same batch with respect to that layer's attention
//     projection weights (concatenated), then the mean over layers; needs equal
//     shapes. Frozen weights get gradients here too (requires_grad is switched on
//     for the measurement and restored), and no .grad is touched.
// The KL and the gradients are computed in passes of at most `micro_batch` rows (0:
// the whole batch; training.micro_batch_size), with the same result.
// Leaves both models' capture off and `model` in training mode.
Fidelity MeasureFidelity(models::CausalLm& model, models::CausalLm& reference,
                         const std::vector<std::pair<torch::Tensor, torch::Tensor>>& batches,
                         int64_t micro_batch = 0);

struct InferenceMemory {
  int length = 0;
  int64_t peak_bytes = -1;     // PeakMemoryBytes around the forward; -1: not measurable
  double tokens_per_s = 0.0;   // length / the forward's wall time
};

// Peak memory and speed of one no-grad forward of batch 1 at each of `lengths` (token
// ids 0; the cost does not depend on them), in eval mode; lengths above the model's
// block_size are left out. Restores training mode.
std::vector<InferenceMemory> MeasureInference(models::CausalLm& model, const std::vector<int>& lengths);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_EVALUATION_H_
