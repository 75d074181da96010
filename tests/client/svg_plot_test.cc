// SVG output structure and the seed band.
#include "client/svg_plot.h"

#include <cmath>
#include <regex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::client {
namespace {

using ::testing::HasSubstr;

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

PlotSpec TwoGroups() {
  PlotSpec spec;
  spec.title = "exp-1: val_loss <&>";
  spec.y_label = "val_loss";
  std::vector<std::vector<PlotPoint>> a = {{{0, 4}, {10, 3}, {20, 2.5}}, {{0, 4.2}, {10, 3.2}, {20, 2.7}}};
  spec.groups.push_back({"base / brown", a, SeedBand(a, 5)});
  spec.groups.push_back({"gwo / brown", {{{0, 4.1}, {20, 2.2}}}, {}});
  return spec;
}

TEST(SvgPlotTest, OnePolylinePerRunOneBandPerMultiSeedGroupAndALegend) {
  std::string svg = RenderSvg(TwoGroups());
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_THAT(svg, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_EQ(Count(svg, "<polyline class=\"run\""), 3);
  EXPECT_EQ(Count(svg, "<path class=\"band\""), 1);
  EXPECT_EQ(Count(svg, "<g class=\"legend\">"), 2);
  EXPECT_THAT(svg, HasSubstr(">gwo / brown</text>"));
  EXPECT_THAT(svg, HasSubstr("exp-1: val_loss &lt;&amp;&gt;"));  // escaped
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  // Balanced elements: every opened <g> and <svg> is closed.
  EXPECT_EQ(Count(svg, "<g "), Count(svg, "</g>"));
  EXPECT_EQ(Count(svg, "<svg "), Count(svg, "</svg>"));
}

TEST(SvgPlotTest, CoordinatesStayInsideTheCanvas) {
  PlotSpec spec = TwoGroups();
  std::string svg = RenderSvg(spec);
  std::regex pt("(-?[0-9.]+),(-?[0-9.]+) ");
  int checked = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), pt); it != std::sregex_iterator(); ++it) {
    double x = std::stod((*it)[1]), y = std::stod((*it)[2]);
    EXPECT_GE(x, 0);
    EXPECT_LE(x, spec.width);
    EXPECT_GE(y, 0);
    EXPECT_LE(y, spec.height);
    ++checked;
  }
  EXPECT_GT(checked, 6);
}

TEST(SvgPlotTest, NonFiniteAndLogNonPositivePointsAreSkipped) {
  PlotSpec spec;
  spec.log_y = true;
  spec.groups.push_back({"g", {{{0, 10}, {1, std::nan("")}, {2, -1}, {3, 100}}}, {}});
  std::string svg = RenderSvg(spec);
  EXPECT_THAT(svg, ::testing::Not(HasSubstr("nan")));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("class=\"run\" points=\"([^\"]*)\"")));
  EXPECT_EQ(Count(m[1], ","), 2);  // only (0, 10) and (3, 100)
}

TEST(SeedBandTest, MeanAndSampleStdAcrossSeedsOnTheCommonRange) {
  std::vector<std::vector<PlotPoint>> lines = {{{0, 1}, {10, 3}}, {{0, 3}, {10, 5}}, {{5, 2}, {20, 2}}};
  std::vector<BandPoint> band = SeedBand(lines, 3);
  ASSERT_EQ(band.size(), 3u);
  EXPECT_DOUBLE_EQ(band.front().x, 5);  // the overlap of [0,10], [0,10], [5,20]
  EXPECT_DOUBLE_EQ(band.back().x, 10);
  // At x = 5: 2, 4, 2 -> mean 8/3, sample std sqrt(((2/3)^2 * 2 + (4/3)^2) / 2) = sqrt(4/3).
  EXPECT_NEAR(band.front().mean, 8.0 / 3.0, 1e-12);
  EXPECT_NEAR(band.front().std, std::sqrt(4.0 / 3.0), 1e-12);
  EXPECT_TRUE(SeedBand({{{0, 1}, {1, 2}}}).empty());  // one seed: no band
}

}  // namespace
}  // namespace gwo::client
