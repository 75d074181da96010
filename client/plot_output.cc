#include "client/plot_output.h"

#include <cerrno>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/png_plot.h"
#include "client/svg_plot.h"

namespace gwo::client {

absl::StatusOr<PlotFormat> ChoosePlotFormat(const std::string& path, const std::string& format) {
  const bool svg_ext = absl::EndsWithIgnoreCase(path, ".svg"), png_ext = absl::EndsWithIgnoreCase(path, ".png");
  const std::string f = absl::AsciiStrToLower(format);
  if (f.empty()) {
    if (svg_ext) return PlotFormat::kSvg;
    if (png_ext) return PlotFormat::kPng;
    return absl::InvalidArgumentError(absl::StrCat("-o must name a .svg or .png file (or give --format svg|png), got \"",
                                                   path, "\""));
  }
  if (f != "svg" && f != "png") {
    return absl::InvalidArgumentError(absl::StrCat("--format must be svg or png, got \"", format, "\""));
  }
  if ((f == "svg" && png_ext) || (f == "png" && svg_ext)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--format ", f, " contradicts the extension of \"", path, "\"; expected a .", f, " file"));
  }
  return f == "svg" ? PlotFormat::kSvg : PlotFormat::kPng;
}

absl::Status WritePlot(const PlotSpec& spec, PlotFormat format, const std::string& path) {
  std::string bytes;
  if (format == PlotFormat::kPng) {
    absl::StatusOr<std::string> png = RenderPng(spec);
    if (!png.ok()) return png.status();
    bytes = *std::move(png);
  } else {
    bytes = RenderSvg(spec);
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", path));
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (written != bytes.size() || !closed) {
    return absl::ErrnoToStatus(written != bytes.size() ? write_errno : errno, absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace gwo::client
