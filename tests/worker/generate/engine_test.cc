#include "worker/generate/engine.h"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "worker/data/tokenizer.h"

namespace gwo::generate {
namespace {

struct Result {
  std::string text;
  std::vector<int32_t> tokens;
  std::string finish_reason;
  absl::Status status;
  int completion_tokens = 0;
  int events = 0;
};

// Collects one request's events; Wait() returns once the done event arrived.
class Collector {
 public:
  EventSink Sink() {
    return [this](const GenerateEvent& e) {
      absl::MutexLock lock(&mu_);
      result_.text += e.text;
      result_.tokens.insert(result_.tokens.end(), e.tokens.begin(), e.tokens.end());
      ++result_.events;
      if (e.done) {
        done_ = true;
        result_.finish_reason = e.finish_reason;
        result_.status = e.status;
        result_.completion_tokens = e.completion_tokens;
      }
    };
  }
  Result Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
    return result_;
  }

 private:
  absl::Mutex mu_;
  bool done_ = false;
  Result result_;
};

spec::RunSpec TinySpec(const std::string& arch) {
  spec::RunSpec spec;
  spec.model.arch = arch;
  spec.model.n_layer = 2;
  spec.model.n_head = 2;
  spec.model.n_embd = 32;
  spec.model.block_size = 48;
  if (arch == "qwen3") spec.model.rope_theta = 10000;
  spec.data.tokenizer = "byte";
  return spec;
}

std::unique_ptr<Engine> MakeEngine(const spec::RunSpec& spec, bool cache, int max_batch = 8,
                                   int prefill_buckets = -1) {
  torch::manual_seed(11);
  auto model = models::MakeModel(spec.model, spec.attention, 256);
  EXPECT_TRUE(model.ok()) << model.status();
  auto tokenizer = data::LoadTokenizer("byte", "");
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return std::make_unique<Engine>(*model, *std::move(tokenizer), spec,
                                  EngineOptions{.max_batch = max_batch, .use_kv_cache = cache,
                                                .prefill_buckets = prefill_buckets});
}

Result Complete(Engine& engine, uint64_t id, const GenerateRequest& request) {
  Collector c;
  absl::Status s = engine.Submit(id, request, c.Sink());
  EXPECT_TRUE(s.ok()) << s;
  return c.Wait();
}

GenerateRequest Greedy(const std::string& prompt, int max_tokens) {
  return GenerateRequest{.prompt = prompt, .max_tokens = max_tokens, .sampling = {.temperature = 0}};
}

class EngineTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineTest, CachedGreedyTokensEqualRecomputation) {
  auto cached = MakeEngine(TinySpec(GetParam()), true);
  auto recompute = MakeEngine(TinySpec(GetParam()), false);
  ASSERT_TRUE(cached->uses_kv_cache());
  ASSERT_FALSE(recompute->uses_kv_cache());
  const Result a = Complete(*cached, 1, Greedy("Once upon a", 30));
  const Result b = Complete(*recompute, 1, Greedy("Once upon a", 30));
  EXPECT_EQ(a.tokens.size(), 30u);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.finish_reason, "length");
}

TEST_P(EngineTest, ConcurrentRequestsEqualEachRunAlone) {
  auto engine = MakeEngine(TinySpec(GetParam()), true, /*max_batch=*/3);
  const std::vector<GenerateRequest> requests = {
      Greedy("a", 20), Greedy("the longer prompt", 12),
      GenerateRequest{.prompt = "xyz", .max_tokens = 25, .sampling = {.temperature = 0.9, .top_k = 20, .seed = 5}},
      GenerateRequest{.prompt = "hello", .max_tokens = 8, .sampling = {.temperature = 1.2, .top_p = 0.9, .seed = 6}},
      Greedy("q", 16)};
  std::vector<Result> alone;
  for (size_t i = 0; i < requests.size(); ++i) alone.push_back(Complete(*engine, i, requests[i]));
  // All at once: more than max_batch, so some wait and join as others finish.
  std::vector<std::unique_ptr<Collector>> collectors;
  for (size_t i = 0; i < requests.size(); ++i) {
    collectors.push_back(std::make_unique<Collector>());
    ASSERT_TRUE(engine->Submit(100 + i, requests[i], collectors.back()->Sink()).ok());
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const Result together = collectors[i]->Wait();
    EXPECT_EQ(together.tokens, alone[i].tokens) << "request " << i;
    EXPECT_EQ(together.completion_tokens, requests[i].max_tokens);
  }
  EXPECT_EQ(engine->live(), 0);
}

// Requests submitted while the engine is paused are admitted in one round, so their
// prompts (of different lengths, right-padded in one cached forward) are prefilled
// together; each must still get the tokens it gets alone. Two of them end at their
// first token (max_tokens 1), one in the last row, so retiring them from the
// prefilled batch moves rows around.
// With prefill_buckets the forward is padded to 8 rows and 16 or 32 tokens.
TEST_P(EngineTest, RequestsPrefilledTogetherEqualEachRunAlone) {
  for (const int mode : {0, 1, 2}) {
    const bool cache = mode != 2, buckets = mode == 1;
    SCOPED_TRACE(!cache ? "recompute" : buckets ? "kv cache, bucketed prefill shapes" : "kv cache");
    auto engine = MakeEngine(TinySpec(GetParam()), cache, /*max_batch=*/8, buckets ? 1 : 0);
    const std::vector<GenerateRequest> requests = {
        Greedy("the longest prompt of all", 10), Greedy("a", 1), Greedy("mid size", 12),
        GenerateRequest{.prompt = "xyz", .max_tokens = 9, .sampling = {.temperature = 0.9, .top_k = 20, .seed = 5}},
        Greedy("q", 15), Greedy("ends at once", 1)};
    std::vector<Result> alone;
    for (size_t i = 0; i < requests.size(); ++i) alone.push_back(Complete(*engine, i, requests[i]));
    engine->Pause();
    std::vector<std::unique_ptr<Collector>> collectors;
    for (size_t i = 0; i < requests.size(); ++i) {
      collectors.push_back(std::make_unique<Collector>());
      ASSERT_TRUE(engine->Submit(100 + i, requests[i], collectors.back()->Sink()).ok());
    }
    engine->Resume();
    for (size_t i = 0; i < requests.size(); ++i) {
      const Result together = collectors[i]->Wait();
      EXPECT_EQ(together.tokens, alone[i].tokens) << "request " << i;
      EXPECT_EQ(together.text, alone[i].text) << "request " << i;
      EXPECT_EQ(together.finish_reason, alone[i].finish_reason) << "request " << i;
      EXPECT_EQ(together.completion_tokens, requests[i].max_tokens) << "request " << i;
    }
    EXPECT_EQ(engine->live(), 0);
  }
}

// More requests admitted at once than one prefill forward takes (Engine::kPrefillRows
// is 32): the prefill is split into several forwards over consecutive rows.
TEST_P(EngineTest, ALargeAdmissionIsPrefilledInSeveralForwards) {
  constexpr int kRequests = 40;
  auto engine = MakeEngine(TinySpec(GetParam()), true, /*max_batch=*/kRequests);
  std::vector<GenerateRequest> requests;
  for (int i = 0; i < kRequests; ++i) {
    // Prompts of 1 to 13 characters (the byte tokenizer: as many tokens).
    requests.push_back(Greedy(std::string(1 + (i * 7) % 13, static_cast<char>('a' + i % 26)),
                              1 + i % 5));
  }
  std::vector<Result> alone;
  for (int i = 0; i < kRequests; ++i) alone.push_back(Complete(*engine, i, requests[i]));
  engine->Pause();
  std::vector<std::unique_ptr<Collector>> collectors;
  for (int i = 0; i < kRequests; ++i) {
    collectors.push_back(std::make_unique<Collector>());
    ASSERT_TRUE(engine->Submit(100 + i, requests[i], collectors.back()->Sink()).ok());
  }
  engine->Resume();
  for (int i = 0; i < kRequests; ++i) {
    const Result together = collectors[i]->Wait();
    EXPECT_EQ(together.tokens, alone[i].tokens) << "request " << i;
    EXPECT_EQ(together.completion_tokens, requests[i].max_tokens) << "request " << i;
  }
  EXPECT_EQ(engine->live(), 0);
}

INSTANTIATE_TEST_SUITE_P(Archs, EngineTest, ::testing::Values("gpt2", "qwen3"));

TEST(Engine, TheSameSeedGivesTheSameTextAndAnotherSeedAnother) {
  auto engine = MakeEngine(TinySpec("gpt2"), true);
  GenerateRequest r{.prompt = "seed", .max_tokens = 30, .sampling = {.temperature = 1.0, .seed = 42}};
  const Result a = Complete(*engine, 1, r), b = Complete(*engine, 2, r);
  r.sampling.seed = 43;
  const Result c = Complete(*engine, 3, r);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NE(a.tokens, c.tokens);
}

TEST(Engine, StopsAtAStopStringWithoutSendingIt) {
  auto engine = MakeEngine(TinySpec("gpt2"), true);
  const Result full = Complete(*engine, 1, Greedy("stop test", 40));
  ASSERT_GE(full.text.size(), 6u);
  // Stop at the text's 5th..6th characters: what is sent is the 4 before them.
  GenerateRequest r = Greedy("stop test", 40);
  r.stop = {full.text.substr(4, 2)};
  const size_t first = full.text.find(r.stop[0]);
  const Result stopped = Complete(*engine, 2, r);
  EXPECT_EQ(stopped.finish_reason, "stop");
  EXPECT_EQ(stopped.text, full.text.substr(0, first));
  EXPECT_LT(stopped.completion_tokens, 40);
}

TEST(Engine, StopsWhenTheContextIsFull) {
  auto engine = MakeEngine(TinySpec("gpt2"), true);
  const Result r = Complete(*engine, 1, Greedy("0123456789", 100));  // block_size 48
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(r.completion_tokens, 48 + 1 - 10);
}

TEST(Engine, RejectsBadRequestsWithoutCallingTheSink) {
  auto engine = MakeEngine(TinySpec("gpt2"), true);
  EventSink never = [](const GenerateEvent&) { ADD_FAILURE() << "sink called"; };
  EXPECT_EQ(engine->Submit(1, Greedy("x", 0), never).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Submit(1, Greedy(std::string(48, 'a'), 5), never).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Submit(1, Greedy("", 5), never).code(), absl::StatusCode::kInvalidArgument);
  GenerateRequest r = Greedy("x", 5);
  r.sampling.top_p = 0;
  EXPECT_EQ(engine->Submit(1, r, never).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Engine, CancelEndsARequestAndTheEngineServesTheNext) {
  auto engine = MakeEngine(TinySpec("gpt2"), true, /*max_batch=*/1);
  Collector running, queued;
  ASSERT_TRUE(engine->Submit(1, Greedy("a", 47), running.Sink()).ok());
  ASSERT_TRUE(engine->Submit(2, Greedy("b", 47), queued.Sink()).ok());
  engine->Cancel(1);
  engine->Cancel(2);
  EXPECT_EQ(running.Wait().finish_reason, "cancelled");
  EXPECT_EQ(queued.Wait().finish_reason, "cancelled");
  EXPECT_EQ(Complete(*engine, 3, Greedy("c", 5)).completion_tokens, 5);
}

}  // namespace
}  // namespace gwo::generate
