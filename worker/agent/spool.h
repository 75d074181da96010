// The worker's outgoing reports (attempt started, metrics, logs, finished) on
// disk until the coordinator acknowledges them, so that none is lost while the
// coordinator, its database or the connection is down, nor when the worker itself
// restarts. Each report gets the next sequence number (WorkerMessage.seq), kept
// across restarts; an Ack(seq) drops every report up to seq.
//
// On disk, under one directory: `reports.log`, records of <u32 little-endian
// length><serialized WorkerMessage>, appended and fdatasync'ed one by one (a torn
// last record, from a crash in the middle of an append, is cut off at Open); and
// `acked`, the highest acknowledged seq as text, replaced atomically. The log is
// emptied when everything in it is acknowledged, and rewritten without the
// acknowledged records when those pile up.
//
// Not thread-safe: the agent calls it under its lock.
#ifndef GWO_WORKER_AGENT_SPOOL_H_
#define GWO_WORKER_AGENT_SPOOL_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gwo/v1/workers.pb.h"

namespace gwo::worker {

class Spool {
 public:
  // Opens (creating) the spool in `dir` and loads the reports not yet
  // acknowledged. INTERNAL when the directory or its files cannot be used.
  static absl::StatusOr<std::unique_ptr<Spool>> Open(const std::string& dir);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Sets m->seq to the next sequence number and appends it durably. Even when the
  // write fails (INTERNAL, e.g. a full disk) the report stays pending in memory,
  // so only a crash of the worker could lose it.
  absl::Status Append(gwo::v1::WorkerMessage* m);
  // Drops the pending reports with seq <= `seq` (an Ack). INTERNAL when the
  // acknowledgement cannot be recorded on disk (they are dropped from memory anyway;
  // a restart would send them again, which the coordinator tolerates).
  absl::Status Ack(int64_t seq);

  // Reports not yet acknowledged, by increasing seq.
  const std::deque<gwo::v1::WorkerMessage>& pending() const { return pending_; }
  int64_t acked() const { return acked_; }

 private:
  Spool(std::string dir, int fd) : dir_(std::move(dir)), fd_(fd) {}
  // Replaces reports.log with the pending records only.
  absl::Status Rewrite();

  const std::string dir_;
  int fd_;                       // reports.log, opened for appending
  int64_t acked_ = 0;            // highest acknowledged seq
  int64_t next_seq_ = 1;
  int64_t acked_in_file_ = 0;    // acknowledged records still in reports.log
  std::deque<gwo::v1::WorkerMessage> pending_;
};

}  // namespace gwo::worker

#endif  // GWO_WORKER_AGENT_SPOOL_H_
