// The dual-form comparison of in-context learning (ICL) with fine-tuning, after Dai
// et al., "Why Can GPT Learn In-Context? Language Models Implicitly Perform Gradient
// Descent as Meta-Optimizers" (2023), on a labelled classification corpus.
//
// The demonstrations and queries come from BuildIclTask (worker/trainer/icl_data.h):
// chosen round-robin over the labels, formatted "<text>\nLabel: <label>\n\n" and
// "<text>\nLabel:", cut to fit block_size. The fine-tuning run
// (training.icl.train_on: demonstrations) trains on exactly these demonstrations.
//
// Three forward passes per query q:
//   ZSL: the reference model (the teacher: the model before fine-tuning) on q alone;
//   ICL: the reference model on the demonstrations followed by q;
//   FT:  this run's fine-tuned model (e.g. trained with trainable.mode kv_only) on q.
// At the last position of q (the ":" of "Label:"), for each layer l:
//   h^X_l   the attention sublayer's output (after c_proj / o_proj), X in {ZSL, ICL, FT};
//   a^X_l   the attention weights of that position over q's own tokens (the last n
//           keys), averaged over heads: captured().probs. For softmax kinds, the
//           post-softmax probabilities (ICL's also spread over the demonstrations, so
//           they sum to less than 1 over q). For linear attention (softmax-free),
//           the relaxed weights c_t (q_t . k_s) / sqrt(hd): its pre-normalisation
//           scores times the positive c_t, signed and unnormalised
//           (worker/attention/linear.cc).
// Cosine and Kendall's tau are invariant to a positive scale, so no renormalisation
// is applied (it would change nothing: softmax's partition over the demonstrations,
// linear's c_t = 1 / (t + 1) are positive factors).
// Then, each averaged over layers and then over queries:
//   SimAOU      = cos(h^ICL_l - h^ZSL_l, h^FT_l - h^ZSL_l)   (attention-output updates)
//   SimAM       = cos(a^ICL_l, a^FT_l)                      (attention maps)
//   Kendall tau = KendallTau(a^ICL_l, a^FT_l)                (rank agreement of the weights;
//                 queries of one token are left out of it, a NaN tau (constant
//                 weights) counts as 0)
// and the label accuracy of each setting over the queries: the prediction is the
// candidate label (BuildIclTask's labels) whose answer tokens " <label>" have the
// highest log-likelihood after the setting's prompt (ZSL, FT: q; ICL: demonstrations
// then q). Binary or multi-class: the labels are whatever the corpus holds.
//
// The dual form (Dai et al.; exact for linear attention with normalize: none): ICL's
// attention output at q is ZSL's plus q's reading of the demonstrations'
// sum_s k_s v_s^T, which is what a K/V update of the layer adds; the test
// tests/worker/trainer/icl_dual_form_test.cc builds a V update equal to ICL's and
// checks SimAOU = SimAM = 1.
#ifndef GWO_WORKER_TRAINER_ICL_H_
#define GWO_WORKER_TRAINER_ICL_H_

#include <vector>

#include "absl/status/statusor.h"
#include "spec/training_modes.h"
#include "worker/data/corpus.h"
#include "worker/data/tokenizer.h"
#include "worker/models/model.h"

namespace gwo::trainer {

struct IclComparison {
  double sim_aou = 0;
  double sim_am = 0;
  double kendall_tau = 0;
  double accuracy_icl = 0;  // share of queries whose label each setting predicts
  double accuracy_ft = 0;
  double accuracy_zsl = 0;
  int queries = 0;  // queries measured
};

// The index in `answers` of the most likely answer after `prompt`: the largest sum of
// the answer tokens' log-probabilities (ties: the lowest index). One forward of every
// answer appended to the prompt, right-padded; `model` as it is (eval mode, no grad
// are the caller's).
int MostLikelyAnswer(models::CausalLm& model, const std::vector<int32_t>& prompt,
                     const std::vector<std::vector<int32_t>>& answers);

// The comparison above over BuildIclTask's queries (block_size: the smaller of the
// two models'). Errors: those of BuildIclTask. Leaves capture off and each model in
// the mode it was in.
absl::StatusOr<IclComparison> CompareIclWithFineTuning(models::CausalLm& fine_tuned,
                                                       models::CausalLm& reference,
                                                       const data::Tokenizer& tokenizer,
                                                       const data::LabelledExamples& examples,
                                                       const spec::IclSpec& spec);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_ICL_H_
