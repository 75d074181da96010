#include "worker/trainer/training_session.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/run_layout.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/evaluation.h"

namespace gwo::trainer {

absl::Status Session::EvaluateNow() {
  const std::optional<double> val_loss =
      Evaluate(model(), corpus().val(), spec, device, options.stop, learner->precision);
  loop.eval_pending = !val_loss.has_value();
  if (loop.eval_pending) return absl::OkStatus();
  loop.last_val_loss = *val_loss;
  Progress("step %d/%d val_loss %.4f val_ppl %.3f", loop.step, spec.training.steps, *val_loss,
           std::exp(*val_loss));
  if (absl::Status s = RecordAll(*sink, loop.step, "",
                                 {{kValLoss, *val_loss}, {kValPerplexity, std::exp(*val_loss)}});
      !s.ok()) {
    return s;
  }
  if (absl::Status s = RecordFidelity(*learner); !s.ok()) return s;
  if (side != nullptr) {
    const std::optional<double> side_loss =
        Evaluate(*side->model, corpus().val(), spec, device, nullptr, side->precision);
    Progress("step %d/%d %sval_loss %.4f", loop.step, spec.training.steps, side->prefix, *side_loss);
    if (absl::Status s = RecordAll(*sink, loop.step, side->prefix,
                                   {{kValLoss, *side_loss}, {kValPerplexity, std::exp(*side_loss)}});
        !s.ok()) {
      return s;
    }
    if (absl::Status s = RecordFidelity(*side); !s.ok()) return s;
  }
  if (!(*val_loss < loop.best_val_loss)) return absl::OkStatus();
  loop.best_val_loss = *val_loss;
  absl::StatusOr<models::CausalLm*> exported = ExportModel();
  if (!exported.ok()) return exported.status();
  return SaveCheckpoint(run_layout::Best(out.string()), spec, **exported);
}

absl::Status Session::RecordFidelity(Learner& l) {
  const int n = std::min(spec.training.metrics.fidelity_batches, spec.training.eval_batches);
  if (teacher == nullptr || n <= 0) return absl::OkStatus();
  const auto starts = ValidationBatches(static_cast<int64_t>(corpus().val().size()), spec);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> batches;
  for (int i = 0; i < n; ++i) batches.push_back(ToTensors(corpus().val(), starts[i], spec.model.block_size, device));
  const Fidelity f = MeasureFidelity(*l.model, *teacher, batches, spec.training.micro_batch_size);
  Progress("step %d %skl_teacher %.4g attn_prob_mse %.4g attn_grad_cosine %.4f", loop.step, l.prefix,
           f.kl, f.attn_prob_mse, f.attn_grad_cosine);
  return RecordAll(*sink, loop.step, l.prefix,
                   {{kValKlTeacher, f.kl}, {kAttnProbMse, f.attn_prob_mse}, {kAttnGradCosine, f.attn_grad_cosine}});
}

}  // namespace gwo::trainer
