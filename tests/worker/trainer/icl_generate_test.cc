// Generation and the ICL-versus-fine-tuning comparison on tiny models.
#include <torch/torch.h>

#include <cmath>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "worker/data/tokenizer.h"
#include "worker/models/model.h"
#include "worker/trainer/generate.h"
#include "worker/trainer/icl.h"

namespace gwo::trainer {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<models::CausalLm> Tiny(uint64_t seed, int block_size = 128) {
  spec::ModelSpec m;
  m.n_layer = 2;
  m.n_head = 2;
  m.n_embd = 16;
  m.block_size = block_size;
  torch::manual_seed(seed);
  return *models::MakeModel(m, {}, 256);
}

TEST(Generate, GreedyIsDeterministicAndKeepsThePrompt) {
  auto model = Tiny(1, 8);
  const std::vector<int32_t> prompt = {65, 66, 67};
  const std::vector<int32_t> a = GenerateTokens(*model, prompt, 12, 0.0, 0);  // past block_size
  const std::vector<int32_t> b = GenerateTokens(*model, prompt, 12, 0.0, 0);
  ASSERT_EQ(a.size(), 15u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(std::vector<int32_t>(a.begin(), a.begin() + 3), prompt);
  EXPECT_TRUE(model->is_training());
}

TEST(Generate, TopOneSamplingIsGreedy) {
  auto model = Tiny(2);
  torch::manual_seed(9);
  EXPECT_EQ(GenerateTokens(*model, {72, 105}, 6, 1.0, /*top_k=*/1), GenerateTokens(*model, {72, 105}, 6, 0.0, 0));
}

data::LabelledExamples Examples() {
  data::LabelledExamples e;
  for (int i = 0; i < 4; ++i) {
    e.train.push_back({"t", absl::StrCat("win money now ", i), i % 2 ? "spam" : "ham"});
    e.val.push_back({"v", absl::StrCat("meet at noon ", i), i % 2 ? "spam" : "ham"});
  }
  return e;
}

TEST(Icl, ComparesAndStaysInRange) {
  auto reference = Tiny(1);
  auto fine_tuned = Tiny(1);
  {
    torch::NoGradGuard no_grad;  // a small change: the "fine-tuning"
    for (auto& p : fine_tuned->parameters()) p.add_(torch::randn_like(p) * 0.01);
  }
  const std::unique_ptr<data::Tokenizer> tokenizer = *data::LoadTokenizer("byte", "");
  absl::StatusOr<IclComparison> c =
      CompareIclWithFineTuning(*fine_tuned, *reference, *tokenizer, Examples(), {.enabled = true, .shots = 2, .queries = 3});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->queries, 3);
  EXPECT_GE(c->sim_aou, -1.0);
  EXPECT_LE(c->sim_aou, 1.0);
  EXPECT_GT(c->sim_am, 0.0);  // non-negative weights: cosine in (0, 1]
  EXPECT_LE(c->sim_am, 1.0 + 1e-9);
  EXPECT_GE(c->kendall_tau, -1.0);
  EXPECT_LE(c->kendall_tau, 1.0);
  for (const auto& a : reference->attentions()) EXPECT_FALSE(a->capture());
}

// MostLikelyAnswer (behind the icl_acc_* metrics) against each answer scored alone,
// unpadded, from the model's whole log-softmax: prompts of 1 to 20 tokens, 2 to 5
// answers of one length per trial (1 to 4 tokens; else the shortest tends to win), on
// a model with weights scaled up so that its predictions are far from uniform.
TEST(Icl, MostLikelyAnswerHasTheLargestSumOfLogProbabilities) {
  auto model = Tiny(3);
  model->eval();
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) {
    if (p.dim() >= 2) p.mul_(6);
  }
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> token(0, 255);
  int checked = 0, not_first = 0;
  for (int trial = 0; trial < 30; ++trial) {
    std::vector<int32_t> prompt(1 + trial % 20);
    for (int32_t& t : prompt) t = token(rng);
    std::vector<std::vector<int32_t>> answers(2 + trial % 4);
    for (size_t i = 0; i < answers.size(); ++i) {
      answers[i].resize(1 + trial % 4);
      for (int32_t& t : answers[i]) t = token(rng);
    }
    int best = -1;
    double best_score = -INFINITY;
    for (size_t i = 0; i < answers.size(); ++i) {
      const std::vector<int32_t>& a = answers[i];
      std::vector<int64_t> seq(prompt.begin(), prompt.end());
      seq.insert(seq.end(), a.begin(), a.end() - 1);
      const torch::Tensor lp =
          torch::log_softmax(model->forward(torch::tensor(seq).view({1, -1}))[0].to(torch::kDouble), -1);
      double score = 0;
      for (size_t j = 0; j < a.size(); ++j) score += lp[prompt.size() - 1 + j][a[j]].item<double>();
      if (score > best_score) best_score = score, best = static_cast<int>(i);
    }
    EXPECT_EQ(MostLikelyAnswer(*model, prompt, answers), best) << "trial " << trial;
    ++checked;
    not_first += best != 0;
  }
  EXPECT_EQ(checked, 30);
  EXPECT_GT(not_first, 5) << "the answers' order alone would pass";
}

TEST(Icl, TheReferenceAgainstItselfHasNoOutputUpdate) {
  // FT = ZSL: the fine-tuning update is zero, so SimAOU is 0 (cosine with a zero vector).
  auto reference = Tiny(1);
  const std::unique_ptr<data::Tokenizer> tokenizer = *data::LoadTokenizer("byte", "");
  absl::StatusOr<IclComparison> c =
      CompareIclWithFineTuning(*reference, *reference, *tokenizer, Examples(), {.enabled = true, .shots = 1, .queries = 2});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sim_aou, 0.0);
}

TEST(Icl, TooFewDemonstrationsOrTooSmallABlockIsAnError) {
  auto model = Tiny(1, 16);
  const std::unique_ptr<data::Tokenizer> tokenizer = *data::LoadTokenizer("byte", "");
  EXPECT_THAT(std::string(CompareIclWithFineTuning(*model, *model, *tokenizer, Examples(), {.shots = 9}).status().message()),
              HasSubstr("training.icl.shots is 9 but the corpus has 4 training examples"));
  // A block of 16 has no room for "<text>\nLabel: spam\n\n" beside a query.
  EXPECT_THAT(std::string(CompareIclWithFineTuning(*model, *model, *tokenizer, Examples(), {.shots = 1}).status().message()),
              HasSubstr("block_size 16 leaves"));
  auto wide = Tiny(1);
  absl::StatusOr<IclComparison> all = CompareIclWithFineTuning(*wide, *wide, *tokenizer, Examples(), {.shots = 1});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->queries, 4);
  for (double accuracy : {all->accuracy_icl, all->accuracy_ft, all->accuracy_zsl}) {
    EXPECT_GE(accuracy, 0.0);
    EXPECT_LE(accuracy, 1.0);
  }
  EXPECT_EQ(all->accuracy_ft, all->accuracy_zsl);  // the same model on the same query
}

}  // namespace
}  // namespace gwo::trainer
