#include "worker/generate/model_pool.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "spec/parse.h"
#include "worker/data/tokenizer.h"
#include "worker/models/safetensors.h"

namespace gwo::generate {
namespace fs = std::filesystem;

absl::StatusOr<trainer::LoadedCheckpoint> LoadForGeneration(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat("no checkpoint at ", path));
  const bool is_dir = fs::is_directory(path, ec);
  if (!is_dir && !path.ends_with(".safetensors")) return trainer::LoadCheckpoint(path);
  const std::string file = is_dir ? (fs::path(path) / "model.safetensors").string() : path;
  absl::StatusOr<std::unique_ptr<models::SafetensorsFile>> st = models::SafetensorsFile::Open(file);
  if (!st.ok()) return st.status();
  const auto it = (*st)->metadata().find("gwo_run_spec");
  if (it == (*st)->metadata().end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        file, " has no gwo_run_spec metadata: generation needs a checkpoint written by gwo"));
  }
  absl::StatusOr<spec::RunSpec> spec =
      spec::ParseRunSpec(it->second, absl::StrCat(file, " (embedded run spec)"));
  if (!spec.ok()) return spec.status();
  absl::StatusOr<int> vocab = trainer::VocabularySize(*spec);
  if (!vocab.ok()) return vocab.status();
  absl::StatusOr<std::shared_ptr<models::CausalLm>> model =
      models::MakeModel(spec->model, spec->attention, *vocab);
  if (!model.ok()) return model.status();
  if (absl::Status s = models::LoadWeights(**model, path); !s.ok()) return s;
  (*model)->eval();
  return trainer::LoadedCheckpoint{*std::move(spec), *std::move(model)};
}

namespace {

int64_t FileTime(const std::string& path) {
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) p /= "model.safetensors";
  const auto t = fs::last_write_time(p, ec);
  return ec ? 0 : static_cast<int64_t>(t.time_since_epoch().count());
}

}  // namespace

absl::StatusOr<std::shared_ptr<Engine>> ModelPool::Get(const std::string& path) {
  const int64_t file_time = FileTime(path);
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(path);
    if (it != entries_.end()) {
      if (it->second.file_time == file_time) {
        it->second.last_used = absl::Now();
        return it->second.engine;
      }
      if (it->second.engine->live() == 0) entries_.erase(it);  // stale and free
    }
  }
  // Loading takes seconds: done without the lock (two first requests may both load;
  // the second result replaces the first, which lives on while its requests run).
  absl::StatusOr<trainer::LoadedCheckpoint> loaded = LoadForGeneration(path);
  if (!loaded.ok()) return loaded.status();
  absl::StatusOr<std::unique_ptr<data::Tokenizer>> tokenizer =
      data::LoadTokenizer(loaded->spec.data.tokenizer, spec::CorporaDir());
  if (!tokenizer.ok()) return tokenizer.status();

  absl::MutexLock lock(&mu_);
  while (static_cast<int>(entries_.size()) >= options_.max_models) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.engine->live() > 0) continue;
      if (victim == entries_.end() || it->second.last_used < victim->second.last_used) victim = it;
    }
    if (victim == entries_.end()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "all ", options_.max_models, " loaded models are serving requests; try again later"));
    }
    entries_.erase(victim);
  }
  auto engine = std::make_shared<Engine>(loaded->model, *std::move(tokenizer), loaded->spec,
                                         options_.engine);
  LogInfo(absl::StrCat("loaded ", path, "; decode steps: ",
                       engine->uses_fused_decode()   ? "fused CUDA kernels up to 32 greedy rows, else "
                       : "",
                       engine->uses_cuda_graphs() ? "CUDA graphs"
                       : engine->uses_kv_cache()  ? "eager, KV cache"
                                                  : "recomputed"));
  entries_[path] = Entry{engine, file_time, absl::Now()};
  return engine;
}

int ModelPool::EvictIdle(absl::Time now) {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.engine->live() == 0 && now - it->second.last_used > options_.idle_timeout) {
      it = entries_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

void ModelPool::EvictAll() {
  std::map<std::string, Entry> entries;
  {
    absl::MutexLock lock(&mu_);
    entries.swap(entries_);
  }
}

int ModelPool::loaded() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(entries_.size());
}

}  // namespace gwo::generate
