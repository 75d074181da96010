#include "client/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gwo::client {
namespace {

// Colour-blind-safe palette (Okabe-Ito), cycled.
constexpr const char* kColors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                   "#E69F00", "#56B4E9", "#F0E442", "#000000"};
constexpr int kLeft = 80, kRight = 200, kTop = 40, kBottom = 56;  // margins; legend on the right

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void Add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  void Finish() {
    if (lo > hi) lo = 0, hi = 1;
    if (lo == hi) lo -= 0.5, hi += 0.5;
  }
};

// "Nice" tick positions covering [lo, hi], about `count` of them.
std::vector<double> Ticks(double lo, double hi, int count) {
  const double raw = (hi - lo) / count;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push_back(t);
  return out;
}

std::string TickLabel(double v) { return absl::StrFormat("%.4g", std::fabs(v) < 1e-12 ? 0.0 : v); }

}  // namespace

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<BandPoint> SeedBand(const std::vector<std::vector<PlotPoint>>& lines, int samples) {
  std::vector<BandPoint> out;
  if (lines.size() < 2 || samples < 2) return out;
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  for (const auto& l : lines) {
    if (l.empty()) return out;
    lo = std::max(lo, l.front().x);
    hi = std::min(hi, l.back().x);
  }
  if (!(lo < hi)) return out;
  auto at = [](const std::vector<PlotPoint>& l, double x) {
    auto it = std::lower_bound(l.begin(), l.end(), x, [](const PlotPoint& p, double v) { return p.x < v; });
    if (it == l.begin()) return it->y;
    if (it == l.end()) return l.back().y;
    const PlotPoint& b = *it;
    const PlotPoint& a = *(it - 1);
    return b.x == a.x ? b.y : a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x);
  };
  for (int i = 0; i < samples; ++i) {
    const double x = lo + (hi - lo) * i / (samples - 1);
    double sum = 0;
    std::vector<double> ys;
    for (const auto& l : lines) ys.push_back(at(l, x)), sum += ys.back();
    const double mean = sum / ys.size();
    double sq = 0;
    for (double y : ys) sq += (y - mean) * (y - mean);
    out.push_back({x, mean, std::sqrt(sq / (ys.size() - 1))});
  }
  return out;
}

std::string RenderSvg(const PlotSpec& spec) {
  auto ty = [&](double y) { return spec.log_y ? (y > 0 ? std::log10(y) : std::nan("")) : y; };
  Range xr, yr;
  for (const PlotGroup& g : spec.groups) {
    for (const auto& l : g.lines) {
      for (const PlotPoint& p : l) {
        if (std::isfinite(ty(p.y))) xr.Add(p.x), yr.Add(ty(p.y));
      }
    }
    for (const BandPoint& b : g.band) yr.Add(ty(b.mean - b.std)), yr.Add(ty(b.mean + b.std));
  }
  xr.Finish();
  yr.Finish();
  const double pw = spec.width - kLeft - kRight, ph = spec.height - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - xr.lo) / (xr.hi - xr.lo) * pw; };
  auto py = [&](double y) { return kTop + (1 - (y - yr.lo) / (yr.hi - yr.lo)) * ph; };

  std::string s = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%d\" y=\"24\" font-size=\"15\">%s</text>\n",
      spec.width, spec.height, spec.width, spec.height, kLeft, XmlEscape(spec.title));
  // Axes and grid.
  absl::StrAppendFormat(&s, "<g class=\"axes\" stroke=\"#888\">\n<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\"/>\n",
                        kLeft, kTop, pw, ph);
  for (double t : Ticks(xr.lo, xr.hi, 8)) {
    absl::StrAppendFormat(&s, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" stroke=\"none\">%s</text>\n",
                          px(t), kTop, px(t), kTop + ph, px(t), kTop + ph + 16, TickLabel(t));
  }
  for (double t : Ticks(yr.lo, yr.hi, 6)) {
    absl::StrAppendFormat(&s, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                              "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" stroke=\"none\">%s</text>\n",
                          kLeft, py(t), kLeft + pw, py(t), kLeft - 6, py(t) + 4,
                          TickLabel(spec.log_y ? std::pow(10, t) : t));
  }
  absl::StrAppendFormat(&s, "</g>\n<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", kLeft + pw / 2,
                        spec.height - 12, XmlEscape(spec.x_label));
  absl::StrAppendFormat(&s, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">%s%s</text>\n",
                        kTop + ph / 2, XmlEscape(spec.y_label), spec.log_y ? " (log)" : "");
  // Bands under lines.
  for (size_t gi = 0; gi < spec.groups.size(); ++gi) {
    const PlotGroup& g = spec.groups[gi];
    const char* color = kColors[gi % std::size(kColors)];
    std::string upper, lower;
    for (const BandPoint& b : g.band) {
      const double hi = ty(b.mean + b.std), lo = ty(b.mean - b.std);
      if (!std::isfinite(hi) || !std::isfinite(lo)) continue;
      absl::StrAppendFormat(&upper, "%s%.2f,%.2f ", upper.empty() ? "M" : "L", px(b.x), py(hi));
      lower = absl::StrFormat("L%.2f,%.2f ", px(b.x), py(lo)) + lower;
    }
    if (!upper.empty()) {
      absl::StrAppendFormat(&s, "<path class=\"band\" d=\"%s%sZ\" fill=\"%s\" fill-opacity=\"0.2\" stroke=\"none\"/>\n",
                            upper, lower, color);
    }
  }
  for (size_t gi = 0; gi < spec.groups.size(); ++gi) {
    const PlotGroup& g = spec.groups[gi];
    const char* color = kColors[gi % std::size(kColors)];
    for (const auto& l : g.lines) {
      std::string pts;
      for (const PlotPoint& p : l) {
        const double y = ty(p.y);
        if (std::isfinite(p.x) && std::isfinite(y)) absl::StrAppendFormat(&pts, "%.2f,%.2f ", px(p.x), py(y));
      }
      absl::StrAppendFormat(&s, "<polyline class=\"run\" points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\"/>\n",
                            pts, color);
    }
    const double ly = kTop + 10 + 20 * gi;
    absl::StrAppendFormat(&s, "<g class=\"legend\"><rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>"
                              "<text x=\"%.1f\" y=\"%.1f\">%s</text></g>\n",
                          kLeft + pw + 14, ly - 4, color, kLeft + pw + 34, ly + 2, XmlEscape(g.label));
  }
  s += "</svg>\n";
  return s;
}

}  // namespace gwo::client
