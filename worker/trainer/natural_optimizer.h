// The attention-informed optimizer of the natural-attention experiment: AdamW whose
// learning rate is scaled per transformer layer by that layer's attention energy,
// read from the pre-softmax scores each attention captured in the step's forward.
//
// Definition, for layer l with captured scores S_l (B, nh, T, T) (-inf where masked):
//   E_l = mean of S_l[b,h,t,s]^2 over the unmasked entries (s <= t)   (the energy)
//   Ē   = (1/L) sum_l E_l                                              (over layers with scores)
//   f_l = clamp((Ē / E_l)^beta, min_scale, max_scale)                  (E_l = 0: max_scale)
// and every parameter under layer l ("h.{l}." in gpt2, "model.layers.{l}." in qwen3)
// steps with learning rate lr * f_l; parameters outside the layers (embeddings, the
// final norm) and layers whose variant records no scores keep lr. beta = strength.
// Rationale: large energies make the softmax sharp, where the Fisher information of
// the attention weights is large, so a natural-gradient step there is smaller; the
// energy ratio is a cheap per-layer proxy for that curvature.
#ifndef GWO_WORKER_TRAINER_NATURAL_OPTIMIZER_H_
#define GWO_WORKER_TRAINER_NATURAL_OPTIMIZER_H_

#include <torch/optim/adamw.h>

#include <memory>
#include <string>
#include <vector>

#include "spec/run_spec.h"
#include "worker/models/model.h"

namespace gwo::trainer {

// E_l of each captured score tensor; NaN for an undefined tensor (no scores).
std::vector<double> AttentionEnergies(const std::vector<torch::Tensor>& scores);

// f_l of each energy (NaN energies get 1), per the definition above.
std::vector<double> NaturalScales(const std::vector<double>& energies, const spec::OptimizerSpec& spec);

// The transformer layer a parameter belongs to ("h.3.attn.c_attn.weight" -> 3,
// "model.layers.0.mlp.up_proj.weight" -> 0), or -1 for parameters outside the layers.
int LayerOfParameter(const std::string& name);

// AdamW over the trainable parameters in groups per (layer, decays): group_layer[g]
// is the layer of group g (-1: outside layers). Options as MakeAdamW's.
struct LayeredAdamW {
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::vector<int> group_layer;
};
LayeredAdamW MakeLayeredAdamW(const torch::nn::Module& model, const spec::TrainingSpec& training);

// Sets group g's learning rate to lr * scales[group_layer[g]] (lr where the layer is
// -1 or beyond scales).
void SetLayerLearningRates(LayeredAdamW& adamw, double lr, const std::vector<double>& scales);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_NATURAL_OPTIMIZER_H_
