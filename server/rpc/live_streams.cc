#include "server/rpc/live_streams.h"

#include <chrono>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/alarm.h"
#include "server/rpc/convert.h"
#include "server/rpc/status.h"

namespace gwo::server {
namespace {

constexpr int kMetricPage = 2000;  // points per message
constexpr int kLogPage = 500;      // lines per message
constexpr auto kPollInterval = std::chrono::seconds(1);

// What a page read produced.
enum class Next {
  kSend,     // *resp holds data: write it, then read again
  kWait,     // caught up: sleep until woken
  kEnd,      // the stream is complete
};

// The paging loop shared by both streams. At any time at most one "turn" runs
// (the first read, a write completion, or an alarm); only a turn calls StartWrite
// or Finish. Wake() and OnCancel() only set flags or fire the alarm early, so
// they never block and never race a turn.
template <class Response>
class PagedStream : public grpc::ServerWriteReactor<Response> {
 public:
  PagedStream(Coordinator* core, int64_t run_id, std::unique_ptr<StreamPass> pass)
      : core_(core), run_id_(run_id), pass_(std::move(pass)) {}

  // Starts the first turn; called once the object is fully constructed.
  void Start() {
    token_ = core_->live_feed().Watch(run_id_, [this] { Wake(); });
    absl::MutexLock lock(&mu_);
    alarm_set_ = true;
    alarm_.Set(std::chrono::system_clock::now(), [this](bool) { OnAlarm(); });
  }

 protected:
  // Reads the next page after the cursor into *resp (advancing the cursor).
  virtual absl::StatusOr<Next> Read(Response* resp) = 0;
  Coordinator* core() const { return core_; }
  int64_t run_id() const { return run_id_; }
  // After a page without data: wait while the run is live; once it is terminal,
  // send one last (empty) message carrying the terminal state, then end.
  Next Ending(RunState state) {
    if (!IsTerminal(state)) return Next::kWait;
    if (sent_final_) return Next::kEnd;
    sent_final_ = true;
    return Next::kSend;
  }

 private:
  // One turn: read, then write, finish or go idle. After StartWrite or Finish
  // nothing here touches `this`: OnWriteDone or OnDone may already run.
  void Turn() {
    for (;;) {
      resp_.Clear();
      const absl::Status allowed = pass_->StillValid();
      absl::StatusOr<Next> next = allowed.ok() ? Read(&resp_) : absl::StatusOr<Next>(allowed);
      mu_.Lock();
      if (cancelled_) return FinishAndUnlock(grpc::Status::CANCELLED);
      if (!next.ok()) return FinishAndUnlock(ToGrpcStatus(next.status()));
      if (*next == Next::kEnd) return FinishAndUnlock(grpc::Status::OK);
      if (*next == Next::kSend) {
        mu_.Unlock();
        this->StartWrite(&resp_);  // the turn continues in OnWriteDone
        return;
      }
      if (woken_) {  // new data arrived during the read
        woken_ = false;
        mu_.Unlock();
        continue;
      }
      in_turn_ = false;
      alarm_set_ = true;
      alarm_.Set(std::chrono::system_clock::now() + kPollInterval, [this](bool) { OnAlarm(); });
      mu_.Unlock();
      return;
    }
  }

  void FinishAndUnlock(const grpc::Status& status) ABSL_UNLOCK_FUNCTION(mu_) {
    finished_ = true;
    mu_.Unlock();
    this->Finish(status);
  }

  void OnAlarm() {
    {
      absl::MutexLock lock(&mu_);
      alarm_set_ = false;
      in_turn_ = true;
      woken_ = false;
    }
    Turn();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      mu_.Lock();
      return FinishAndUnlock(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    }
    Turn();
  }

  // From the LiveFeed (under its lock): new data for the run.
  void Wake() {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (in_turn_) {
      woken_ = true;
    } else if (alarm_set_) {
      alarm_.Cancel();  // fires OnAlarm now
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (!in_turn_ && alarm_set_) alarm_.Cancel();
  }

  // Last reaction. Finish came from a turn, when no alarm was set; after Unwatch
  // no Wake runs.
  void OnDone() override {
    core_->live_feed().Unwatch(token_);
    delete this;
  }

  Coordinator* const core_;
  const int64_t run_id_;
  const std::unique_ptr<StreamPass> pass_;
  uint64_t token_ = 0;
  Response resp_;  // the message being written
  bool sent_final_ = false;  // touched by turns only
  grpc::Alarm alarm_;
  absl::Mutex mu_;
  bool in_turn_ ABSL_GUARDED_BY(mu_) = true;  // Start's alarm begins the first turn
  bool alarm_set_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class MetricStream final : public PagedStream<gwo::v1::StreamMetricsResponse> {
 public:
  MetricStream(Coordinator* core, const gwo::v1::StreamMetricsRequest& req, std::unique_ptr<StreamPass> pass)
      : PagedStream(core, req.run_id(), std::move(pass)), names_(req.names().begin(), req.names().end()),
        skip_history_(req.skip_history()) {}

 private:
  absl::StatusOr<Next> Read(gwo::v1::StreamMetricsResponse* resp) override {
    if (run_id() <= 0) return absl::InvalidArgumentError("run_id must be a positive id");
    Store* store = core()->store();
    if (!started_) {
      // Where history ends; with skip_history the stream starts there.
      absl::StatusOr<MetricPage> head =
          store->MetricsAfter(run_id(), std::numeric_limits<int64_t>::max(), names_, 1);
      if (!head.ok()) return head.status();
      history_end_ = head->head_seq;
      if (skip_history_) cursor_ = history_end_;
      started_ = true;
    }
    absl::StatusOr<MetricPage> page = store->MetricsAfter(run_id(), cursor_, names_, kMetricPage);
    if (!page.ok()) return page.status();
    resp->set_run_state(ToProto(page->state));
    const bool in_history = cursor_ < history_end_;
    resp->set_history(in_history);
    for (const SequencedPoint& p : page->points) {
      if (in_history && p.seq > history_end_) break;  // history and live never share a message
      gwo::v1::MetricPoint* out = resp->add_points();
      out->set_step(p.step);
      out->set_name(p.name);
      out->set_value(p.value);
      out->set_attempt(p.attempt);
      cursor_ = p.seq;
    }
    if (resp->points_size() > 0) return Next::kSend;
    if (in_history) {
      // The history's remaining points were all filtered out by name: go live.
      cursor_ = history_end_;
      resp->Clear();
      return Read(resp);
    }
    return Ending(page->state);
  }

  const std::vector<std::string> names_;
  const bool skip_history_;
  bool started_ = false;
  int64_t history_end_ = 0;
  int64_t cursor_ = 0;
};

class LogStream final : public PagedStream<gwo::v1::StreamLogsResponse> {
 public:
  LogStream(Coordinator* core, const gwo::v1::StreamLogsRequest& req, std::unique_ptr<StreamPass> pass)
      : PagedStream(core, req.run_id(), std::move(pass)), tail_(req.tail()), follow_(req.follow()) {}

 private:
  absl::StatusOr<Next> Read(gwo::v1::StreamLogsResponse* resp) override {
    if (run_id() <= 0) return absl::InvalidArgumentError("run_id must be a positive id");
    if (tail_ < 0) return absl::InvalidArgumentError(absl::StrCat("tail must be >= 0, got ", tail_));
    Store* store = core()->store();
    if (!started_) {
      if (tail_ > 0) {
        absl::StatusOr<int64_t> start = store->LogIdBeforeTail(run_id(), tail_);
        if (!start.ok()) return start.status();
        cursor_ = *start;
      }
      started_ = true;
    }
    absl::StatusOr<LogPage> page = store->LogsAfter(run_id(), cursor_, kLogPage);
    if (!page.ok()) return page.status();
    resp->set_run_state(ToProto(page->state));
    for (const LogLineRecord& l : page->lines) {
      gwo::v1::LogLine* out = resp->add_lines();
      out->set_id(l.id);
      out->set_attempt(l.attempt);
      out->set_text(l.text);
      cursor_ = l.id;
    }
    if (resp->lines_size() > 0) return Next::kSend;
    if (!follow_) return Next::kEnd;
    return Ending(page->state);
  }

  const int tail_;
  const bool follow_;
  bool started_ = false;
  int64_t cursor_ = 0;
};

}  // namespace

grpc::ServerWriteReactor<gwo::v1::StreamMetricsResponse>* NewMetricStream(Coordinator* core,
                                                                          const gwo::v1::StreamMetricsRequest& req,
                                                                          std::unique_ptr<StreamPass> pass) {
  auto* stream = new MetricStream(core, req, std::move(pass));
  stream->Start();
  return stream;
}

grpc::ServerWriteReactor<gwo::v1::StreamLogsResponse>* NewLogStream(Coordinator* core,
                                                                    const gwo::v1::StreamLogsRequest& req,
                                                                    std::unique_ptr<StreamPass> pass) {
  auto* stream = new LogStream(core, req, std::move(pass));
  stream->Start();
  return stream;
}

}  // namespace gwo::server
