#include "server/rpc/generation_router.h"

#include <utility>
#include <vector>

#include "common/run_layout.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace gwo::server {

absl::StatusOr<GenerationTarget> ResolveGenerationTarget(const RunRecord& run,
                                                         const std::string& checkpoint) {
  std::string file;
  const std::string name = checkpoint.empty() ? "final" : checkpoint;
  int64_t step = 0;
  if (name == "final") {
    if (run.state != RunState::kSucceeded) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run ", run.id, " is ", RunStateName(run.state),
          ": its final checkpoint exists once it has succeeded (try checkpoint best or step:N)"));
    }
    file = run_layout::kFinal;
  } else if (name == "best") {
    file = run_layout::kBest;
  } else if (absl::StartsWith(name, "step:") && absl::SimpleAtoi(name.substr(5), &step) && step > 0) {
    file = absl::StrCat(run_layout::kCheckpoints, "/", run_layout::StepCheckpointName(step));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint must be final, best or step:N (N > 0), got '", checkpoint, "'"));
  }
  if (run.output_dir.empty() || run.worker.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("run ", run.id, " has no checkpoint: it never started"));
  }
  return GenerationTarget{.worker = run.worker, .checkpoint_path = run.output_dir + "/" + file};
}

GenerationTargets::GenerationTargets(Store* store, absl::Duration ttl, size_t max_entries)
    : store_(store), ttl_(ttl), max_entries_(max_entries) {}

absl::StatusOr<GenerationTarget> GenerationTargets::Resolve(int64_t run_id, const std::string& checkpoint,
                                                            absl::Time now) {
  const auto key = std::make_pair(run_id, checkpoint);
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && now < it->second.expires) return it->second.target;
  }
  absl::StatusOr<RunRecord> run = store_->GetRun(run_id);
  if (!run.ok()) return run.status();
  absl::StatusOr<GenerationTarget> target = ResolveGenerationTarget(*run, checkpoint);
  if (!target.ok() || run->state != RunState::kSucceeded) return target;
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= max_entries_) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
    }
    if (entries_.size() >= max_entries_) entries_.clear();
  }
  entries_[key] = Entry{*target, now + ttl_};
  return target;
}

void GenerationRouter::AddWorker(const std::string& name, GenerationChannel* channel) {
  absl::MutexLock lock(&mu_);
  workers_[name] = channel;
}

void GenerationRouter::RemoveWorker(GenerationChannel* channel) {
  std::vector<Sink> orphans;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      it = it->second == channel ? workers_.erase(it) : std::next(it);
    }
    for (auto it = live_.begin(); it != live_.end();) {
      if (it->second.channel == channel) {
        orphans.push_back(std::move(it->second.sink));
        it = live_.erase(it);
      } else {
        ++it;
      }
    }
  }
  gwo::v1::GenerationChunk gone;
  gone.mutable_response()->set_done(true);
  gone.set_error_code(static_cast<int>(absl::StatusCode::kUnavailable));
  gone.set_error_message("the worker serving this request disconnected");
  for (Sink& sink : orphans) sink(gone);
}

absl::StatusOr<uint64_t> GenerationRouter::Start(const GenerationTarget& target,
                                                 const gwo::v1::GenerateRequest& request, Sink sink) {
  absl::MutexLock lock(&mu_);
  GenerationChannel* channel = nullptr;
  if (auto it = workers_.find(target.worker); it != workers_.end()) {
    channel = it->second;
  } else if (shared_filesystem_ && !workers_.empty()) {
    channel = workers_.begin()->second;
  }
  if (channel == nullptr) {
    return absl::UnavailableError(absl::StrCat("worker '", target.worker,
                                               "', which holds the checkpoint, is not connected"));
  }
  const uint64_t id = next_id_++;
  live_[id] = Live{channel, std::move(sink)};
  gwo::v1::StartGeneration m;
  m.set_request_id(id);
  m.set_checkpoint_path(target.checkpoint_path);
  *m.mutable_request() = request;
  channel->StartGeneration(m);
  return id;
}

void GenerationRouter::Cancel(uint64_t request_id) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(request_id);
  if (it == live_.end()) return;
  it->second.channel->CancelGeneration(request_id);
  live_.erase(it);
}

void GenerationRouter::OnChunk(GenerationChannel* from, const gwo::v1::GenerationChunk& chunk) {
  Sink sink;
  {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(chunk.request_id());
    if (it == live_.end() || it->second.channel != from) return;
    if (chunk.response().done()) {
      sink = std::move(it->second.sink);
      live_.erase(it);
    } else {
      sink = it->second.sink;
    }
  }
  sink(chunk);
}

int GenerationRouter::live() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(live_.size());
}

}  // namespace gwo::server
