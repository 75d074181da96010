#include "client/generate.h"

#include <chrono>
#include <iostream>

#include "absl/strings/str_format.h"
#include "gwo/v1/generation.grpc.pb.h"

namespace gwo::client {

int Generate(const Context& c, const std::string& run, const std::string& prompt,
             const GenerateOptions& o) {
  const int64_t id = ParseId(run, "run");
  if (id == 0) {
    std::cerr << "gwoctl: expected a run id like run-7, got \"" << run << "\"\n";
    return 2;
  }
  gwo::v1::GenerateRequest req;
  req.set_run_id(id);
  req.set_checkpoint(o.checkpoint);
  req.set_prompt(prompt);
  req.set_max_tokens(o.max_tokens);
  req.set_temperature(o.temperature);
  req.set_top_k(o.top_k);
  req.set_top_p(o.top_p);
  req.set_seed(o.seed);
  for (const std::string& s : o.stop) req.add_stop(s);
  req.set_ignore_eos(o.ignore_eos);

  auto stub = gwo::v1::GenerationService::NewStub(c.channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + o.timeout));
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<grpc::ClientReader<gwo::v1::GenerateResponse>> reader = stub->Generate(&ctx, req);
  gwo::v1::GenerateResponse resp;
  gwo::v1::GenerateResponse last;
  while (reader->Read(&resp)) {
    std::cout << resp.text() << std::flush;
    if (resp.done()) last = resp;
  }
  const grpc::Status s = reader->Finish();
  if (!s.ok()) {
    std::cout << std::flush;
    std::cerr << "\ngwoctl: generate: " << s.error_message() << " (code " << s.error_code()
              << ")\n";
    return 1;
  }
  std::cout << "\n";
  if (o.show_stats) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cerr << absl::StrFormat("[%d tokens, %s, %.1f tok/s]\n", last.completion_tokens(),
                                 last.finish_reason(), last.completion_tokens() / seconds);
  }
  return 0;
}

}  // namespace gwo::client
