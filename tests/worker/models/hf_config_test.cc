#include "worker/models/hf_config.h"

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/models/fixture_files.h"
#include "tests/worker/test_dir.h"
#include "worker/models/model_shape.h"

namespace gwo::models {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(HfConfig, ReadsTheGpt2ConfigTransformersWrote) {
  absl::StatusOr<spec::ModelSpec> m = ModelSpecFromHfConfig(testing::HfFixture("gpt2-tiny"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->arch, "gpt2");
  EXPECT_EQ(m->vocab_size, 1000);
  EXPECT_EQ(m->n_layer, 2);
  EXPECT_EQ(m->n_head, 4);
  EXPECT_EQ(m->n_kv_head, 4);
  EXPECT_EQ(m->n_embd, 64);
  EXPECT_EQ(m->head_dim, 16);
  EXPECT_EQ(m->block_size, 64);
  EXPECT_EQ(m->intermediate_size, 256);  // n_inner: null
  EXPECT_DOUBLE_EQ(m->norm_eps, 1e-5);
  EXPECT_TRUE(m->tie_embeddings);
}

TEST(HfConfig, ReadsTheQwen3ConfigOfTransformers5WithRopeParameters) {
  absl::StatusOr<spec::ModelSpec> m =
      ModelSpecFromHfConfig(testing::HfFixture("qwen3-tiny") + "/config.json");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->arch, "qwen3");
  EXPECT_EQ(m->vocab_size, 1000);
  EXPECT_EQ(m->n_layer, 2);
  EXPECT_EQ(m->n_head, 4);
  EXPECT_EQ(m->n_kv_head, 2);
  EXPECT_EQ(m->n_embd, 64);
  EXPECT_EQ(m->head_dim, 32);
  EXPECT_EQ(m->block_size, 64);
  EXPECT_EQ(m->intermediate_size, 128);
  EXPECT_DOUBLE_EQ(m->rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(m->norm_eps, 1e-6);
  EXPECT_FALSE(m->tie_embeddings);
  // The result is a resolved spec: resolving changes nothing.
  absl::StatusOr<spec::ModelSpec> resolved = ResolveModelShape(*m, 0);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_THAT(ShapeDifferences(*m, *resolved), IsEmpty());
}

TEST(HfConfig, WrittenConfigReadsBackAsTheSameShape) {
  for (const char* arch : {"gpt2", "qwen3"}) {
    spec::ModelSpec spec;
    spec.arch = arch;
    spec.n_layer = 3;
    spec.n_head = 4;
    spec.n_embd = 32;
    spec.block_size = 48;
    spec.tie_embeddings = std::string(arch) == "gpt2";
    if (spec.arch == "qwen3") {
      spec.n_kv_head = 2;
      spec.head_dim = 16;
      spec.rope_theta = 5e5;
      spec.intermediate_size = 80;
    }
    absl::StatusOr<spec::ModelSpec> resolved = ResolveModelShape(spec, 300);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    const std::string json = HfConfigJson(*resolved, "float32");
    EXPECT_THAT(json, HasSubstr("\"torch_dtype\": \"float32\""));
    absl::StatusOr<spec::ModelSpec> back = ModelSpecFromHfConfigJson(json, "config.json");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_THAT(ShapeDifferences(*back, *resolved), IsEmpty()) << json;
    EXPECT_EQ(back->block_size, 48);
  }
}

TEST(HfConfig, DifferencesNameEachField) {
  spec::ModelSpec a, b;
  a.n_layer = 2;
  b.n_layer = 3;
  b.tie_embeddings = false;
  EXPECT_THAT(ShapeDifferences(a, b),
              ElementsAre("n_layer: 2 vs 3", "tie_embeddings: tied vs untied"));
}

TEST(HfConfig, UnsupportedOptionsAreInvalidArgument) {
  struct Case {
    std::string json, expected;
  };
  const Case cases[] = {
      {R"({"model_type": "llama"})", "model_type 'llama'"},
      {R"({"model_type": "qwen3", "rope_scaling": {"type": "yarn"}})", "rope_scaling"},
      {R"({"model_type": "qwen3", "attention_bias": true})", "attention_bias"},
      {R"({"model_type": "qwen3", "use_sliding_window": true})", "use_sliding_window"},
      {R"({"model_type": "qwen3", "layer_types": ["sliding_attention"]})", "layer_types"},
      {R"({"model_type": "qwen3", "rope_parameters": {"rope_type": "llama3"}})", "rope_type"},
      {R"({"model_type": "gpt2", "activation_function": "relu"})", "activation_function"},
      {R"({"model_type": "gpt2", "n_embd": "big"})", "n_embd must be a non-negative integer"},
      {R"({"model_type": "gpt2")", "not valid JSON"},
      {R"([1])", "not a JSON object"},
  };
  for (const Case& c : cases) {
    const absl::Status status = ModelSpecFromHfConfigJson(c.json, "c.json").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(status.message(), HasSubstr(c.expected)) << c.json;
  }
  // Older configs without model_type name the class.
  absl::StatusOr<spec::ModelSpec> old =
      ModelSpecFromHfConfigJson(R"({"architectures": ["GPT2LMHeadModel"], "n_embd": 32})", "c");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->n_embd, 32);
  EXPECT_EQ(old->n_layer, 12);  // GPT2Config's default
}

TEST(HfConfig, MissingConfigIsNotFound) {
  testing::TestDir dir;
  EXPECT_EQ(ModelSpecFromHfConfig(dir.path()).status().code(), absl::StatusCode::kNotFound);
}

TEST(WeightFiles, SingleFileOrTheShardsOfTheIndex) {
  testing::TestDir dir;
  EXPECT_EQ(WeightFiles(dir.path()).status().code(), absl::StatusCode::kNotFound);
  dir.Write(
      "model.safetensors.index.json",
      R"({"metadata": {}, "weight_map": {"a": "model-00002-of-00002.safetensors",)"
      R"( "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})");
  absl::StatusOr<std::vector<std::string>> shards = WeightFiles(dir.path());
  ASSERT_TRUE(shards.ok()) << shards.status();
  EXPECT_THAT(*shards, ElementsAre(dir / "model-00001-of-00002.safetensors",
                                   dir / "model-00002-of-00002.safetensors"));
  dir.Write("model.safetensors", "");
  EXPECT_THAT(*WeightFiles(dir.path()), ElementsAre(dir / "model.safetensors"));

  testing::TestDir evil;
  evil.Write("model.safetensors.index.json", R"({"weight_map": {"a": "../x.safetensors"}})");
  EXPECT_EQ(WeightFiles(evil.path()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelShape, DefaultsResolvePerArch) {
  spec::ModelSpec spec;  // gpt2, 64 dims, 2 heads
  absl::StatusOr<spec::ModelSpec> gpt2 = ResolveModelShape(spec, 256);
  ASSERT_TRUE(gpt2.ok()) << gpt2.status();
  EXPECT_EQ(gpt2->vocab_size, 256);
  EXPECT_EQ(gpt2->head_dim, 32);
  EXPECT_EQ(gpt2->n_kv_head, 2);
  EXPECT_EQ(gpt2->intermediate_size, 256);
  EXPECT_DOUBLE_EQ(gpt2->norm_eps, 1e-5);
  spec.arch = "qwen3";
  absl::StatusOr<spec::ModelSpec> qwen3 = ResolveModelShape(spec, 256);
  ASSERT_TRUE(qwen3.ok()) << qwen3.status();
  EXPECT_DOUBLE_EQ(qwen3->norm_eps, 1e-6);
  spec.vocab_size = 320;  // a padded embedding
  EXPECT_EQ(ResolveModelShape(spec, 256)->vocab_size, 320);
}

TEST(ModelShape, InvalidShapesNameTheProblem) {
  struct Case {
    std::string arch;
    int n_head, n_kv_head, head_dim, vocab;
    std::string expected;
  };
  const Case cases[] = {
      {"llama", 2, 0, 0, 0, "not one of gpt2, qwen3"},
      {"gpt2", 3, 0, 0, 0, "does not divide n_embd"},
      {"gpt2", 2, 1, 0, 0, "no grouped-query attention"},
      {"gpt2", 2, 0, 16, 0, "head_dim * n_head == n_embd"},
      {"qwen3", 4, 3, 0, 0, "n_kv_head 3 does not divide n_head 4"},
      {"qwen3", 2, 0, 15, 0, "even head_dim"},
      {"qwen3", 2, 0, 0, 100, "smaller than the tokenizer's"},
  };
  for (const Case& c : cases) {
    spec::ModelSpec spec;
    spec.arch = c.arch;
    spec.n_head = c.n_head;
    spec.n_kv_head = c.n_kv_head;
    spec.head_dim = c.head_dim;
    spec.vocab_size = c.vocab;
    const absl::Status status = ResolveModelShape(spec, 256).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.expected;
    EXPECT_THAT(status.message(), HasSubstr(c.expected));
  }
  EXPECT_FALSE(ResolveModelShape(spec::ModelSpec{}, 0).ok());  // no vocabulary at all
}

TEST(ModelShape, ParameterCountsOfKnownModels) {
  spec::ModelSpec gpt2_small;  // 124,439,808 with its 50257-token vocabulary
  gpt2_small.n_layer = 12;
  gpt2_small.n_head = 12;
  gpt2_small.n_embd = 768;
  gpt2_small.block_size = 1024;
  EXPECT_EQ(ParameterCount(*ResolveModelShape(gpt2_small, 50257)), 124439808);

  spec::ModelSpec qwen3;  // Qwen3-0.6B: 0.44B without the 155.6M embedding
  qwen3.arch = "qwen3";
  qwen3.n_layer = 28;
  qwen3.n_head = 16;
  qwen3.n_kv_head = 8;
  qwen3.head_dim = 128;
  qwen3.n_embd = 1024;
  qwen3.intermediate_size = 3072;
  qwen3.block_size = 40960;
  qwen3.vocab_size = 151936;
  EXPECT_EQ(ParameterCount(*ResolveModelShape(qwen3, 0)), 596049920);
  qwen3.tie_embeddings = false;
  EXPECT_EQ(ParameterCount(*ResolveModelShape(qwen3, 0)), 596049920 + 151936 * 1024);
}

}  // namespace
}  // namespace gwo::models
