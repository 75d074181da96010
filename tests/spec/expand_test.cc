#include "gtest/gtest.h"
#include "spec/experiment_spec.h"
#include "spec/parse.h"

namespace gwo::spec {
namespace {

TEST(ExpandRuns, CrossesDatasetsVariantsAndSeeds) {
  auto spec = ParseExperimentSpec(R"(name: grid
datasets: [{name: a, path: /a}, {name: b, path: /b}]
training: {steps: 10}
variants:
  - name: base
  - name: fast
    training: {lr: 0.01}
seeds: [7, 8, 9]
)",
                                  "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::vector<RunSpec> runs = ExpandRuns(*spec);
  ASSERT_EQ(runs.size(), 2u * 2u * 3u);
  EXPECT_EQ(RunName(runs[0]), "base/a/seed7");
  EXPECT_EQ(RunName(runs[3]), "fast/a/seed7");
  EXPECT_EQ(RunName(runs[11]), "fast/b/seed9");
  EXPECT_EQ(runs[11].data.path, "/b");
  EXPECT_DOUBLE_EQ(runs[3].training.lr, 0.01);
  EXPECT_DOUBLE_EQ(runs[0].training.lr, TrainingSpec{}.lr);
  for (const RunSpec& r : runs) {
    EXPECT_EQ(r.experiment, "grid");
    EXPECT_EQ(r.training.steps, 10);
  }
}

TEST(ExpandRuns, RunSpecsSurviveSerialization) {
  auto spec = ParseExperimentSpec("name: s\ndatasets: [{name: a, path: /a}]\nseeds: [1, 2]\n", "job.yaml");
  ASSERT_TRUE(spec.ok());
  for (const RunSpec& r : ExpandRuns(*spec)) {
    auto back = ParseRunSpec(RunSpecToYaml(r), "run.yaml");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(RunName(*back), RunName(r));
  }
}

}  // namespace
}  // namespace gwo::spec
