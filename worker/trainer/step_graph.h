// The whole training step of a Learner (forward, backward, clipping, the optimizer
// update, the frozen rows put back) captured once in a CUDA graph and replayed: one
// launch per step instead of thousands, when the step's shapes and host work are the
// same every step. A replay computes exactly what Learner::Step computes.
#ifndef GWO_WORKER_TRAINER_STEP_GRAPH_H_
#define GWO_WORKER_TRAINER_STEP_GRAPH_H_

#include <memory>
#include <optional>
#include <string>

#include "spec/run_spec.h"
#include "worker/trainer/learner.h"

namespace gwo::trainer {

// Why the step of `learner` for run `spec` cannot be captured, or nullopt when it can:
// training.cuda_graph off, not on CUDA, LibTorch without CUDA graphs, the natural
// optimizer (its learning rates come from host-side energies each step),
// distillation (the teacher's logits come from outside the step), side-by-side
// training, an update that is not the fused one, or an attention kind whose forward
// keeps host-side state between steps or is not yet known to be capturable.
std::optional<std::string> StepGraphUnsupported(const Learner& learner, const spec::RunSpec& spec,
                                                bool has_teacher, bool side_by_side);

class StepGraph {
 public:
  // `learner` and `training` must outlive the graph.
  StepGraph(Learner& learner, const spec::TrainingSpec& training);
  ~StepGraph();

  // One training step on x, y (B, T) at learning rate lr. The first call runs eagerly
  // on the graph's stream (warm-up: gradients, optimizer state and library handles
  // come to exist); the second captures the step and replays it; later calls copy x, y
  // into the graph's inputs and replay. x, y must keep their shape. The returned
  // terms are the graph's outputs, overwritten by the next call: read them first.
  // Throws c10::Error when the capture fails (the step then did not run, and the caller
  // may train eagerly), std::runtime_error when the failed capture could not be ended
  // (the run should stop).
  StepLoss Step(const torch::Tensor& x, const torch::Tensor& y, double lr);

  bool captured() const;

 private:
  struct State;
  Learner& learner_;
  const spec::TrainingSpec& training_;
  std::unique_ptr<State> state_;
};

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_STEP_GRAPH_H_
