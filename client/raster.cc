#include "client/raster.h"

#include <algorithm>
#include <cmath>

namespace gwo::client {

Canvas::Canvas(int width, int height, Rgb background, int supersample)
    : width_(width), height_(height), ss_(supersample), sw_(width * supersample), sh_(height * supersample) {
  samples_.resize(static_cast<size_t>(sw_) * sh_ * 3);
  for (size_t i = 0; i < samples_.size(); i += 3) {
    samples_[i] = background.r, samples_[i + 1] = background.g, samples_[i + 2] = background.b;
  }
}

void Canvas::SampleSpan(double lo, double hi, int samples, int* first, int* end) const {
  // Sample i has its centre at (i + 0.5) / ss_; keep lo <= centre < hi.
  *first = std::max(0, static_cast<int>(std::ceil(lo * ss_ - 0.5)));
  *end = std::min(samples, static_cast<int>(std::ceil(hi * ss_ - 0.5)));
}

void Canvas::Blend(int sx, int sy, Rgb color, double opacity) {
  uint8_t* p = &samples_[(static_cast<size_t>(sy) * sw_ + sx) * 3];
  const uint8_t c[3] = {color.r, color.g, color.b};
  for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>(std::lround(p[k] + (c[k] - p[k]) * opacity));
}

void Canvas::FillRect(const CanvasRect& r, Rgb color) {
  int x0, x1, y0, y1;
  SampleSpan(r.x, r.x + r.w, sw_, &x0, &x1);
  SampleSpan(r.y, r.y + r.h, sh_, &y0, &y1);
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) Blend(x, y, color, 1.0);
  }
}

void Canvas::FillPolygon(const std::vector<CanvasPoint>& outline, Rgb color, double opacity) {
  if (outline.size() < 3) return;
  double top = outline[0].y, bottom = outline[0].y;
  for (const CanvasPoint& p : outline) top = std::min(top, p.y), bottom = std::max(bottom, p.y);
  int y0, y1;
  SampleSpan(top, bottom, sh_, &y0, &y1);
  std::vector<double> crossings;
  for (int sy = y0; sy < y1; ++sy) {
    const double y = (sy + 0.5) / ss_;
    crossings.clear();
    for (size_t i = 0; i < outline.size(); ++i) {
      const CanvasPoint& a = outline[i];
      const CanvasPoint& b = outline[(i + 1) % outline.size()];
      // Half-open in y so a vertex shared by two edges counts once.
      if ((a.y <= y) != (b.y <= y)) crossings.push_back(a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x));
    }
    std::sort(crossings.begin(), crossings.end());
    for (size_t i = 0; i + 1 < crossings.size(); i += 2) {
      int x0, x1;
      SampleSpan(crossings[i], crossings[i + 1], sw_, &x0, &x1);
      for (int sx = x0; sx < x1; ++sx) Blend(sx, sy, color, opacity);
    }
  }
}

void Canvas::StrokePolyline(const std::vector<CanvasPoint>& points, Rgb color, double width) {
  const double r = width / 2, r2 = r * r;
  for (size_t i = 0; i < points.size(); ++i) {
    // Segment a-b as a capsule of radius r; a lone point is a disc.
    const CanvasPoint a = points[i], b = points[std::min(i + 1, points.size() - 1)];
    if (i + 1 == points.size() && points.size() > 1) break;
    int x0, x1, y0, y1;
    SampleSpan(std::min(a.x, b.x) - r, std::max(a.x, b.x) + r, sw_, &x0, &x1);
    SampleSpan(std::min(a.y, b.y) - r, std::max(a.y, b.y) + r, sh_, &y0, &y1);
    const double dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
    for (int sy = y0; sy < y1; ++sy) {
      const double y = (sy + 0.5) / ss_;
      for (int sx = x0; sx < x1; ++sx) {
        const double x = (sx + 0.5) / ss_;
        // Distance from (x, y) to the closest point of the segment.
        const double t = len2 > 0 ? std::clamp(((x - a.x) * dx + (y - a.y) * dy) / len2, 0.0, 1.0) : 0.0;
        const double ex = x - (a.x + t * dx), ey = y - (a.y + t * dy);
        if (ex * ex + ey * ey <= r2) Blend(sx, sy, color, 1.0);
      }
    }
  }
}

std::vector<uint8_t> Canvas::Resolve() const {
  std::vector<uint8_t> out(static_cast<size_t>(width_) * height_ * 3);
  const int n = ss_ * ss_;
  for (int y = 0; y < height_; ++y) {
    for (int x = 0; x < width_; ++x) {
      int sum[3] = {0, 0, 0};
      for (int j = 0; j < ss_; ++j) {
        const uint8_t* row = &samples_[(static_cast<size_t>(y * ss_ + j) * sw_ + x * ss_) * 3];
        for (int i = 0; i < ss_ * 3; ++i) sum[i % 3] += row[i];
      }
      for (int k = 0; k < 3; ++k) out[(static_cast<size_t>(y) * width_ + x) * 3 + k] = static_cast<uint8_t>((sum[k] + n / 2) / n);
    }
  }
  return out;
}

}  // namespace gwo::client
