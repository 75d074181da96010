// Choosing SVG or PNG for gwoctl plot, and writing the file.
#include "client/plot_output.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/png_reader.h"

namespace gwo::client {
namespace {

using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

PlotSpec Small() {
  PlotSpec spec;
  spec.title = "t";
  spec.groups.push_back({"g", {{{0, 1}, {5, 2}}}, {}});
  return spec;
}

TEST(ChoosePlotFormatTest, ByExtensionUnlessAFormatIsGiven) {
  EXPECT_EQ(*ChoosePlotFormat("loss.svg", ""), PlotFormat::kSvg);
  EXPECT_EQ(*ChoosePlotFormat("loss.png", ""), PlotFormat::kPng);
  EXPECT_EQ(*ChoosePlotFormat("dir/LOSS.PNG", ""), PlotFormat::kPng);
  EXPECT_EQ(*ChoosePlotFormat("loss", "png"), PlotFormat::kPng);
  EXPECT_EQ(*ChoosePlotFormat("loss.out", "SVG"), PlotFormat::kSvg);
  EXPECT_EQ(*ChoosePlotFormat("loss.png", "png"), PlotFormat::kPng);
}

TEST(ChoosePlotFormatTest, UnknownOrContradictoryFormatsAreClearErrors) {
  auto no_ext = ChoosePlotFormat("loss.jpg", "");
  ASSERT_FALSE(no_ext.ok());
  EXPECT_THAT(std::string(no_ext.status().message()), HasSubstr("-o must name a .svg or .png file"));
  auto bad = ChoosePlotFormat("loss.png", "gif");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("--format must be svg or png, got \"gif\""));
  auto clash = ChoosePlotFormat("loss.svg", "png");
  ASSERT_FALSE(clash.ok());
  EXPECT_THAT(std::string(clash.status().message()), HasSubstr("expected a .png file"));
}

TEST(WritePlotTest, WritesBothFormats) {
  const std::string dir = ::testing::TempDir();
  ASSERT_TRUE(WritePlot(Small(), PlotFormat::kSvg, dir + "/plot_output_test.svg").ok());
  EXPECT_EQ(Slurp(dir + "/plot_output_test.svg").rfind("<?xml", 0), 0u);
  ASSERT_TRUE(WritePlot(Small(), PlotFormat::kPng, dir + "/plot_output_test.png").ok());
  testing::DecodedPng png = testing::DecodePng(Slurp(dir + "/plot_output_test.png"));
  EXPECT_EQ(png.error, "");
  EXPECT_EQ(png.width, 900u);
}

TEST(WritePlotTest, AnUnwritablePathIsAnErrorNamingPathAndReason) {
  absl::Status missing = WritePlot(Small(), PlotFormat::kPng, "/nonexistent-gwo-dir/loss.png");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()),
              HasSubstr("cannot write /nonexistent-gwo-dir/loss.png: No such file or directory"));
  absl::Status dir = WritePlot(Small(), PlotFormat::kSvg, ::testing::TempDir());
  EXPECT_FALSE(dir.ok());
  EXPECT_THAT(std::string(dir.message()), HasSubstr("Is a directory"));
}

}  // namespace
}  // namespace gwo::client
