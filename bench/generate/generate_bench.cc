// gwo-generate-bench: tokens/s received by clients of GenerationService.Generate at
// several concurrency levels. For each level C it starts C streams at once (greedy,
// ignore_eos, max_tokens each) and divides the tokens received by the wall time from
// the first start to the last end; the median of --repeats rounds is reported. One warm-up
// request first (it loads the model on the worker). Prints a line per level and
// writes JSON with --json.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/client_config.h"
#include "common/tls.h"
#include "grpcpp/grpcpp.h"
#include "gwo/v1/generation.grpc.pb.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070", "coordinator address");
ABSL_FLAG(int64_t, run, 0, "run id");
ABSL_FLAG(std::string, concurrency, "1,32", "comma-separated concurrency levels");
ABSL_FLAG(int, max_tokens, 256, "tokens per request");
ABSL_FLAG(std::string, prompt, "The quick brown fox jumps over the lazy dog", "prompt");
ABSL_FLAG(int, repeats, 5, "rounds per level; the median is reported (and the best)");
ABSL_FLAG(std::string, json, "", "write results here");
ABSL_FLAG(std::string, tokens_out, "", "write the warm-up request's tokens here, one line");

namespace {

struct Stream {
  int tokens = 0;
  double first_token_s = 0;
  double end_s = 0;
  std::string error;
  std::vector<int32_t> ids;
};

Stream RunOne(gwo::v1::GenerationService::Stub& stub, const gwo::v1::GenerateRequest& req,
              std::chrono::steady_clock::time_point t0) {
  Stream s;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  auto reader = stub.Generate(&ctx, req);
  gwo::v1::GenerateResponse resp;
  while (reader->Read(&resp)) {
    if (s.tokens == 0 && resp.tokens_size() > 0) {
      s.first_token_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    s.tokens += resp.tokens_size();
    s.ids.insert(s.ids.end(), resp.tokens().begin(), resp.tokens().end());
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) s.error = st.error_message();
  s.end_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // The token of the coordinator's first start (GWO_CONFIG), or $GWO_TOKEN.
  const gwo::ClientConfig config = gwo::LoadClientConfig(gwo::ClientConfigPath()).value_or(gwo::ClientConfig{});
  auto channel = gwo::MakeCoordinatorChannel(absl::GetFlag(FLAGS_coordinator), grpc::InsecureChannelCredentials(),
                                             gwo::UserTokenFor(config, absl::GetFlag(FLAGS_coordinator)));
  auto stub = gwo::v1::GenerationService::NewStub(channel);
  gwo::v1::GenerateRequest req;
  req.set_run_id(absl::GetFlag(FLAGS_run));
  req.set_prompt(absl::GetFlag(FLAGS_prompt));
  req.set_max_tokens(absl::GetFlag(FLAGS_max_tokens));
  req.set_temperature(0);
  req.set_ignore_eos(true);

  Stream warm = RunOne(*stub, req, std::chrono::steady_clock::now());
  if (!warm.error.empty()) {
    std::fprintf(stderr, "gwo-generate-bench: warm-up failed: %s\n", warm.error.c_str());
    return 1;
  }
  std::printf("warm-up: %d tokens in %.2f s (includes loading the model)\n", warm.tokens, warm.end_s);
  if (!absl::GetFlag(FLAGS_tokens_out).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_tokens_out)) << absl::StrJoin(warm.ids, " ") << "\n";
  }
  std::vector<std::string> rows;
  for (absl::string_view level : absl::StrSplit(absl::GetFlag(FLAGS_concurrency), ',')) {
    int c = 0;
    if (!absl::SimpleAtoi(level, &c) || c < 1) {
      std::fprintf(stderr, "bad concurrency '%s'\n", std::string(level).c_str());
      return 2;
    }
    std::vector<double> tps_rounds, ttft_rounds;
    int round_tokens = 0;
    for (int r = 0; r < absl::GetFlag(FLAGS_repeats); ++r) {
      std::vector<Stream> results(c);
      std::vector<std::thread> threads;
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < c; ++i) {
        threads.emplace_back([&, i] { results[i] = RunOne(*stub, req, t0); });
      }
      for (auto& t : threads) t.join();
      int tokens = 0;
      double end = 0, ttft = 0;
      for (const Stream& s : results) {
        if (!s.error.empty()) {
          std::fprintf(stderr, "gwo-generate-bench: a stream failed: %s\n", s.error.c_str());
          return 1;
        }
        tokens += s.tokens;
        end = std::max(end, s.end_s);
        ttft += s.first_token_s / c;
      }
      const double tps = tokens / end;
      std::printf("concurrency %d round %d: %d tokens in %.3f s = %.1f tok/s (mean first token %.1f ms)\n",
                  c, r + 1, tokens, end, tps, ttft * 1e3);
      tps_rounds.push_back(tps);
      ttft_rounds.push_back(ttft);
      round_tokens = tokens;
    }
    const double median = Median(tps_rounds), best = *std::max_element(tps_rounds.begin(), tps_rounds.end());
    std::printf("concurrency %d: median %.1f tok/s (best %.1f) over %zu rounds, median first token %.1f ms\n", c,
                median, best, tps_rounds.size(), Median(ttft_rounds) * 1e3);
    rows.push_back(absl::StrCat("{\"concurrency\":", c, ",\"tokens\":", round_tokens,
                                ",\"tokens_per_s\":", median, ",\"best_tokens_per_s\":", best,
                                ",\"rounds\":", tps_rounds.size(),
                                ",\"mean_first_token_ms\":", Median(ttft_rounds) * 1e3, "}"));
  }
  if (!absl::GetFlag(FLAGS_json).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_json)) << "[" << absl::StrJoin(rows, ",") << "]\n";
  }
  return 0;
}
