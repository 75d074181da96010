// The dual form on a linear-attention (softmax-free) model: a fine-tuning update of
// W_V built to equal what the demonstrations add to the query's attention output
// must score SimAOU = SimAM = Kendall tau = 1; an unrelated update must not.
#include <torch/torch.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/data/tokenizer.h"
#include "worker/models/model.h"
#include "worker/trainer/icl.h"
#include "worker/trainer/icl_data.h"

namespace gwo::trainer {
namespace {

constexpr int kBlock = 128;

torch::Tensor Parameter(models::CausalLm& model, const std::string& suffix) {
  for (auto& p : model.named_parameters()) {
    const std::string& name = p.key();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return p.value();
    }
  }
  ADD_FAILURE() << "no parameter ending in " << suffix;
  return {};
}

// One layer, one query/key/value head of 16 dims, linear attention without the
// running-mean normaliser, o_proj the identity (so the attention output is W_V's
// image directly).
std::shared_ptr<models::CausalLm> LinearModel() {
  spec::ModelSpec m;
  m.arch = "qwen3";
  m.n_layer = 1;
  m.n_head = 1;
  m.n_kv_head = 1;
  m.n_embd = 16;
  m.head_dim = 16;
  m.intermediate_size = 32;
  m.block_size = kBlock;
  spec::AttentionSpec attention{.kind = "linear"};
  attention.linear.normalize = "none";
  torch::manual_seed(7);
  std::shared_ptr<models::CausalLm> model = *models::MakeModel(m, attention, 256);
  torch::NoGradGuard no_grad;
  Parameter(*model, "o_proj.weight").copy_(torch::eye(16));
  return model;
}

std::shared_ptr<models::CausalLm> CopyOf(models::CausalLm& model) {
  std::shared_ptr<models::CausalLm> copy = LinearModel();
  torch::NoGradGuard no_grad;
  auto source = model.named_parameters();
  for (auto& p : copy->named_parameters()) p.value().copy_(source[p.key()]);
  return copy;
}

// The attention output (C) at the last position of `ids`.
torch::Tensor LastOutput(models::CausalLm& model, const std::vector<int32_t>& ids) {
  torch::NoGradGuard no_grad;
  model.eval();
  for (const auto& a : model.attentions()) a->set_capture(true);
  const std::vector<int64_t> wide(ids.begin(), ids.end());
  model.forward(torch::tensor(wide, torch::kLong).view({1, static_cast<int64_t>(wide.size())}));
  torch::Tensor out = model.CapturedAttentionOutputs()[0][0][static_cast<int64_t>(ids.size()) - 1].to(torch::kFloat64);
  for (const auto& a : model.attentions()) a->set_capture(false);
  return out;
}

data::LabelledExamples Examples() {
  data::LabelledExamples e;
  e.train = {{"t1", "cheap pills, act now", "spam"}, {"t2", "lunch on friday?", "ham"}, {"t3", "you won", "spam"}};
  e.val = {{"v1", "meeting notes attached", "ham"}};
  return e;
}

TEST(IclDualForm, AValueUpdateEqualToTheDemonstrationsScoresOne) {
  std::shared_ptr<models::CausalLm> reference = LinearModel();
  const std::unique_ptr<data::Tokenizer> tokenizer = *data::LoadTokenizer("byte", "");
  const spec::IclSpec spec{.enabled = true, .shots = 3, .queries = 1};
  absl::StatusOr<IclTask> task = BuildIclTask(*tokenizer, Examples(), spec, kBlock);
  ASSERT_TRUE(task.ok()) << task.status();
  const std::vector<int32_t>& query = task->queries[0].tokens;
  std::vector<int32_t> prompt = task->context;
  prompt.insert(prompt.end(), query.begin(), query.end());
  const torch::Tensor zsl = LastOutput(*reference, query);
  const torch::Tensor delta = LastOutput(*reference, prompt) - zsl;  // what the demonstrations add
  ASSERT_GT(delta.norm().item<double>(), 1e-6);

  // The query's output is sum_s w(t, s) W_V x_s: adding e_0 u^T to W_V adds
  // c e_0 with c = sum_s w(t, s) (u . x_s). Measure c, then add delta u^T / c.
  std::shared_ptr<models::CausalLm> fine_tuned = CopyOf(*reference);
  torch::manual_seed(3);
  const torch::Tensor u = torch::randn({16});
  const torch::Tensor w_v = Parameter(*reference, "v_proj.weight").detach().clone();
  {
    torch::NoGradGuard no_grad;
    Parameter(*fine_tuned, "v_proj.weight").copy_(w_v + torch::outer(torch::eye(16)[0], u));
  }
  const double c = (LastOutput(*fine_tuned, query) - zsl)[0].item<double>();
  ASSERT_GT(std::abs(c), 1e-6);
  {
    torch::NoGradGuard no_grad;
    Parameter(*fine_tuned, "v_proj.weight").copy_(w_v + torch::outer(delta.to(torch::kFloat32), u) / c);
  }
  ASSERT_TRUE(torch::allclose(LastOutput(*fine_tuned, query) - zsl, delta, 1e-4, 1e-5));

  absl::StatusOr<IclComparison> exact = CompareIclWithFineTuning(*fine_tuned, *reference, *tokenizer, Examples(), spec);
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->queries, 1);
  EXPECT_NEAR(exact->sim_aou, 1.0, 1e-5);
  // Q and K did not change, and for linear attention the query's weights on its own
  // tokens do not depend on what precedes them (RoPE: relative positions only).
  EXPECT_NEAR(exact->sim_am, 1.0, 1e-6);
  EXPECT_NEAR(exact->kendall_tau, 1.0, 0.02);  // (rounding may swap a near-tie)
  for (double accuracy : {exact->accuracy_icl, exact->accuracy_ft, exact->accuracy_zsl}) {
    EXPECT_TRUE(accuracy == 0.0 || accuracy == 1.0);  // one query
  }

  // An unrelated V update of the same size is not the dual of the demonstrations.
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(5);
    Parameter(*fine_tuned, "v_proj.weight").copy_(w_v + torch::outer(torch::randn({16}), u) / c);
  }
  absl::StatusOr<IclComparison> other = CompareIclWithFineTuning(*fine_tuned, *reference, *tokenizer, Examples(), spec);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_LT(other->sim_aou, 0.9);
  EXPECT_NEAR(other->sim_am, 1.0, 1e-6);  // still only V changed
}

TEST(IclDualForm, LinearWeightsAreComparedUnnormalisedAndSigned) {
  // With fine_tuned = reference, FT's update is zero (SimAOU 0) and SimAM compares the
  // ICL weights on the query with the zero-shot ones: equal for linear attention, so
  // 1 even though they are signed and do not sum to 1.
  std::shared_ptr<models::CausalLm> reference = LinearModel();
  const std::unique_ptr<data::Tokenizer> tokenizer = *data::LoadTokenizer("byte", "");
  data::LabelledExamples e = Examples();
  e.val.push_back({"v2", "free money", "spam"});
  absl::StatusOr<IclComparison> c =
      CompareIclWithFineTuning(*reference, *reference, *tokenizer, e, {.enabled = true, .shots = 2, .queries = 2});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->queries, 2);
  EXPECT_EQ(c->sim_aou, 0.0);
  EXPECT_NEAR(c->sim_am, 1.0, 1e-6);
  EXPECT_NEAR(c->kendall_tau, 1.0, 0.02);
  EXPECT_EQ(c->accuracy_ft, c->accuracy_zsl);  // the same model on the same query
}

}  // namespace
}  // namespace gwo::trainer
