// LoRA, kv_only and parameter selection: what trains, what stays, and the counts.
#include "worker/trainer/trainable.h"

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/models/lora.h"
#include "worker/models/model.h"
#include "worker/trainer/learner.h"
#include "worker/trainer/model_setup.h"
#include "worker/trainer/optimization.h"

namespace gwo::trainer {
namespace {

using ::testing::HasSubstr;

constexpr int kVocab = 32;

std::shared_ptr<models::CausalLm> TinyModel(const std::string& arch, uint64_t seed = 5) {
  spec::ModelSpec m;
  m.arch = arch;
  m.n_layer = 2;
  m.n_head = 2;
  m.n_embd = 16;
  m.block_size = 8;
  if (arch == "qwen3") m.n_kv_head = 1;
  torch::manual_seed(seed);
  return *models::MakeModel(m, {}, kVocab);
}

torch::Tensor Tokens(int64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, kVocab, {3, 8}, torch::kLong);  // (B, T)
}

std::map<std::string, torch::Tensor> Snapshot(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : m.named_parameters()) out[item.key()] = item.value().detach().clone();
  return out;
}

// Trains `model` under `trainable` for a few AdamW steps (with weight decay) on one batch.
std::unique_ptr<Learner> TrainAFewSteps(std::shared_ptr<models::CausalLm> model,
                                        const spec::TrainableSpec& trainable) {
  spec::TrainingSpec training;
  training.lr = 1e-2;
  training.weight_decay = 0.1;
  training.trainable = trainable;
  auto learner = MakeLearner(std::move(model), training, training.optimizer, "");
  EXPECT_TRUE(learner.ok()) << learner.status();
  const torch::Tensor x = Tokens(1), y = Tokens(2);
  for (int i = 0; i < 3; ++i) (*learner)->Step(x, y, {}, training, training.lr);
  return *std::move(learner);
}

class LoraTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LoraTest, AtInitTheAdaptedModelComputesTheBaseModel) {
  auto model = TinyModel(GetParam());
  model->eval();
  const torch::Tensor x = Tokens(1);
  const torch::Tensor before = model->forward(x).detach();
  spec::TrainableSpec spec;
  spec.mode = "lora";
  spec.lora.rank = 2;
  spec.lora.targets = {GetParam() == "gpt2" ? "c_attn" : "q_proj", GetParam() == "gpt2" ? "c_fc" : "up_proj"};
  absl::StatusOr<TrainableSetup> setup = ApplyTrainable(*model, spec);
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_EQ(setup->lora_modules.size(), 4u);  // 2 targets x 2 layers
  model->eval();
  EXPECT_TRUE(torch::equal(model->forward(x), before));
}

TEST_P(LoraTest, OnlyTheAdapterMatricesGetGradientsAndChange) {
  auto model = TinyModel(GetParam());
  spec::TrainableSpec spec;
  spec.mode = "lora";
  auto learner = TrainAFewSteps(model, spec);
  const auto before = Snapshot(*TinyModel(GetParam()));
  int adapters = 0;
  for (const auto& item : model->named_parameters()) {
    const bool adapter = item.key().find("_lora.") != std::string::npos;
    if (adapter) {
      ++adapters;
      EXPECT_TRUE(item.value().grad().defined()) << item.key();
      if (item.key().ends_with(".B")) EXPECT_GT(item.value().abs().max().item<double>(), 0) << item.key();
    } else {
      EXPECT_FALSE(item.value().grad().defined()) << item.key();
      EXPECT_TRUE(torch::equal(item.value(), before.at(item.key()))) << item.key();
    }
  }
  // The default targets: the attention projections, 2 (gpt2) or 4 (qwen3) per layer, A and B each.
  EXPECT_EQ(adapters, GetParam() == "gpt2" ? 2 * 2 * 2 : 2 * 4 * 2);
}

TEST_P(LoraTest, MergedWeightsComputeWhatTheAdaptedModelComputes) {
  auto model = TinyModel(GetParam());
  spec::TrainableSpec spec;
  spec.mode = "lora";
  auto learner = TrainAFewSteps(model, spec);
  ASSERT_TRUE(HasAdapters(*model));
  auto plain = TinyModel(GetParam(), /*seed=*/99);
  ASSERT_FALSE(HasAdapters(*plain));
  ASSERT_TRUE(CopyMergedWeights(*model, *plain).ok());
  model->eval();
  plain->eval();
  const torch::Tensor x = Tokens(3);
  EXPECT_TRUE(torch::allclose(model->forward(x), plain->forward(x), 1e-4, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Archs, LoraTest, ::testing::Values("gpt2", "qwen3"));

TEST(Lora, UnknownTargetIsAnErrorListingTheLayers) {
  auto model = TinyModel("gpt2");
  spec::TrainableSpec spec;
  spec.mode = "lora";
  spec.lora.targets = {"q_proj"};
  absl::StatusOr<TrainableSetup> setup = ApplyTrainable(*model, spec);
  EXPECT_THAT(std::string(setup.status().message()),
              HasSubstr("LoRA targets match no Linear layer: q_proj; layers of this model: attn.c_attn"));
}

TEST(Lora, ParameterCounts) {
  auto model = TinyModel("gpt2");
  const int64_t base = model->parameter_counts().total;
  spec::TrainableSpec spec;
  spec.mode = "lora";
  spec.lora.rank = 2;
  absl::StatusOr<TrainableSetup> setup = ApplyTrainable(*model, spec);
  ASSERT_TRUE(setup.ok());
  // Per layer: c_attn (16 -> 48) and attn.c_proj (16 -> 16): r * (in + out) each.
  const int64_t adapters = 2 * (2 * (16 + 48) + 2 * (16 + 16));
  EXPECT_EQ(setup->trainable, adapters);
  EXPECT_EQ(setup->total, base + adapters);
}

TEST(KvOnly, Gpt2TrainsOnlyTheKeyAndValueRowsOfCAttn) {
  auto model = TinyModel("gpt2");
  const auto before = Snapshot(*model);
  spec::TrainableSpec spec;
  spec.mode = "kv_only";
  auto learner = TrainAFewSteps(model, spec);
  // Per layer c_attn: weight (48, 16) + bias (48), of which the 32 K/V rows train.
  EXPECT_EQ(learner->trainable.trainable, 2 * (32 * 16 + 32));
  const int64_t C = 16;
  for (const auto& item : model->named_parameters()) {
    const torch::Tensor& now = item.value();
    const torch::Tensor& was = before.at(item.key());
    if (item.key().find(".attn.c_attn.") != std::string::npos) {
      EXPECT_TRUE(torch::equal(now.narrow(0, 0, C), was.narrow(0, 0, C))) << item.key() << " Q rows moved";
      EXPECT_FALSE(torch::equal(now.narrow(0, C, 2 * C), was.narrow(0, C, 2 * C))) << item.key();
    } else {
      EXPECT_TRUE(torch::equal(now, was)) << item.key();
    }
  }
}

TEST(KvOnly, Qwen3TrainsOnlyKProjAndVProj) {
  auto model = TinyModel("qwen3");
  const auto before = Snapshot(*model);
  spec::TrainableSpec spec;
  spec.mode = "kv_only";
  auto learner = TrainAFewSteps(model, spec);
  // k_proj, v_proj: (n_kv_head * hd = 8, 16) per layer.
  EXPECT_EQ(learner->trainable.trainable, 2 * 2 * 8 * 16);
  for (const auto& item : model->named_parameters()) {
    const bool kv = IsKvProjection("qwen3", item.key());
    EXPECT_EQ(!torch::equal(item.value(), before.at(item.key())), kv) << item.key();
  }
}

TEST(Selectors, TrainPatternsRestrictAndFreezePatternsWin) {
  auto model = TinyModel("gpt2");
  const auto before = Snapshot(*model);
  spec::TrainableSpec spec;
  spec.train = {"h.*.mlp.*"};
  spec.freeze = {"h.1.*"};
  auto learner = TrainAFewSteps(model, spec);
  for (const auto& item : model->named_parameters()) {
    const bool trains = item.key().starts_with("h.0.mlp.");
    EXPECT_EQ(!torch::equal(item.value(), before.at(item.key())), trains) << item.key();
  }
  EXPECT_EQ(learner->trainable.trainable, 16 * 64 + 64 + 64 * 16 + 16);
}

TEST(Selectors, APatternMatchingNothingIsAnError) {
  auto model = TinyModel("gpt2");
  spec::TrainableSpec spec;
  spec.freeze = {"h.*.attn.attention.*"};
  EXPECT_THAT(std::string(ApplyTrainable(*model, spec).status().message()),
              HasSubstr("pattern \"h.*.attn.attention.*\" matches no parameter"));
  spec.freeze = {"*"};
  EXPECT_THAT(std::string(ApplyTrainable(*model, spec).status().message()),
              HasSubstr("leaves no parameter to train"));
}

}  // namespace
}  // namespace gwo::trainer

namespace gwo::trainer {
namespace {

// training.micro_batch_size: the same optimizer steps as the whole batch, with the
// batch cut in passes of unequal size (3 rows as 2 + 1), for AdamW and the natural
// optimizer, with a distillation term.
class MicroBatchTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MicroBatchTest, StepsEqualTheWholeBatchSteps) {
  spec::TrainingSpec whole;
  whole.lr = 1e-2;
  whole.distill.weight = 0.5;
  whole.optimizer.name = GetParam();
  spec::TrainingSpec micro = whole;
  micro.micro_batch_size = 2;
  auto a = TinyModel("gpt2"), b = TinyModel("gpt2");
  const auto before = Snapshot(*a);
  auto la = *MakeLearner(a, whole, whole.optimizer, "");
  auto lb = *MakeLearner(b, micro, micro.optimizer, "");
  const torch::Tensor x = Tokens(1), y = Tokens(2);
  torch::manual_seed(3);
  const torch::Tensor teacher = torch::randn({3, 8, kVocab});
  const StepLoss sa = la->Step(x, y, teacher, whole, whole.lr);
  const StepLoss sb = lb->Step(x, y, teacher, micro, micro.lr);
  EXPECT_NEAR(sa.total.item<double>(), sb.total.item<double>(), 1e-5);
  EXPECT_NEAR(sa.lm.item<double>(), sb.lm.item<double>(), 1e-5);
  EXPECT_NEAR(sa.distill.item<double>(), sb.distill.item<double>(), 1e-5);
  ASSERT_EQ(la->layer_scales.size(), lb->layer_scales.size());
  for (size_t l = 0; l < la->layer_scales.size(); ++l) EXPECT_NEAR(la->layer_scales[l], lb->layer_scales[l], 1e-5);
  // The step's gradients (left in .grad after the update; after clipping, which both
  // did with the same norm). Compared on gradients, not on AdamW's normalised update:
  // parameters whose true gradient is zero (the key bias: softmax ignores a constant
  // per row) get rounding noise that AdamW scales up to full-size steps of random sign.
  std::map<std::string, torch::Tensor> ga, gb;
  for (const auto& item : a->named_parameters()) ga[item.key()] = item.value().grad();
  for (const auto& item : b->named_parameters()) gb[item.key()] = item.value().grad();
  int compared = 0;
  for (const auto& [name, g] : ga) {
    ASSERT_TRUE(g.defined()) << name;
    EXPECT_TRUE(torch::allclose(g, gb.at(name), 1e-4, 1e-6)) << name;
    ++compared;
  }
  EXPECT_GT(compared, 10);
  int changed = 0;
  for (const auto& [name, w] : Snapshot(*a)) changed += !torch::equal(w, before.at(name));
  EXPECT_GT(changed, 0);  // it trained
}

INSTANTIATE_TEST_SUITE_P(Optimizers, MicroBatchTest, ::testing::Values("adamw", "natural"));

}  // namespace
}  // namespace gwo::trainer
