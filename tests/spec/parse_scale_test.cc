#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/parse.h"

namespace gwo::spec {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Line numbers matter below: the overrides sit on lines 9-18.
constexpr char kJob[] = R"(name: scaled
scale: cpu
model: {arch: gpt2, n_layer: 2, n_embd: 64, n_head: 2, block_size: 32}
datasets: [{name: brown, recipe: brown, max_bytes: 20000}]
training: {steps: 10, batch_size: 2, lr: 0.001}
variants:
  - {name: base}
  - {name: fact, attention: {kind: factorized}, training: {lr: 0.002}}
scales:
  cpu: {}
  gpu:
    model: {n_layer: 12, n_embd: 768, n_head: 12, block_size: 1024}
    datasets: [{name: brown, max_bytes: 0}]
    training: {steps: 5000, batch_size: 16}
    seeds: [1, 2, 3]
    variants:
      - {name: fact, training: {steps: 6000}}
      - {name: extra, attention: {kind: performer}}
)";

TEST(Scales, DefaultScaleIsTheFilesScale) {
  absl::StatusOr<ExperimentSpec> s = ParseExperimentSpec(kJob, "job.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->model.n_layer, 2);
  EXPECT_EQ(s->model.block_size, 32);
  ASSERT_EQ(s->variants.size(), 2u);
  EXPECT_EQ(s->variants[1].training.steps, 10);
  EXPECT_EQ(s->datasets[0].max_bytes, 20000);
  // The empty scale argument is the same as the file's default.
  absl::StatusOr<ExperimentSpec> same = ParseExperimentSpec(kJob, "job.yaml", "");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->model.n_layer, 2);
}

TEST(Scales, RequestedScaleIsDeepMerged) {
  absl::StatusOr<ExperimentSpec> s = ParseExperimentSpec(kJob, "job.yaml", "gpu");
  ASSERT_TRUE(s.ok()) << s.status();
  // Mappings merge key by key: arch comes from the base, the sizes from the scale.
  EXPECT_EQ(s->model.arch, "gpt2");
  EXPECT_EQ(s->model.n_layer, 12);
  EXPECT_EQ(s->model.n_embd, 768);
  EXPECT_EQ(s->model.block_size, 1024);
  EXPECT_EQ(s->seeds.size(), 3u);
  // Named lists merge by name; the recipe stays, max_bytes is overridden.
  ASSERT_EQ(s->datasets.size(), 1u);
  EXPECT_EQ(s->datasets[0].max_bytes, 0);
  EXPECT_EQ(s->datasets[0].recipe, "brown");
  ASSERT_EQ(s->variants.size(), 3u);
  EXPECT_EQ(s->variants[0].name, "base");
  EXPECT_EQ(s->variants[0].training.steps, 5000);  // the top-level training changed
  EXPECT_EQ(s->variants[1].name, "fact");
  EXPECT_EQ(s->variants[1].attention.kind, "factorized");
  EXPECT_EQ(s->variants[1].training.steps, 6000);
  EXPECT_DOUBLE_EQ(s->variants[1].training.lr, 0.002);
  EXPECT_EQ(s->variants[1].training.batch_size, 16);
  EXPECT_EQ(s->variants[2].name, "extra");  // a new name is appended
  EXPECT_EQ(s->variants[2].attention.kind, "performer");
}

TEST(Scales, ErrorsInOverridesPointAtTheOverride) {
  std::string job = kJob;
  job.replace(job.find("steps: 5000"), 11, "steps: -5");
  absl::Status s = ParseExperimentSpec(job, "job.yaml", "gpu").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("job.yaml:14:"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("training.steps"));
  // The cpu scale does not see the bad value.
  EXPECT_TRUE(ParseExperimentSpec(job, "job.yaml", "cpu").ok());
}

TEST(Scales, UnknownOrMissingScalesAreErrors) {
  absl::Status s = ParseExperimentSpec(kJob, "job.yaml", "tpu").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("job.yaml:10:"), HasSubstr("no scale \"tpu\""), HasSubstr("cpu, gpu")));

  std::string wrong_default = kJob;
  wrong_default.replace(wrong_default.find("scale: cpu"), 10, "scale: big");
  s = ParseExperimentSpec(wrong_default, "job.yaml").status();
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("job.yaml:2:8: scale"), HasSubstr("\"big\"")));

  std::string no_default = kJob;
  no_default.erase(no_default.find("scale: cpu\n"), 11);
  s = ParseExperimentSpec(no_default, "job.yaml").status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("scale: is required with scales (one of cpu, gpu"));
  EXPECT_TRUE(ParseExperimentSpec(no_default, "job.yaml", "gpu").ok());

  const std::string plain = "name: x\ndatasets: [{name: d, path: /tmp}]\n";
  EXPECT_TRUE(ParseExperimentSpec(plain, "job.yaml").ok());
  s = ParseExperimentSpec(plain, "job.yaml", "gpu").status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("scales: is required for the requested scale \"gpu\""));
  s = ParseExperimentSpec(plain + "scale: cpu\n", "job.yaml").status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("job.yaml:3:8: scale: names a scale"));
}

TEST(Scales, OverridesMustBeMappingsAndCannotRenameOrNest) {
  const std::string head = "name: x\nscale: a\ndatasets: [{name: d, path: /tmp}]\n";
  absl::Status s = ParseExperimentSpec(head + "scales: {a: [1, 2]}\n", "job.yaml").status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("scales.a: expected a mapping of overrides"));
  s = ParseExperimentSpec(head + "scales: {a: {name: y}}\n", "job.yaml").status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("scales.a.name: cannot be overridden"));
  s = ParseExperimentSpec(head + "scales: {a: {scales: {}}}\n", "job.yaml").status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("scales.a.scales: cannot be overridden"));
  s = ParseExperimentSpec(head + "scales: [a]\n", "job.yaml").status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("scales: expected a mapping of scale names"));
  // An unknown key inside an override is still rejected after the merge.
  s = ParseExperimentSpec(head + "scales: {a: {training: {stepz: 3}}}\n", "job.yaml").status();
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("job.yaml:4:"), HasSubstr("stepz")));
  // An empty scale changes nothing.
  EXPECT_TRUE(ParseExperimentSpec(head + "scales: {a: }\n", "job.yaml").ok());
}

}  // namespace
}  // namespace gwo::spec
