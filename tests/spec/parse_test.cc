#include "spec/parse.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::spec {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"(name: demo
description: two variants
datasets:
  - name: code
    path: /tmp/corpus
    glob: "*.py"
    max_bytes: 1000
model:
  n_layer: 3
  n_head: 4
  n_embd: 32
training:
  steps: 50
  lr: 0.001
  min_lr: 0.0001
variants:
  - name: base
  - name: slow
    training:
      lr: 0.0005
seeds: [1, 2, 3]
)";

absl::Status ErrorOf(const std::string& yaml) {
  return ParseExperimentSpec(yaml, "job.yaml").status();
}

TEST(ParseExperimentSpec, ReadsEveryField) {
  auto spec = ParseExperimentSpec(kGood, "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "demo");
  ASSERT_EQ(spec->datasets.size(), 1u);
  EXPECT_EQ(spec->datasets[0].glob, "*.py");
  EXPECT_EQ(spec->datasets[0].max_bytes, 1000);
  EXPECT_EQ(spec->datasets[0].path_location.line, 5);
  EXPECT_EQ(spec->model.n_layer, 3);
  EXPECT_EQ(spec->model.n_embd, 32);
  ASSERT_EQ(spec->variants.size(), 2u);
  EXPECT_DOUBLE_EQ(spec->variants[0].training.lr, 0.001);
  EXPECT_DOUBLE_EQ(spec->variants[1].training.lr, 0.0005);
  // Overrides keep the other inherited values.
  EXPECT_EQ(spec->variants[1].training.steps, 50);
  EXPECT_EQ(spec->seeds, (std::vector<int64_t>{1, 2, 3}));
}

TEST(ParseExperimentSpec, MissingVariantsMeansOneBaseline) {
  auto spec = ParseExperimentSpec("name: x\ndatasets: [{name: d, path: /tmp}]\n", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->variants.size(), 1u);
  EXPECT_EQ(spec->variants[0].name, "baseline");
  EXPECT_EQ(spec->variants[0].attention.kind, "standard");
}

TEST(ParseExperimentSpec, MalformedYamlNamesLineAndColumn) {
  absl::Status s = ErrorOf("name: x\ndatasets: [\n  {name: d\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("job.yaml:"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("malformed YAML"));
}

TEST(ParseExperimentSpec, UnknownKeyIsRejectedWithPosition) {
  absl::Status s = ErrorOf("name: x\ndatasets: [{name: d, path: /tmp}]\ntraining:\n  stepz: 10\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("job.yaml:4:3: training.stepz: unknown key"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("steps"));
}

TEST(ParseExperimentSpec, UnknownTopLevelKeyIsRejected) {
  absl::Status s = ErrorOf("name: x\ndatasets: [{name: d, path: /tmp}]\nseed: 3\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("job.yaml:3:1: seed: unknown key"));
}

TEST(ParseExperimentSpec, WrongTypeIsRejected) {
  absl::Status s = ErrorOf("name: x\ndatasets: [{name: d, path: /tmp}]\nmodel:\n  n_layer: two\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("job.yaml:4:12: model.n_layer: expected an integer, got \"two\""));
  s = ErrorOf("name: x\ndatasets: [{name: d, path: /tmp}]\ntraining: 5\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("job.yaml:3:11: training: expected a mapping"));
  s = ErrorOf("name: x\ndatasets: [{name: d, path: /tmp}]\ntraining:\n  lr: fast\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("training.lr: expected a number"));
}

TEST(ParseExperimentSpec, NonPositiveStepsAreRejected) {
  for (const char* steps : {"0", "-5"}) {
    absl::Status s = ErrorOf(std::string("name: x\ndatasets: [{name: d, path: /tmp}]\ntraining:\n  steps: ") +
                             steps + "\n");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()), HasSubstr("job.yaml:4:10: training.steps: expected an integer >= 1, got"));
  }
}

TEST(ParseExperimentSpec, FractionalStepsAreRejected) {
  absl::Status s = ErrorOf("name: x\ndatasets: [{name: d, path: /tmp}]\ntraining: {steps: 1.5}\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("training.steps: expected an integer, got \"1.5\""));
}

TEST(ParseExperimentSpec, UnknownAttentionKindListsKnownKinds) {
  absl::Status s = ErrorOf(
      "name: x\ndatasets: [{name: d, path: /tmp}]\nvariants:\n  - name: v\n    attention: {kind: magic}\n");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("job.yaml:5:23: variants[0].attention.kind: unknown attention kind \"magic\"; "
                        "expected one of: standard"));
}

TEST(ParseExperimentSpec, ReportsEveryErrorNotJustTheFirst) {
  absl::Status s = ErrorOf("name: x\ndatasets: [{name: d, path: /tmp}]\ntraining: {steps: 0, lr: -1}\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("training.steps"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("training.lr"));
}

TEST(ParseExperimentSpec, RequiredFieldsAreNamed) {
  EXPECT_THAT(std::string(ErrorOf("datasets: [{name: d, path: /tmp}]\n").message()), HasSubstr("name: is required"));
  EXPECT_THAT(std::string(ErrorOf("name: x\n").message()), HasSubstr("datasets: is required"));
  EXPECT_THAT(std::string(ErrorOf("name: x\ndatasets: [{name: d}]\n").message()),
              HasSubstr("datasets[0].path: is required"));
}

TEST(ParseExperimentSpec, CrossFieldConstraints) {
  EXPECT_THAT(std::string(ErrorOf("name: x\ndatasets: [{name: d, path: /tmp}]\nmodel: {n_embd: 10, n_head: 3}\n").message()),
              HasSubstr("model.n_head: must divide n_embd (10) unless head_dim is set, got 3"));
  EXPECT_THAT(std::string(ErrorOf("name: x\ndatasets: [{name: d, path: /tmp}]\ntraining: {steps: 5, warmup_steps: 9}\n").message()),
              HasSubstr("training.warmup_steps: must not exceed steps (5)"));
  EXPECT_THAT(std::string(ErrorOf("name: x\ndatasets: [{name: d, path: /tmp}]\ntraining: {batch_size: 4, micro_batch_size: 8}\n").message()),
              HasSubstr("training.micro_batch_size: must not exceed batch_size (4)"));
}

TEST(ParseExperimentSpec, Qwen3ShapeFields) {
  auto spec = ParseExperimentSpec(R"(name: q
datasets: [{name: d, path: /a}]
model: {arch: qwen3, n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: 64, head_dim: 32,
        intermediate_size: 96, rope_theta: 10000, norm_eps: 0.000001, tie_embeddings: false}
)",
                                  "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->model.arch, "qwen3");
  EXPECT_EQ(spec->model.n_kv_head, 2);
  EXPECT_EQ(spec->model.head_dim, 32);
  EXPECT_FALSE(spec->model.tie_embeddings);
  EXPECT_DOUBLE_EQ(spec->model.rope_theta, 10000);
  EXPECT_THAT(std::string(ErrorOf("name: q\ndatasets: [{name: d, path: /a}]\nmodel: {arch: qwen3, n_head: 4, n_kv_head: 3}\n").message()),
              HasSubstr("model.n_kv_head: must divide n_head (4), got 3"));
  EXPECT_THAT(std::string(ErrorOf("name: q\ndatasets: [{name: d, path: /a}]\nmodel: {tie_embeddings: yes}\n").message()),
              HasSubstr("model.tie_embeddings: expected true or false"));
}

TEST(ParseExperimentSpec, InitTakesScratchPathOrFromRun) {
  auto spec = ParseExperimentSpec("name: i\ndatasets: [{name: d, path: /a}]\nmodel: {init: /ckpt/dir}\n", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->model.init, "/ckpt/dir");
  spec = ParseExperimentSpec(
      "name: i\ndatasets: [{name: d, path: /a}]\nmodel:\n  init: {from_run: 12, checkpoint: best}\n", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->model.init_from_run, 12);
  EXPECT_EQ(spec->model.init_checkpoint, "best");
  EXPECT_THAT(std::string(ErrorOf("name: i\ndatasets: [{name: d, path: /a}]\nmodel:\n  init: {checkpoint: best}\n").message()),
              HasSubstr("model.init: expected exactly one of from_run (a run id) or from_variant"));
  EXPECT_THAT(std::string(ErrorOf("name: i\ndatasets: [{name: d, path: /a}]\nmodel:\n  init: {from_run: 0}\n").message()),
              HasSubstr("model.init.from_run: expected an integer >= 1"));
}

TEST(ParseExperimentSpec, DatasetRecipeOrPathAndFormats) {
  auto spec = ParseExperimentSpec(
      "name: r\ndatasets:\n  - {name: b, recipe: brown, tokenizer: gpt2}\n  - {name: j, path: /x.jsonl, format: jsonl, field: body}\n",
      "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->datasets[0].recipe, "brown");
  EXPECT_EQ(spec->datasets[0].tokenizer, "gpt2");
  EXPECT_EQ(spec->datasets[1].format, "jsonl");
  EXPECT_EQ(spec->datasets[1].field, "body");
  EXPECT_THAT(std::string(ErrorOf("name: r\ndatasets: [{name: b, recipe: wiki}]\n").message()),
              HasSubstr("datasets[0].recipe: unknown recipe \"wiki\"; expected one of: brown, python-stdlib, math-synth, spam"));
  EXPECT_THAT(std::string(ErrorOf("name: r\ndatasets: [{name: b, recipe: brown, path: /x}]\n").message()),
              HasSubstr("give either recipe or path, not both"));
  EXPECT_THAT(std::string(ErrorOf("name: r\ndatasets: [{name: b, path: /x, format: csv}]\n").message()),
              HasSubstr("datasets[0].format: expected one of text, jsonl, tagged, labelled_jsonl; got \"csv\""));
}

TEST(ParseExperimentSpec, DuplicateNamesAndSeedsAreRejected) {
  EXPECT_THAT(std::string(ErrorOf("name: x\ndatasets: [{name: d, path: /a}, {name: d, path: /b}]\n").message()),
              HasSubstr("duplicate dataset name \"d\""));
  EXPECT_THAT(std::string(ErrorOf("name: x\ndatasets: [{name: d, path: /a}]\nvariants: [{name: v}, {name: v}]\n").message()),
              HasSubstr("duplicate variant name \"v\""));
  EXPECT_THAT(std::string(ErrorOf("name: x\ndatasets: [{name: d, path: /a}]\nseeds: [1, 1]\n").message()),
              HasSubstr("seeds[1]: duplicate seed 1"));
  EXPECT_THAT(std::string(ErrorOf("name: x\ndatasets: [{name: d, path: /a}]\nseeds: [a]\n").message()),
              HasSubstr("seeds[0]: expected an integer >= 0"));
}

TEST(ParseExperimentSpec, TopLevelMustBeAMapping) {
  EXPECT_THAT(std::string(ErrorOf("- a\n- b\n").message()), HasSubstr("expected a mapping at the top level"));
  EXPECT_THAT(std::string(ErrorOf("").message()), HasSubstr("expected a mapping at the top level"));
}

TEST(RunSpecYaml, RoundTripsExactly) {
  RunSpec r;
  r.experiment = "exp";
  r.variant = "v1";
  r.seed = 42;
  r.model.n_layer = 3;
  r.model.dropout = 0.1;
  r.data.name = "code";
  r.data.path = "/tmp/some dir/x: y";
  r.data.glob = "*.py";
  r.data.val_fraction = 0.3;
  r.training.lr = 1.0 / 3.0;
  r.training.steps = 7;
  r.training.warmup_steps = 2;
  r.training.checkpoint_every = 3;
  r.training.micro_batch_size = 2;
  r.model.arch = "qwen3";
  r.model.n_kv_head = 1;
  r.model.tie_embeddings = false;
  r.model.init = "/some/ckpt";
  r.model.init_from_run = 9;
  r.model.init_checkpoint = "best";
  r.data.format = "jsonl";
  r.data.field = "body";
  r.data.tokenizer = "gpt2";
  r.data.max_bytes_per_label = 5000;
  std::string yaml = RunSpecToYaml(r);
  auto back = ParseRunSpec(yaml, "run.yaml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(RunSpecToYaml(*back), yaml);
  EXPECT_EQ(back->data.path, r.data.path);
  EXPECT_EQ(back->training.lr, r.training.lr);  // bit-exact
  EXPECT_EQ(back->model.dropout, 0.1);
  EXPECT_EQ(back->seed, 42);
  EXPECT_EQ(back->model.arch, "qwen3");
  EXPECT_FALSE(back->model.tie_embeddings);
  EXPECT_EQ(back->model.init, "/some/ckpt");
  EXPECT_EQ(back->model.init_from_run, 9);
  EXPECT_EQ(back->model.init_checkpoint, "best");
  EXPECT_EQ(back->training.micro_batch_size, 2);
  EXPECT_EQ(back->data.field, "body");
  EXPECT_EQ(back->data.max_bytes_per_label, 5000);
  EXPECT_EQ(back->training.checkpoint_every, 3);
  EXPECT_EQ(back->data.tokenizer, "gpt2");
}

TEST(RunSpecYaml, RequiresData) {
  auto r = ParseRunSpec("experiment: e\n", "run.yaml");
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("data: is required"));
}

}  // namespace
}  // namespace gwo::spec
