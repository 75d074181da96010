// gwo-train --serve: a long-lived generation server over stdin/stdout, speaking the
// line protocol of worker/generate/protocol.h. gwo-worker starts one such child on
// the first generation request and keeps it while it lives; models stay loaded
// between requests (worker/generate/model_pool.h).
#ifndef GWO_WORKER_TRAINER_SERVE_H_
#define GWO_WORKER_TRAINER_SERVE_H_

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace gwo::trainer {

struct ServeOptions {
  std::string device = "auto";  // "auto" (cuda when present), "cpu" or "cuda"
  int max_batch = 32;           // requests decoded together per model
  int max_models = 2;           // models loaded at once
  absl::Duration idle_timeout = absl::Minutes(10);  // a model unused this long is unloaded
  int threads = 0;              // CPU threads of LibTorch; 0: library default
};

// Reads commands from `in` until end of file and writes replies to `out` (one line
// each, flushed). Every request gets exactly one final reply, errors included (a
// missing checkpoint: code NOT_FOUND; a bad request: INVALID_ARGUMENT). At end of
// file, running requests are cancelled and it returns OK. INVALID_ARGUMENT for a bad
// device. LibTorch exceptions of loading are caught here and answered as INTERNAL
// replies; the engine catches its own (engine.h).
absl::Status Serve(const ServeOptions& options, std::FILE* in, std::FILE* out);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_SERVE_H_
