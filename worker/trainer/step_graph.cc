#include "worker/trainer/step_graph.h"

#include <torch/torch.h>

#include <set>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#if GWO_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace gwo::trainer {
namespace {

// Attention kinds whose training forward is the same device work every step (no
// host-side counters, no host reads of device values), checked under capture.
// performer redraws its features on a host-side count; the others are not yet
// checked under capture.
const std::set<std::string>& CapturableKinds() {
  static const std::set<std::string> kinds = {"standard", "factorized"};
  return kinds;
}

}  // namespace

std::optional<std::string> StepGraphUnsupported(const Learner& learner, const spec::RunSpec& spec,
                                                bool has_teacher, bool side_by_side) {
  if (!spec.training.cuda_graph) return "training.cuda_graph is off";
#if !GWO_WITH_CUDA
  return "this gwo-train was built without CUDA";
#else
  if (learner.params.empty() || !learner.params.front().is_cuda()) return "the model is not on CUDA";
  if (learner.optimizer_spec.name == "natural") {
    return "the natural optimizer sets learning rates from host-side energies every step";
  }
  if (has_teacher && spec.training.distill.weight > 0) {
    return "distillation feeds the teacher's logits from outside the step";
  }
  if (side_by_side) return "side-by-side training steps two models";
  if (!learner.update->fused()) return "the optimizer update is not the fused one";
  if (!CapturableKinds().contains(spec.attention.kind)) {
    return absl::StrCat("attention kind ", spec.attention.kind, " is not among the captured kinds (",
                        absl::StrJoin(CapturableKinds(), ", "), ")");
  }
  return std::nullopt;
#endif
}

#if GWO_WITH_CUDA

struct StepGraph::State {
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
  at::cuda::CUDAGraph graph;
  torch::Tensor x, y;  // the graph's inputs (B, T)
  StepLoss out;        // the graph's outputs
  int calls = 0;
  bool captured = false;
};

StepGraph::StepGraph(Learner& learner, const spec::TrainingSpec& training)
    : learner_(learner), training_(training), state_(std::make_unique<State>()) {}

StepGraph::~StepGraph() = default;

bool StepGraph::captured() const { return state_->captured; }

StepLoss StepGraph::Step(const torch::Tensor& x, const torch::Tensor& y, double lr) {
  State& s = *state_;
  SetLayerLearningRates(learner_.adamw, lr, /*scales=*/{});
  learner_.update->LoadLearningRates();  // on the current stream, before the step's work
  if (s.captured) {
    s.x.copy_(x);
    s.y.copy_(y);
    s.graph.replay();
    return s.out;
  }
  // Warm-up and capture run on the graph's own stream (capture cannot use the default
  // stream), fenced by device synchronisations on both sides.
  torch::cuda::synchronize();
  if (s.calls++ == 0) {
    StepLoss loss;
    {
      c10::cuda::CUDAStreamGuard guard(s.stream);
      loss = learner_.Step(x, y, /*teacher_logits=*/{}, training_, lr);
    }
    torch::cuda::synchronize();
    return loss;
  }
  s.x = x.clone();
  s.y = y.clone();
  torch::cuda::synchronize();
  {
    c10::cuda::CUDAStreamGuard guard(s.stream);
    learner_.autocast_cache = false;  // casts made inside the graph must be replayed too
    try {
      s.graph.capture_begin();
      s.out = learner_.Forward(s.x, s.y, /*teacher_logits=*/{}, training_);
      learner_.Finish(training_);
      s.graph.capture_end();
    } catch (const std::exception& e) {
      learner_.autocast_cache = true;
      // End the capture (and the allocator's capture pool) before anything else runs;
      // the caller then trains eagerly. When even that fails, CUDA's state is not one
      // to continue from: end the attempt with what to change.
      bool ended = false;
      try {
        s.graph.capture_end();
        ended = true;
      } catch (const std::exception&) {
      }
      if (!ended) {
        throw std::runtime_error(std::string("CUDA graph capture of the training step failed (") + e.what() +
                                 ") and could not be ended; rerun with training.cuda_graph: false");
      }
      throw;
    }
    learner_.autocast_cache = true;
  }
  torch::cuda::synchronize();
  s.captured = true;
  s.graph.replay();
  return s.out;
}

#else  // no CUDA in this LibTorch: StepGraphUnsupported always says so

struct StepGraph::State {};
StepGraph::StepGraph(Learner& learner, const spec::TrainingSpec& training)
    : learner_(learner), training_(training) {}
StepGraph::~StepGraph() = default;
bool StepGraph::captured() const { return false; }
StepLoss StepGraph::Step(const torch::Tensor&, const torch::Tensor&, double) {
  TORCH_CHECK(false, "CUDA graphs are not available in this build");
}

#endif

}  // namespace gwo::trainer
