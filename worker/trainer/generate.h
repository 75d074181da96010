// Text generation from a trained model for the spec's prompts (training.generate):
// greedy and sampled continuations, by plain recomputation over the last block_size
// tokens (no KV cache: the variants' forward() has none, and the runs are small).
#ifndef GWO_WORKER_TRAINER_GENERATE_H_
#define GWO_WORKER_TRAINER_GENERATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "spec/training_modes.h"
#include "worker/data/tokenizer.h"
#include "worker/models/model.h"

namespace gwo::trainer {

// `prompt` followed by `max_new_tokens` ids. temperature <= 0: greedy (argmax);
// otherwise each id is drawn from softmax(logits / temperature), restricted to the
// top_k most likely when top_k > 0, with the default torch generator. Runs in eval
// mode without gradients and restores training mode. An empty prompt starts from id 0.
std::vector<int32_t> GenerateTokens(models::CausalLm& model, std::vector<int32_t> prompt,
                                    int max_new_tokens, double temperature, int top_k);

struct Sample {
  std::string prompt;
  std::string greedy;   // the continuation only
  std::string sampled;  // the continuation only
};

// A greedy and a sampled continuation of each of spec.prompts.
std::vector<Sample> GenerateSamples(models::CausalLm& model, const data::Tokenizer& tokenizer,
                                    const spec::GenerateSpec& spec);

// Writes the samples to `path` as JSON lines {"prompt":..,"greedy":..,"sampled":..,
// "temperature":..,"top_k":..}, atomically. INTERNAL on I/O errors.
absl::Status WriteSamples(const std::string& path, const std::vector<Sample>& samples,
                          const spec::GenerateSpec& spec);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_GENERATE_H_
