// The models a generation server keeps loaded: one Engine per checkpoint, loaded on
// first use, kept warm while used, dropped when idle too long or when room is needed.
#ifndef GWO_WORKER_GENERATE_MODEL_POOL_H_
#define GWO_WORKER_GENERATE_MODEL_POOL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "worker/generate/engine.h"
#include "worker/trainer/checkpoint.h"

namespace gwo::generate {

// Loads the checkpoint at `path` on CPU in eval mode with its embedded run spec: a gwo
// checkpoint file (final.ckpt, best.ckpt, checkpoints/step-N.ckpt; see
// trainer::LoadCheckpoint) or an HF model directory / .safetensors file written by
// gwo (the run spec is its gwo_run_spec metadata; see models::LoadWeights). Errors:
// NOT_FOUND for a missing path, FAILED_PRECONDITION for an HF checkpoint without
// gwo_run_spec, and those of the loaders.
absl::StatusOr<trainer::LoadedCheckpoint> LoadForGeneration(const std::string& path);

struct PoolOptions {
  EngineOptions engine;                       // for every engine
  int max_models = 2;                         // engines loaded at once
  absl::Duration idle_timeout = absl::Minutes(10);  // unused this long: unloaded
};

class ModelPool {
 public:
  explicit ModelPool(PoolOptions options) : options_(options) {}

  // The engine of the checkpoint at `path` (a file rewritten since it was loaded is
  // loaded again). Loads it when needed, first unloading the least recently used engine
  // without live requests if max_models are loaded (RESOURCE_EXHAUSTED when all are
  // busy). Errors of LoadForGeneration and of the run's tokenizer.
  absl::StatusOr<std::shared_ptr<Engine>> Get(const std::string& path) ABSL_LOCKS_EXCLUDED(mu_);

  // Unloads engines without live requests unused since before now - idle_timeout.
  // Returns how many it unloaded.
  int EvictIdle(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // Unloads every engine (their live requests end "cancelled" once the last reference
  // to each is dropped).
  void EvictAll() ABSL_LOCKS_EXCLUDED(mu_);

  int loaded() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    std::shared_ptr<Engine> engine;
    int64_t file_time = 0;  // the file's modification time when loaded
    absl::Time last_used;
  };
  const PoolOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gwo::generate

#endif  // GWO_WORKER_GENERATE_MODEL_POOL_H_
