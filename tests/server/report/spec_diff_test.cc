#include "server/report/spec_diff.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::server::report {
namespace {

TEST(FlattenYamlTest, DottedPathsAndIndexes) {
  auto f = FlattenYaml("a:\n  b: 1\n  c: [x, y]\nd: {}\ne:\n").value();
  EXPECT_EQ(f.at("a.b"), "1");
  EXPECT_EQ(f.at("a.c[0]"), "x");
  EXPECT_EQ(f.at("a.c[1]"), "y");
  EXPECT_EQ(f.at("d"), "{}");
  EXPECT_EQ(f.at("e"), "null");
}

TEST(DiffSpecsTest, OnlyDifferingKeysSorted) {
  auto d = DiffSpecs({"seed: 1\nattention: {kind: standard}\nlr: 0.1\n",
                      "seed: 2\nattention: {kind: factorized, rank: 4}\nlr: 0.1\n"})
               .value();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].key, "attention.kind");
  EXPECT_THAT(d[0].values, ::testing::ElementsAre("standard", "factorized"));
  EXPECT_EQ(d[1].key, "attention.rank");
  EXPECT_THAT(d[1].values, ::testing::ElementsAre("", "4"));
  EXPECT_EQ(d[2].key, "seed");
}

TEST(DiffSpecsTest, MalformedSpecNamesItsIndex) {
  auto d = DiffSpecs({"a: 1\n", "a: [\n"});
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), ::testing::HasSubstr("spec 1: malformed YAML"));
}

}  // namespace
}  // namespace gwo::server::report
