// Stages (a variant's init from another variant's run) and resources in job.yaml.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/parse.h"

namespace gwo::spec {
namespace {

using ::testing::HasSubstr;

const std::string kHead = "name: staged\ndatasets: [{name: d, path: /tmp/x}]\nseeds: [0, 1]\n";

std::string ErrorOf(const std::string& yaml) {
  absl::StatusOr<ExperimentSpec> s = ParseExperimentSpec(yaml, "job.yaml");
  return s.ok() ? "" : std::string(s.status().message());
}

TEST(Stages, VariantInitFromVariantExpandsToEachRun) {
  absl::StatusOr<ExperimentSpec> s = ParseExperimentSpec(kHead + R"(variants:
  - name: baseline
  - name: finetune
    init: {from_variant: baseline, checkpoint: best}
)",
                                                         "job.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->variants[1].init.has_value());
  EXPECT_FALSE(s->variants[0].init.has_value());
  std::vector<RunSpec> runs = ExpandRuns(*s);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].model.init_from_variant, "");
  EXPECT_EQ(runs[0].model.init, "scratch");
  EXPECT_EQ(runs[2].variant, "finetune");
  EXPECT_EQ(runs[2].model.init_from_variant, "baseline");
  EXPECT_EQ(runs[2].model.init_checkpoint, "best");
}

TEST(Stages, UnresolvedStageRoundTripsThroughTheRunSpec) {
  absl::StatusOr<ExperimentSpec> s = ParseExperimentSpec(
      kHead + "variants: [{name: a}, {name: b, init: {from_variant: a}}]\n", "job.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  RunSpec run = ExpandRuns(*s)[2];
  std::string yaml = RunSpecToYaml(run);
  absl::StatusOr<RunSpec> back = ParseRunSpec(yaml, "run.yaml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(back->model.init_from_variant, "a");
  EXPECT_EQ(back->model.init, "");
  EXPECT_EQ(RunSpecToYaml(*back), yaml);
  // Resolved: the path and the run it came from travel with the provenance.
  back->model.init = "/w/out/final.ckpt";
  back->model.init_from_run = 12;
  yaml = RunSpecToYaml(*back);
  absl::StatusOr<RunSpec> resolved = ParseRunSpec(yaml, "run.yaml");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->model.init, "/w/out/final.ckpt");
  EXPECT_EQ(resolved->model.init_from_run, 12);
  EXPECT_EQ(resolved->model.init_from_variant, "a");
  EXPECT_EQ(RunSpecToYaml(*resolved), yaml);
}

TEST(Stages, UnknownVariantIsAnErrorAtItsPosition) {
  EXPECT_THAT(ErrorOf(kHead + "variants:\n  - name: a\n  - name: b\n    init: {from_variant: nope}\n"),
              HasSubstr("job.yaml:7:11: variants[1].init.from_variant: no variant named \"nope\"; expected one "
                        "of: a, b"));
}

TEST(Stages, SelfDependencyIsAnError) {
  EXPECT_THAT(ErrorOf(kHead + "variants:\n  - name: a\n    init: {from_variant: a}\n"),
              HasSubstr("job.yaml:6:11: variants[0].init.from_variant: variant \"a\" cannot depend on itself"));
}

TEST(Stages, ExperimentWideFromVariantMakesThatVariantDependOnItself) {
  EXPECT_THAT(ErrorOf(kHead + "model: {init: {from_variant: a}}\nvariants: [{name: a}, {name: b}]\n"),
              HasSubstr("model.init.from_variant: variant \"a\" cannot depend on itself"));
}

TEST(Stages, CycleIsAnErrorNamingTheCycle) {
  EXPECT_THAT(ErrorOf(kHead + R"(variants:
  - name: a
    init: {from_variant: c}
  - name: b
    init: {from_variant: a}
  - name: c
    init: {from_variant: b}
)"),
              HasSubstr("stages form a cycle: a -> c -> b -> a"));
}

TEST(Stages, InitNeedsExactlyOneOfFromRunAndFromVariant) {
  EXPECT_THAT(ErrorOf(kHead + "variants: [{name: a}, {name: b, init: {from_variant: a, from_run: 3}}]\n"),
              HasSubstr("expected exactly one of from_run (a run id) or from_variant"));
  EXPECT_THAT(ErrorOf(kHead + "variants: [{name: a}, {name: b, init: {checkpoint: best}}]\n"),
              HasSubstr("expected exactly one of from_run"));
}

TEST(Stages, VariantInitCanBeAPath) {
  absl::StatusOr<ExperimentSpec> s =
      ParseExperimentSpec(kHead + "variants: [{name: a}, {name: b, init: /ckpt/model.safetensors}]\n", "job.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(ExpandRuns(*s)[2].model.init, "/ckpt/model.safetensors");
  EXPECT_EQ(ExpandRuns(*s)[0].model.init, "scratch");
}

TEST(Resources, ReadsEveryField) {
  absl::StatusOr<ExperimentSpec> s = ParseExperimentSpec(
      kHead + "resources: {gpus: 2, priority: 7, project: vision, gpu_memory_gb: 40}\n", "job.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->resources.gpus, 2);
  EXPECT_EQ(s->resources.priority, 7);
  EXPECT_EQ(s->resources.project, "vision");
  EXPECT_EQ(s->resources.gpu_memory_gb, 40);
}

TEST(Resources, DefaultsToTheDefaultProject) {
  absl::StatusOr<ExperimentSpec> s = ParseExperimentSpec(kHead, "job.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->resources.project, "default");
  EXPECT_EQ(s->resources.gpus, 0);
}

TEST(Resources, BadValuesAreErrors) {
  EXPECT_THAT(ErrorOf(kHead + "resources: {project: \"a b\"}\n"),
              HasSubstr("resources.project: expected 1-64 characters of [A-Za-z0-9_.-], got \"a b\""));
  EXPECT_THAT(ErrorOf(kHead + "resources: {gpu_memory_gb: 8}\n"),
              HasSubstr("resources.gpu_memory_gb: needs gpus >= 1"));
  EXPECT_THAT(ErrorOf(kHead + "resources: {gpus: 65}\n"), HasSubstr("resources.gpus: expected"));
  EXPECT_THAT(ErrorOf(kHead + "resources: {cpus: 1}\n"), HasSubstr("resources"));
}

}  // namespace
}  // namespace gwo::spec
