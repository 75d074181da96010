// The dual-form comparison of in-context learning (ICL) with fine-tuning, after Dai
// et al., "Why Can GPT Learn In-Context? Language Models Implicitly Perform Gradient
// Descent as Meta-Optimizers" (2023), on a labelled classification corpus.
//
// Three forward passes per validation query q (text "<q.text>\nLabel:"):
//   ZSL: the reference model (the teacher: the model before fine-tuning) on q alone;
//   ICL: the reference model on `shots` demonstrations ("<text>\nLabel: <label>\n\n",
//        the first training examples) followed by q, cut to the last block_size
//        tokens (a query longer than block_size / 2 tokens keeps its last
//        block_size / 2, so that demonstrations fit beside it);
//   FT:  this run's fine-tuned model (e.g. trained with trainable.mode kv_only) on q.
// At the last position of q, for each layer l:
//   h^X_l   the attention sublayer's output (after c_proj / o_proj), X in {ZSL, ICL, FT};
//   a^X_l   the attention weights of that position over q's own tokens, averaged over
//           heads (ICL: the weights on the positions of q's tokens, renormalised to sum
//           to 1 over them; ZSL and FT already attend only to q).
// and then, each averaged over layers and then over queries:
//   SimAOU      = cos(h^ICL_l - h^ZSL_l, h^FT_l - h^ZSL_l)   (attention-output updates)
//   SimAM       = cos(a^ICL_l, a^FT_l)                      (attention maps)
//   Kendall tau = KendallTau(a^ICL_l, a^FT_l)                (rank agreement of the weights;
//                 queries of one token are left out of it, a NaN tau (constant
//                 weights) counts as 0)
// Binary or multi-class: the labels are whatever the corpus holds.
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
  int queries = 0;  // queries measured
};

// The comparison above over the first spec.queries examples of examples.val.
// INVALID_ARGUMENT when there are fewer training examples than spec.shots, no
// validation example, or every query encodes to nothing. Leaves capture off and each model in the mode it was in.
absl::StatusOr<IclComparison> CompareIclWithFineTuning(models::CausalLm& fine_tuned,
                                                       models::CausalLm& reference,
                                                       const data::Tokenizer& tokenizer,
                                                       const data::LabelledExamples& examples,
                                                       const spec::IclSpec& spec);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_ICL_H_
