#include "client/chart.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "absl/strings/str_format.h"

namespace gwo::client {
namespace {

// Colour-blind-safe palette (Okabe-Ito), cycled.
constexpr Rgb kColors[] = {{0x00, 0x72, 0xB2}, {0xD5, 0x5E, 0x00}, {0x00, 0x9E, 0x73}, {0xCC, 0x79, 0xA7},
                           {0xE6, 0x9F, 0x00}, {0x56, 0xB4, 0xE9}, {0xF0, 0xE4, 0x42}, {0x00, 0x00, 0x00}};
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

ChartLayout LayoutChart(const PlotSpec& spec) {
  auto ty = [&](double y) { return spec.log_y ? (y > 0 ? std::log10(y) : std::nan("")) : y; };
  Range xr, yr;
  for (const PlotGroup& g : spec.groups) {
    for (const auto& l : g.lines) {
      for (const PlotPoint& p : l) {
        if (std::isfinite(p.x) && std::isfinite(ty(p.y))) xr.Add(p.x), yr.Add(ty(p.y));
      }
    }
    for (const BandPoint& b : g.band) yr.Add(ty(b.mean - b.std)), yr.Add(ty(b.mean + b.std));
  }
  xr.Finish();
  yr.Finish();
  const double pw = spec.width - kLeft - kRight, ph = spec.height - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - xr.lo) / (xr.hi - xr.lo) * pw; };
  auto py = [&](double y) { return kTop + (1 - (y - yr.lo) / (yr.hi - yr.lo)) * ph; };

  ChartLayout c;
  c.width = spec.width;
  c.height = spec.height;
  c.title = {{kLeft, 24}, spec.title, TextAnchor::kStart, 15};
  c.plot_area = {kLeft, kTop, pw, ph};
  for (double t : Ticks(xr.lo, xr.hi, 8)) {
    c.grid.push_back({{px(t), kTop}, {px(t), kTop + ph}});
    c.tick_labels.push_back({{px(t), kTop + ph + 16}, TickLabel(t), TextAnchor::kMiddle});
  }
  for (double t : Ticks(yr.lo, yr.hi, 6)) {
    c.grid.push_back({{kLeft, py(t)}, {kLeft + pw, py(t)}});
    c.tick_labels.push_back({{kLeft - 6.0, py(t) + 4}, TickLabel(spec.log_y ? std::pow(10, t) : t), TextAnchor::kEnd});
  }
  c.x_label = {{kLeft + pw / 2, spec.height - 12.0}, spec.x_label, TextAnchor::kMiddle};
  c.y_label = {{18, kTop + ph / 2}, spec.y_label + (spec.log_y ? " (log)" : ""), TextAnchor::kMiddle, 12, true};

  for (size_t gi = 0; gi < spec.groups.size(); ++gi) {
    const PlotGroup& g = spec.groups[gi];
    const Rgb color = kColors[gi % std::size(kColors)];
    std::vector<CanvasPoint> upper, lower;
    for (const BandPoint& b : g.band) {
      const double hi = ty(b.mean + b.std), lo = ty(b.mean - b.std);
      if (!std::isfinite(b.x) || !std::isfinite(hi) || !std::isfinite(lo)) continue;
      upper.push_back({px(b.x), py(hi)});
      lower.push_back({px(b.x), py(lo)});
    }
    if (!upper.empty()) {
      upper.insert(upper.end(), lower.rbegin(), lower.rend());
      c.bands.push_back({std::move(upper), color});
    }
    for (const auto& l : g.lines) {
      ChartRun run{{}, color};
      for (const PlotPoint& p : l) {
        const double y = ty(p.y);
        if (std::isfinite(p.x) && std::isfinite(y)) run.points.push_back({px(p.x), py(y)});
      }
      c.runs.push_back(std::move(run));
    }
    const double ly = kTop + 10 + 20 * gi;
    c.legend.push_back({{kLeft + pw + 14, ly - 4, 14, 4}, color, {{kLeft + pw + 34, ly + 2}, g.label}});
  }
  return c;
}

}  // namespace gwo::client
