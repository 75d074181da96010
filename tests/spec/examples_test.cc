#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "spec/parse.h"

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
    auto spec = ParseExperimentSpec(text.str(), entry.path().filename().string());
    EXPECT_TRUE(spec.ok()) << spec.status();
    ++count;
  }
  EXPECT_GE(count, 3);
}

}  // namespace
}  // namespace gwo::spec
