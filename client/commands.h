// gwoctl's commands. Each talks only to the public gRPC API, with a deadline on
// every call, prints to stdout, and returns the process exit code.
#ifndef GWO_CLIENT_COMMANDS_H_
#define GWO_CLIENT_COMMANDS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gwo/v1/experiments.pb.h"

namespace gwo::client {

struct Context {
  std::string address;                     // coordinator host:port
  std::shared_ptr<grpc::Channel> channel;
  absl::Duration timeout = absl::Seconds(30);  // deadline of each call
};

// `scale`: one of the job.yaml's scales (empty: its default).
int Submit(const Context& c, const std::string& file, bool wait, std::string idempotency_key,
           const std::string& scale = "");
int List(const Context& c, int limit);
int Describe(const Context& c, const std::string& experiment);
int Runs(const Context& c, const std::string& experiment);
int Metrics(const Context& c, const std::string& run, const std::vector<std::string>& names);
int Cancel(const Context& c, const std::string& target);
// Polls until every run of the experiment finished, printing progress.
int Wait(const Context& c, int64_t experiment_id);

// Queued runs (of one experiment when `experiment` is not empty): position,
// reason for waiting and estimated start.
int Queue(const Context& c, const std::string& experiment);
// Prints a failed call's status clearly; returns 1.
int FailCall(const Context& c, const grpc::Status& s);
// A ClientContext carrying the deadline of `c` (every unary call uses one).
std::unique_ptr<grpc::ClientContext> CallContext(const Context& c);
// Prints one clear line for a failed call (or the server's multi-line spec
// errors) and returns 1.
int CallFailed(const Context& c, const grpc::Status& s);
// RUN_STATE_RUNNING -> "RUNNING".
std::string ShortStateName(gwo::v1::RunState s);
bool IsTerminalState(gwo::v1::RunState s);

// "exp-12" or "12" -> 12; "run-7" or "7" -> 7 (for the matching kind). 0 if invalid.
int64_t ParseId(const std::string& text, const std::string& prefix);

}  // namespace gwo::client

#endif  // GWO_CLIENT_COMMANDS_H_
