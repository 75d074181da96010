#include "worker/agent/agent.h"

#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/tls.h"

namespace gwo::worker {

Agent::Agent(AgentOptions options, std::unique_ptr<Spool> spool)
    : options_(std::move(options)), spool_(std::move(spool)) {
  // Generation output is live traffic, not a report: it bypasses the spool.
  generation_ = std::make_unique<GenerationProxy>(
      std::vector<std::string>{options_.trainer_path, "--serve"},
      [this](gwo::v1::WorkerMessage m) { SendLive(std::move(m)); });
}

Agent::~Agent() { Shutdown(); }

void Agent::Shutdown() {
  std::map<std::pair<int64_t, int>, std::unique_ptr<AttemptRunner>> runners;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_.exchange(true)) return;
    if (active_ctx_ != nullptr) active_ctx_->TryCancel();
    runners.swap(runners_);
    cv_.SignalAll();
  }
  // Destroying a runner stops its child (SIGTERM, then SIGKILL) and joins it.
  runners.clear();
}

void Agent::Send(gwo::v1::WorkerMessage m) {
  if (options_.observer != nullptr) options_.observer->OnReport(m);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = spool_->Append(&m); !s.ok()) {
    LogError(absl::StrCat("spooling report ", m.seq(), " (kept in memory): ", s.ToString()));
  }
  cv_.Signal();
}

void Agent::SendLive(gwo::v1::WorkerMessage m) {
  absl::MutexLock lock(&mu_);
  if (!connected_) return;
  live_.push_back(std::move(m));
  cv_.Signal();
}

void Agent::Run() {
  std::mt19937 rng(std::random_device{}());
  absl::Duration backoff = absl::Milliseconds(200);
  while (!shutdown_) {
    absl::Time started = absl::Now();
    Serve();
    if (shutdown_) break;
    if (absl::Now() - started > absl::Seconds(10)) backoff = absl::Milliseconds(200);
    // Full jitter: many workers reconnecting to a restarted coordinator spread out.
    std::uniform_int_distribution<int64_t> jitter(0, absl::ToInt64Milliseconds(backoff));
    absl::Duration wait = absl::Milliseconds(jitter(rng)) + absl::Milliseconds(100);
    LogInfo(absl::StrCat("reconnecting to ", options_.coordinator, " in ", absl::FormatDuration(wait)));
    absl::MutexLock lock(&mu_);
    cv_.WaitWithTimeout(&mu_, wait);
    backoff = std::min(backoff * 2, options_.max_reconnect_backoff);
  }
}

void Agent::Serve() {
  auto channel = MakeCoordinatorChannel(
      options_.coordinator, options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials(),
      options_.token);
  auto stub = gwo::v1::WorkerService::NewStub(channel);
  // The stream lives as long as the worker, so it has no deadline; liveness is
  // checked by heartbeats (ours) and the coordinator's lease.
  grpc::ClientContext ctx;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    active_ctx_ = &ctx;
  }
  std::unique_ptr<Stream> stream = stub->Connect(&ctx);

  gwo::v1::WorkerMessage hello;
  gwo::v1::RegisterWorker* reg = hello.mutable_register_();
  reg->set_name(options_.name);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  reg->set_hostname(host);
  reg->set_slots(options_.slots);
  for (const auto& d : options_.devices) *reg->add_devices() = d;
  {
    // Attempts still running, and those whose end is still to be reported: the
    // coordinator keeps them for the spooled AttemptFinished to close.
    absl::MutexLock lock(&mu_);
    std::set<std::pair<int64_t, int>> claimed;
    for (const auto& [key, runner] : runners_) {
      if (!runner->done()) claimed.insert(key);
    }
    for (const gwo::v1::WorkerMessage& m : spool_->pending()) {
      if (m.has_finished()) claimed.insert({m.finished().attempt().run_id(), m.finished().attempt().attempt()});
    }
    for (const auto& [run_id, attempt] : claimed) {
      gwo::v1::AttemptRef* a = reg->add_running();
      a->set_run_id(run_id);
      a->set_attempt(attempt);
    }
  }
  gwo::v1::CoordinatorMessage first;
  if (!stream->Write(hello) || !stream->Read(&first) || !first.has_registered()) {
    // A closed stream carries the coordinator's reason (a refused credential says
    // what it needs); only one still open after a wrong answer is cancelled.
    if (first.msg_case() != gwo::v1::CoordinatorMessage::MSG_NOT_SET) ctx.TryCancel();
    grpc::Status s = stream->Finish();
    LogWarning(absl::StrCat("cannot register with coordinator ", options_.coordinator, ": ",
                            s.ok() ? "stream closed" : s.error_message()));
    absl::MutexLock lock(&mu_);
    active_ctx_ = nullptr;
    return;
  }
  LogInfo(absl::StrCat("registered with ", options_.coordinator, " as worker ", first.registered().worker_id(),
                       " (", options_.name, ", ", options_.slots, " slot(s))"));
  {
    absl::MutexLock lock(&mu_);
    connected_ = true;
    sent_seq_ = 0;  // everything not acknowledged goes out again on this stream
    ack_progress_ = absl::Now();
    if (options_.observer != nullptr) options_.observer->OnConnectionChanged(true);
    if (first.registered().heartbeat_interval_ms() > 0) {
      heartbeat_interval_ = absl::Milliseconds(first.registered().heartbeat_interval_ms());
    }
  }
  std::thread writer([&] { WriterLoop(stream.get(), &ctx); });

  gwo::v1::CoordinatorMessage m;
  while (stream->Read(&m)) Handle(m);

  {
    absl::MutexLock lock(&mu_);
    connected_ = false;
    live_.clear();
    if (options_.observer != nullptr) options_.observer->OnConnectionChanged(false);
    cv_.SignalAll();
  }
  generation_->CancelAll();  // their clients were connected through the lost stream
  ctx.TryCancel();
  writer.join();
  grpc::Status s = stream->Finish();
  {
    absl::MutexLock lock(&mu_);
    active_ctx_ = nullptr;
  }
  if (!shutdown_) LogWarning(absl::StrCat("connection to coordinator lost: ", s.error_message()));
}

// Sends spooled reports not yet sent on this stream, and a heartbeat whenever
// nothing was written for an interval. When sent reports stay unacknowledged for
// resend_after, sends them again from the oldest (the coordinator processes
// reports in order and skips those after one it could not store).
void Agent::WriterLoop(Stream* stream, grpc::ClientContext* ctx) {
  absl::Time last_write = absl::Now();
  for (;;) {
    gwo::v1::WorkerMessage m;
    {
      absl::MutexLock lock(&mu_);
      auto next_report = [&]() -> const gwo::v1::WorkerMessage* {
        const auto& pending = spool_->pending();
        if (pending.empty()) return nullptr;
        const bool outstanding = pending.front().seq() <= sent_seq_;
        if (outstanding && absl::Now() - ack_progress_ >= options_.resend_after) {
          LogWarning(absl::StrCat("no acknowledgement for report ", pending.front().seq(), " in ",
                                  absl::FormatDuration(options_.resend_after), "; sending again from it"));
          sent_seq_ = pending.front().seq() - 1;
          ack_progress_ = absl::Now();
        }
        if (pending.back().seq() <= sent_seq_) return nullptr;
        if (pending.front().seq() > sent_seq_) ack_progress_ = absl::Now();  // nothing outstanding before
        for (const gwo::v1::WorkerMessage& p : pending) {
          if (p.seq() > sent_seq_) return &p;
        }
        return nullptr;
      };
      const gwo::v1::WorkerMessage* report = nullptr;
      for (;;) {
        if (!connected_ || shutdown_ || !live_.empty()) break;
        report = next_report();
        if (report != nullptr) break;
        absl::Time wake = last_write + heartbeat_interval_;
        if (absl::Now() >= wake) break;
        if (!spool_->pending().empty()) wake = std::min(wake, ack_progress_ + options_.resend_after);
        cv_.WaitWithDeadline(&mu_, wake);
      }
      if (!connected_ || shutdown_) break;
      if (!live_.empty()) {
        m = std::move(live_.front());
        live_.pop_front();
      } else if (report != nullptr) {
        m = *report;
        sent_seq_ = m.seq();
      } else {
        m.mutable_heartbeat();
      }
    }
    if (!stream->Write(m)) {
      ctx->TryCancel();
      break;
    }
    last_write = absl::Now();
    ReapFinished();
  }
}

void Agent::ReapFinished() {
  std::vector<std::unique_ptr<AttemptRunner>> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = runners_.begin(); it != runners_.end();) {
      if (it->second->done()) {
        finished.push_back(std::move(it->second));
        it = runners_.erase(it);
      } else {
        ++it;
      }
    }
  }
  finished.clear();  // joins threads that have already ended
}

void Agent::Handle(const gwo::v1::CoordinatorMessage& m) {
  if (m.has_ack()) {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = spool_->Ack(m.ack().seq()); !s.ok()) LogError(absl::StrCat("spool: ", s.ToString()));
    ack_progress_ = absl::Now();
    cv_.Signal();
  } else if (m.has_assign()) {
    const auto& a = m.assign();
    auto key = std::make_pair(a.attempt().run_id(), a.attempt().attempt());
    AttemptRunnerOptions o;
    o.trainer_path = options_.trainer_path;
    o.attempt_dir = absl::StrCat(options_.work_dir, "/runs/", key.first, "/attempt-", key.second);
    o.stop_grace = options_.stop_grace;
    auto runner = std::make_unique<AttemptRunner>(a, o, [this](gwo::v1::WorkerMessage r) { Send(std::move(r)); });
    LogInfo(absl::StrCat("starting run ", key.first, " (", a.run_name(), ") attempt ", key.second));
    absl::MutexLock lock(&mu_);
    if (runners_.count(key)) return;  // a duplicate assignment: already running
    runner->Start();
    runners_[key] = std::move(runner);
  } else if (m.has_generate()) {
    generation_->Start(m.generate());
  } else if (m.has_cancel_generation()) {
    generation_->Cancel(m.cancel_generation().request_id());
  } else if (m.has_stop()) {
    auto key = std::make_pair(m.stop().attempt().run_id(), m.stop().attempt().attempt());
    absl::MutexLock lock(&mu_);
    auto it = runners_.find(key);
    if (it != runners_.end()) {
      LogInfo(absl::StrCat("stopping run ", key.first, " attempt ", key.second, ": ", m.stop().reason()));
      it->second->RequestStop(m.stop().reason());
    }
  }
}

}  // namespace gwo::worker
