// gwoctl generate: streams a run's generated text to the terminal.
#ifndef GWO_CLIENT_GENERATE_H_
#define GWO_CLIENT_GENERATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/commands.h"

namespace gwo::client {

struct GenerateOptions {
  std::string checkpoint = "final";  // final | best | step:N
  int max_tokens = 64;
  double temperature = 1.0;          // 0: greedy
  int top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;     // C escapes (\n, \t) already decoded
  bool ignore_eos = false;
  bool show_stats = true;            // a summary line on stderr at the end
  absl::Duration timeout = absl::Minutes(10);  // deadline of the whole stream
};

// Prints the text of run `run` (run-N or N) continuing `prompt` to stdout as it
// arrives, then (with show_stats) "[N tokens, reason, X tok/s]" on stderr.
// Returns 0, 1 on an error (message on stderr), 2 for a bad run id.
int Generate(const Context& c, const std::string& run, const std::string& prompt,
             const GenerateOptions& options);

}  // namespace gwo::client

#endif  // GWO_CLIENT_GENERATE_H_
