// A small anti-aliasing rasteriser for charts: an RGB canvas drawn with several
// samples per pixel (supersampling), resolved to pixels by averaging. Shapes are
// given in canvas pixels (client/chart.h: (0, 0) is the top-left pixel's corner);
// a sample is covered when its centre is inside the shape. Parts off the canvas
// are clipped. Pure; no I/O.
#ifndef GWO_CLIENT_RASTER_H_
#define GWO_CLIENT_RASTER_H_

#include <cstdint>
#include <vector>

#include "client/chart.h"

namespace gwo::client {

class Canvas {
 public:
  // A width x height canvas (both > 0) filled with `background`, with
  // `supersample` x `supersample` samples per pixel (>= 1).
  Canvas(int width, int height, Rgb background, int supersample = 3);

  int width() const { return width_; }
  int height() const { return height_; }

  // Paints the axis-aligned rectangle [x, x + w) x [y, y + h) opaquely.
  void FillRect(const CanvasRect& r, Rgb color);

  // Blends `color` with `opacity` in [0, 1] over the polygon's inside (even-odd
  // rule; closed implicitly). Each sample is blended at most once per call.
  void FillPolygon(const std::vector<CanvasPoint>& outline, Rgb color, double opacity);

  // Paints the polyline `width` pixels wide opaquely, with round joins and caps.
  // A single point draws a dot.
  void StrokePolyline(const std::vector<CanvasPoint>& points, Rgb color, double width);

  // The pixels: width * height RGB triples, rows top down, each the rounded mean
  // of its samples.
  std::vector<uint8_t> Resolve() const;

 private:
  // Sample rows/columns whose centres lie in [lo, hi) (canvas pixels), clipped.
  void SampleSpan(double lo, double hi, int samples, int* first, int* end) const;
  void Blend(int sx, int sy, Rgb color, double opacity);

  int width_, height_, ss_;
  int sw_, sh_;                  // size in samples
  std::vector<uint8_t> samples_;  // (sh_, sw_, 3)
};

}  // namespace gwo::client

#endif  // GWO_CLIENT_RASTER_H_
