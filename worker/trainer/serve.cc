#include "worker/trainer/serve.h"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "worker/generate/model_pool.h"
#include "worker/generate/protocol.h"

namespace gwo::trainer {
namespace {

using generate::Engine;
using generate::GenerateEvent;
using generate::ServeCommand;
using generate::ServeReply;

class Server {
 public:
  Server(generate::PoolOptions pool, std::FILE* out) : pool_(pool), out_(out) {
    writer_ = std::thread([this] { WriteLoop(); });
  }

  // Queues one reply line; the writer thread sends queued lines together, so the
  // replies of one decode step (one per request) cost one write.
  void Write(const ServeReply& reply) {
    std::string line = generate::EncodeReply(reply) + "\n";
    absl::MutexLock lock(&write_mu_);
    pending_ += line;
  }

  ~Server() {
    if (writer_.joinable()) StopWriter();
  }

  // Sends what is queued and stops the writer.
  void StopWriter() {
    {
      absl::MutexLock lock(&write_mu_);
      writer_stop_ = true;
    }
    writer_.join();
  }

  void Fail(uint64_t id, const absl::Status& status) {
    ServeReply r{.id = id};
    r.event = GenerateEvent{.done = true, .finish_reason = "error", .status = status};
    Write(r);
  }

  void Handle(ServeCommand command) {
    if (command.op == ServeCommand::Op::kCancel) {
      absl::MutexLock lock(&mu_);
      auto it = running_.find(command.id);
      if (it != running_.end() && it->second) {
        it->second->Cancel(command.id);
      } else if (it != running_.end()) {
        cancelled_early_.insert(command.id);  // still loading its model
      }
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (running_.count(command.id)) {
        Fail(command.id, absl::AlreadyExistsError(absl::StrCat("request ", command.id, " is running")));
        return;
      }
      running_[command.id] = nullptr;
    }
    // Loading may take seconds: each request starts on its own thread.
    loaders_.emplace_back([this, c = std::move(command)]() mutable { Start(std::move(c)); });
  }

  // Waits for the loaders, then unloads everything (cancelling what still runs).
  void Shutdown() {
    for (std::thread& t : loaders_) t.join();
    loaders_.clear();
    pool_.EvictAll();
    // Engines are destroyed outside the lock: their threads end requests through
    // sinks that take it.
    std::map<uint64_t, std::shared_ptr<Engine>> running;
    std::vector<std::shared_ptr<Engine>> released;
    {
      absl::MutexLock lock(&mu_);
      running.swap(running_);
      released.swap(released_);
    }
  }

  // Periodic: unloads idle models and drops engine references released by requests.
  void Tidy() {
    std::vector<std::shared_ptr<Engine>> released;
    {
      absl::MutexLock lock(&mu_);
      released.swap(released_);
    }
    released.clear();
    pool_.EvictIdle(absl::Now());
  }

 private:
  void Start(ServeCommand c) {
    const uint64_t id = c.id;
    absl::StatusOr<std::shared_ptr<Engine>> engine;
    try {
      engine = pool_.Get(c.checkpoint);
    } catch (const std::exception& e) {
      engine = absl::InternalError(absl::StrCat("loading ", c.checkpoint, ": ", e.what()));
    }
    if (!engine.ok()) return Finish(id, engine.status());
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_early_.erase(id)) {
        running_.erase(id);
        ServeReply r{.id = id};
        r.event = GenerateEvent{.done = true, .finish_reason = "cancelled"};
        Write(r);
        return;
      }
      running_[id] = *engine;
    }
    absl::Status s = (*engine)->Submit(id, std::move(c.request), [this, id](const GenerateEvent& e) {
      Write(ServeReply{.id = id, .event = e});
      if (e.done) {
        // The engine is released elsewhere: dropping the last reference here, on the
        // engine's own thread, would join that thread from itself.
        absl::MutexLock lock(&mu_);
        auto it = running_.find(id);
        if (it != running_.end()) {
          released_.push_back(std::move(it->second));
          running_.erase(it);
        }
      }
    });
    if (!s.ok()) Finish(id, s);
  }

  void Finish(uint64_t id, const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      running_.erase(id);
      cancelled_early_.erase(id);
    }
    Fail(id, status);
  }

  void WriteLoop() {
    for (;;) {
      std::string chunk;
      bool stop;
      {
        absl::MutexLock lock(&write_mu_);
        write_mu_.Await(absl::Condition(
            +[](Server* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->pending_.empty() || s->writer_stop_; },
            this));
        chunk.swap(pending_);
        stop = writer_stop_;
      }
      std::fwrite(chunk.data(), 1, chunk.size(), out_);
      std::fflush(out_);
      if (stop) return;
    }
  }

  generate::ModelPool pool_;
  std::FILE* const out_;
  absl::Mutex write_mu_;
  std::string pending_ ABSL_GUARDED_BY(write_mu_);
  bool writer_stop_ ABSL_GUARDED_BY(write_mu_) = false;
  std::thread writer_;
  absl::Mutex mu_;
  // Live requests and their engine (null while loading).
  std::map<uint64_t, std::shared_ptr<Engine>> running_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> cancelled_early_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Engine>> released_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> loaders_;  // only the reading thread touches it
};

}  // namespace

absl::Status Serve(const ServeOptions& options, std::FILE* in, std::FILE* out) {
  torch::Device device = torch::kCPU;
  if (options.device == "cuda" || (options.device == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) return absl::InvalidArgumentError("--device cuda: no CUDA device");
    device = torch::Device(torch::kCUDA, 0);
  } else if (options.device != "auto" && options.device != "cpu") {
    return absl::InvalidArgumentError(
        absl::StrCat("device must be auto, cpu or cuda, got '", options.device, "'"));
  }
  if (options.threads > 0) torch::set_num_threads(options.threads);
  generate::PoolOptions pool{
      .engine = {.device = device,
                 .dtype = device.is_cuda() ? torch::kBFloat16 : torch::kFloat32,
                 .max_batch = options.max_batch},
      .max_models = options.max_models,
      .idle_timeout = options.idle_timeout};
  Server server(pool, out);
  server.Write(ServeReply{.ready = true, .device = device.is_cuda() ? "cuda" : "cpu"});

  absl::Notification eof;
  std::thread evictor([&] {
    while (!eof.WaitForNotificationWithTimeout(absl::Seconds(1))) server.Tidy();
  });
  char* line = nullptr;
  size_t capacity = 0;
  ssize_t n;
  while ((n = getline(&line, &capacity, in)) > 0) {
    std::string_view text(line, static_cast<size_t>(n));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    if (text.empty()) continue;
    absl::StatusOr<ServeCommand> command = generate::DecodeCommand(text);
    if (!command.ok()) {
      server.Fail(0, command.status());  // id 0: the line could not be attributed
      continue;
    }
    server.Handle(*std::move(command));
  }
  std::free(line);
  eof.Notify();
  evictor.join();
  server.Shutdown();
  server.StopWriter();
  return absl::OkStatus();
}

}  // namespace gwo::trainer
