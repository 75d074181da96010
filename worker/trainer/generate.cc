#include "worker/trainer/generate.h"

#include <torch/torch.h>

#include <limits>
#include <span>

#include <nlohmann/json.hpp>

#include "worker/trainer/file_io.h"

namespace gwo::trainer {

std::vector<int32_t> GenerateTokens(models::CausalLm& model, std::vector<int32_t> prompt,
                                    int max_new_tokens, double temperature, int top_k) {
  if (prompt.empty()) prompt.push_back(0);
  const torch::Device device = model.token_embedding().device();
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  std::vector<int32_t> ids = std::move(prompt);
  for (int i = 0; i < max_new_tokens; ++i) {
    const int64_t window = std::min<int64_t>(static_cast<int64_t>(ids.size()), model.block_size());
    std::vector<int64_t> context(ids.end() - window, ids.end());
    const torch::Tensor idx = torch::tensor(context, torch::kLong).view({1, window}).to(device);
    torch::Tensor logits = model.forward(idx).select(1, window - 1).squeeze(0).to(torch::kFloat32);  // (V)
    int64_t next = 0;
    if (temperature <= 0) {
      next = logits.argmax().item<int64_t>();
    } else {
      logits = logits / temperature;
      if (top_k > 0 && top_k < logits.size(0)) {
        // Keep the top_k largest logits: those below the k-th get -inf.
        const torch::Tensor kth = std::get<0>(logits.topk(top_k)).select(0, top_k - 1);
        logits = logits.masked_fill(logits < kth, -std::numeric_limits<float>::infinity());
      }
      next = torch::multinomial(torch::softmax(logits, -1), 1).item<int64_t>();
    }
    ids.push_back(static_cast<int32_t>(next));
  }
  if (was_training) model.train();
  return ids;
}

std::vector<Sample> GenerateSamples(models::CausalLm& model, const data::Tokenizer& tokenizer,
                                    const spec::GenerateSpec& spec) {
  std::vector<Sample> samples;
  for (const std::string& prompt : spec.prompts) {
    const std::vector<int32_t> ids = tokenizer.Encode(prompt);
    const size_t n = ids.empty() ? 1 : ids.size();
    auto continuation = [&](double temperature) {
      const std::vector<int32_t> out = GenerateTokens(model, ids, spec.max_new_tokens, temperature, spec.top_k);
      return tokenizer.Decode(std::span<const int32_t>(out).subspan(n));
    };
    samples.push_back({.prompt = prompt, .greedy = continuation(0.0), .sampled = continuation(spec.temperature)});
  }
  return samples;
}

absl::Status WriteSamples(const std::string& path, const std::vector<Sample>& samples,
                          const spec::GenerateSpec& spec) {
  std::string text;
  for (const Sample& s : samples) {
    const nlohmann::json line = {{"prompt", s.prompt},           {"greedy", s.greedy},
                                 {"sampled", s.sampled},         {"temperature", spec.temperature},
                                 {"top_k", spec.top_k},          {"max_new_tokens", spec.max_new_tokens}};
    // Byte-level tokenizers may cut a UTF-8 sequence: replace rather than fail.
    text += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
  }
  return WriteFileAtomically(path, text);
}

}  // namespace gwo::trainer
