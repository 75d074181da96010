// The line protocol of `gwo-train --serve`, between gwo-worker (its generation proxy)
// and the serve child: one JSON object per line each way, free of LibTorch.
//
// To the child (stdin):
//   {"op":"generate","id":7,"checkpoint":"/runs/3/attempt-1/final.ckpt",
//    "prompt":"Once","max_tokens":64,"temperature":0.8,"top_k":40,"top_p":0.95,
//    "seed":1,"stop":["\n\n"],"ignore_eos":false}
//   {"op":"cancel","id":7}
// From the child (stdout), for each request id, in order:
//   {"id":7,"text":"upon","tokens":[2402]}                 a chunk (0 or more)
//   {"id":7,"done":true,"finish_reason":"length","text":"","tokens":[],
//    "prompt_tokens":1,"completion_tokens":64}              the end (exactly one)
//   {"id":7,"done":true,"finish_reason":"error","code":5,"message":"..."}
//                                                           an error ends it instead
//     (code: an absl::StatusCode number, e.g. 5 NOT_FOUND, 3 INVALID_ARGUMENT)
// and once at start {"ready":true,"device":"cuda"}.
#ifndef GWO_WORKER_GENERATE_PROTOCOL_H_
#define GWO_WORKER_GENERATE_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "worker/generate/request.h"

namespace gwo::generate {

struct ServeCommand {
  enum class Op { kGenerate, kCancel };
  Op op = Op::kGenerate;
  uint64_t id = 0;
  std::string checkpoint;   // kGenerate: the checkpoint path on this host
  GenerateRequest request;  // kGenerate
};

struct ServeReply {
  uint64_t id = 0;
  bool ready = false;       // the start line (id 0)
  std::string device;       // with ready
  GenerateEvent event;
};

// Each returns one line without the trailing newline.
std::string EncodeCommand(const ServeCommand& command);
std::string EncodeReply(const ServeReply& reply);

// INVALID_ARGUMENT naming the field for a line that is not such an object.
absl::StatusOr<ServeCommand> DecodeCommand(std::string_view line);
absl::StatusOr<ServeReply> DecodeReply(std::string_view line);

}  // namespace gwo::generate

#endif  // GWO_WORKER_GENERATE_PROTOCOL_H_
