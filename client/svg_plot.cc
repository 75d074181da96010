#include "client/svg_plot.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gwo::client {
namespace {

std::string Hex(Rgb c) { return absl::StrFormat("#%02X%02X%02X", c.r, c.g, c.b); }

// A <text> element; `extra` holds further attributes.
std::string Text(const ChartText& t, const std::string& extra = "") {
  const char* anchor = t.anchor == TextAnchor::kMiddle ? " text-anchor=\"middle\""
                       : t.anchor == TextAnchor::kEnd  ? " text-anchor=\"end\""
                                                       : "";
  std::string size = t.size == 12 ? "" : absl::StrFormat(" font-size=\"%d\"", t.size);
  std::string where = t.vertical ? absl::StrFormat("transform=\"translate(%.1f %.1f) rotate(-90)\"", t.at.x, t.at.y)
                                 : absl::StrFormat("x=\"%.1f\" y=\"%.1f\"", t.at.x, t.at.y);
  return absl::StrCat("<text ", where, anchor, size, extra, ">", XmlEscape(t.text), "</text>");
}

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

std::string RenderSvg(const PlotSpec& spec) {
  const ChartLayout c = LayoutChart(spec);
  std::string s = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"%s\"/>\n%s\n",
      c.width, c.height, c.width, c.height, Hex(c.background), Text(c.title));
  // Axes: grid, the frame over it, tick labels.
  const CanvasRect& a = c.plot_area;
  absl::StrAppendFormat(&s, "<g class=\"axes\" stroke=\"%s\">\n", Hex(c.frame_color));
  for (const ChartSegment& g : c.grid) {
    absl::StrAppendFormat(&s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", g.a.x, g.a.y,
                          g.b.x, g.b.y, Hex(c.grid_color));
  }
  absl::StrAppendFormat(&s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\"/>\n", a.x, a.y,
                        a.w, a.h);
  for (const ChartText& t : c.tick_labels) absl::StrAppend(&s, Text(t, " stroke=\"none\""), "\n");
  absl::StrAppend(&s, "</g>\n", Text(c.x_label), "\n", Text(c.y_label), "\n");
  for (const ChartBand& b : c.bands) {
    std::string d;
    for (const CanvasPoint& p : b.outline) absl::StrAppendFormat(&d, "%s%.2f,%.2f ", d.empty() ? "M" : "L", p.x, p.y);
    absl::StrAppendFormat(&s, "<path class=\"band\" d=\"%sZ\" fill=\"%s\" fill-opacity=\"%.2g\" stroke=\"none\"/>\n", d,
                          Hex(b.color), b.opacity);
  }
  for (const ChartRun& r : c.runs) {
    std::string pts;
    for (const CanvasPoint& p : r.points) absl::StrAppendFormat(&pts, "%.2f,%.2f ", p.x, p.y);
    absl::StrAppendFormat(&s, "<polyline class=\"run\" points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.2g\"/>\n",
                          pts, Hex(r.color), r.width);
  }
  for (const ChartLegendEntry& e : c.legend) {
    absl::StrAppendFormat(&s, "<g class=\"legend\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>%s</g>\n",
                          e.swatch.x, e.swatch.y, e.swatch.w, e.swatch.h, Hex(e.color), Text(e.label));
  }
  s += "</svg>\n";
  return s;
}

}  // namespace gwo::client
