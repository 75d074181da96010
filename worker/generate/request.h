// What a generation request asks for and what it hears back; free of LibTorch (the
// worker's proxy and the serve protocol use these too).
#ifndef GWO_WORKER_GENERATE_REQUEST_H_
#define GWO_WORKER_GENERATE_REQUEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace gwo::generate {

struct SamplingParams {
  double temperature = 1.0;  // <= 0: greedy (argmax); otherwise logits / temperature
  int top_k = 0;             // keep the k most likely tokens; 0: all
  double top_p = 1.0;        // keep the smallest set of most likely tokens whose mass >= top_p
  uint64_t seed = 0;         // seeds the row's random stream
};

struct GenerateRequest {
  std::string prompt;           // encoded with the run's tokenizer; may be empty when the
                                // tokenizer has an end-of-text token (it then starts)
  int max_tokens = 64;          // new tokens at most, >= 1
  SamplingParams sampling;      // temperature 0: greedy
  std::vector<std::string> stop;  // generation ends before the first of these (not sent)
  bool ignore_eos = false;      // keep going past the end-of-text token
};

// What a request hears, in order: chunks of text, then one event with done = true.
struct GenerateEvent {
  std::string text;             // new text (valid UTF-8), possibly empty
  std::vector<int32_t> tokens;  // tokens generated since the last event
  bool done = false;
  // With done: "length" (max_tokens or the context is full), "stop" (a stop string or
  // the end-of-text token), "cancelled", or "error" (with status).
  std::string finish_reason;
  absl::Status status;          // not OK only with finish_reason "error"
  int prompt_tokens = 0;        // with done
  int completion_tokens = 0;    // with done: tokens generated in all
};

}  // namespace gwo::generate

#endif  // GWO_WORKER_GENERATE_REQUEST_H_
