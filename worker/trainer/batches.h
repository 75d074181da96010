// Which token windows make up a batch. Free of LibTorch: the trainer turns the id
// vectors into tensors.
#ifndef GWO_WORKER_TRAINER_BATCHES_H_
#define GWO_WORKER_TRAINER_BATCHES_H_

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace gwo::trainer {

// Inputs and next-token targets of `batch_size` windows, row-major (batch_size, T).
struct TokenBatch {
  std::vector<int64_t> inputs;   // (B, T): tokens[start + t]
  std::vector<int64_t> targets;  // (B, T): tokens[start + t + 1]
};

// Copies the windows starting at `starts` (each needs T + 1 tokens in `tokens`).
TokenBatch GatherWindows(std::span<const int32_t> tokens, std::span<const int64_t> starts,
                         int64_t T);

// Training windows: uniformly random starts, reproducible from a seed on every
// platform (std::mt19937_64 is fully specified; the start is drawn as rng() modulo
// the number of starts, not with the implementation-defined distributions).
class WindowSampler {
 public:
  // `num_tokens` >= T + 1.
  WindowSampler(int64_t num_tokens, int64_t T, uint64_t seed);
  // The starts of the next `batch_size` windows, each in [0, num_tokens - T - 1].
  std::vector<int64_t> Next(int batch_size);

  // The sampler's position, as text: "window-sampler 1 <number of starts> <mt19937_64
  // state as operator<< writes it>". A sampler restored from it draws exactly the
  // windows this one would draw next.
  std::string State() const;
  // Continues from a State() string. INVALID_ARGUMENT when it does not parse;
  // FAILED_PRECONDITION when it was taken over another number of window starts (the
  // training data changed). On error the sampler is unchanged.
  absl::Status Restore(std::string_view state);

 private:
  uint64_t num_starts_;
  std::mt19937_64 rng_;
};

// Validation windows: `count` starts spread evenly from 0 to num_tokens - T - 1 (both
// ends included when count > 1). The same for every run on the same data, so
// validation losses are comparable across runs. `num_tokens` >= T + 1.
std::vector<int64_t> EvenlySpacedStarts(int64_t num_tokens, int64_t T, int64_t count);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_BATCHES_H_
