#include "worker/trainer/batches.h"

#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace gwo::trainer {

TokenBatch GatherWindows(std::span<const int32_t> tokens, std::span<const int64_t> starts,
                         int64_t T) {
  TokenBatch batch;
  batch.inputs.reserve(starts.size() * static_cast<size_t>(T));
  batch.targets.reserve(starts.size() * static_cast<size_t>(T));
  for (const int64_t start : starts) {
    for (int64_t t = 0; t < T; ++t) {
      batch.inputs.push_back(tokens[static_cast<size_t>(start + t)]);
      batch.targets.push_back(tokens[static_cast<size_t>(start + t + 1)]);
    }
  }
  return batch;
}

WindowSampler::WindowSampler(int64_t num_tokens, int64_t T, uint64_t seed)
    : num_starts_(static_cast<uint64_t>(num_tokens - T)), rng_(seed) {}

std::vector<int64_t> WindowSampler::Next(int batch_size) {
  std::vector<int64_t> starts(static_cast<size_t>(batch_size));
  for (int64_t& start : starts) start = static_cast<int64_t>(rng_() % num_starts_);
  return starts;
}

namespace {
constexpr std::string_view kSamplerStateTag = "window-sampler 1";
}  // namespace

std::string WindowSampler::State() const {
  std::ostringstream out;
  out << kSamplerStateTag << ' ' << num_starts_ << ' ' << rng_;
  return std::move(out).str();
}

absl::Status WindowSampler::Restore(std::string_view state) {
  std::istringstream in{std::string(state)};
  std::string name, version;
  uint64_t num_starts = 0;
  std::mt19937_64 rng;
  in >> name >> version >> num_starts >> rng;
  if (in.fail() || absl::StrCat(name, " ", version) != kSamplerStateTag || !(in >> std::ws).eof()) {
    return absl::InvalidArgumentError("window sampler state does not parse");
  }
  if (num_starts != num_starts_) {
    return absl::FailedPreconditionError(absl::StrCat("the checkpoint sampled among ", num_starts,
                                                      " training windows, the data now has ",
                                                      num_starts_, " (the training data changed)"));
  }
  rng_ = rng;
  return absl::OkStatus();
}

std::vector<int64_t> EvenlySpacedStarts(int64_t num_tokens, int64_t T, int64_t count) {
  const int64_t last = num_tokens - T - 1;
  std::vector<int64_t> starts(static_cast<size_t>(count), 0);
  if (count <= 1) return starts;
  for (int64_t i = 0; i < count; ++i) {
    // floor(i * last / (count - 1)), split so that i * last cannot overflow.
    const int64_t q = last / (count - 1), r = last % (count - 1);
    starts[static_cast<size_t>(i)] = i * q + i * r / (count - 1);
  }
  return starts;
}

}  // namespace gwo::trainer
