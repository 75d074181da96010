#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "spec/parse.h"
#include "yaml-cpp/yaml.h"

namespace gwo::spec {
namespace {

// Every ready example under examples/ is a valid job.yaml.
TEST(Examples, EveryExampleParses) {
  const std::filesystem::path dir = std::filesystem::path(GWO_SOURCE_DIR_FOR_TESTS) / "examples";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string file = entry.path().filename().string();
    auto spec = ParseExperimentSpec(text.str(), file);
    EXPECT_TRUE(spec.ok()) << spec.status();
    // And at each of its scales.
    const YAML::Node scales = YAML::Load(text.str())["scales"];
    if (scales.IsMap()) {
      for (const auto& s : scales) {
        const std::string scale = s.first.Scalar();
        auto scaled = ParseExperimentSpec(text.str(), file, scale);
        EXPECT_TRUE(scaled.ok()) << file << " at scale " << scale << ": " << scaled.status();
      }
    }
    ++count;
  }
  EXPECT_GE(count, 8);
}

// The five experiments of DESIGN.md each have an example with a cpu and a gpu scale;
// the cpu scale is small enough for tests/e2e/examples_test.sh, the gpu one is not.
TEST(Examples, TheFiveExperimentsHaveACpuAndAGpuScale) {
  const std::filesystem::path dir = std::filesystem::path(GWO_SOURCE_DIR_FOR_TESTS) / "examples";
  for (const char* name : {"factorized-lora", "masks-distill", "performer-nsa-distill",
                           "natural-side-by-side", "dual-form-icl"}) {
    std::ifstream in(dir / (std::string(name) + ".yaml"));
    ASSERT_TRUE(in) << name;
    std::stringstream text;
    text << in.rdbuf();
    auto cpu = ParseExperimentSpec(text.str(), name);  // the default scale
    auto gpu = ParseExperimentSpec(text.str(), name, "gpu");
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    EXPECT_LE(cpu->model.n_embd, 64) << name;
    EXPECT_LE(cpu->model.n_layer, 2) << name;
    EXPECT_EQ(cpu->resources.gpus, 0) << name;
    EXPECT_GE(gpu->resources.gpus, 1) << name;
    EXPECT_GE(gpu->model.n_embd, 768) << name;
    for (const Variant& v : cpu->variants) EXPECT_LE(v.training.steps, 30) << name << " " << v.name;
    for (const DataSpec& d : cpu->datasets) {
      EXPECT_GT(d.max_bytes, 0) << name << " " << d.name;
      EXPECT_LE(d.max_bytes, 500000) << name << " " << d.name;
    }
  }
}

}  // namespace
}  // namespace gwo::spec
