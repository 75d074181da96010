#include "client/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gwo::client {

std::string ProgressBar(int64_t step, int64_t total, int width) {
  if (total <= 0) return absl::StrCat("[", std::string(width, '-'), "]   -%");
  const double f = std::clamp(static_cast<double>(step) / total, 0.0, 1.0);
  const int filled = static_cast<int>(f * width + 1e-9);
  return absl::StrFormat("[%s%s] %3d%%", std::string(filled, '#'), std::string(width - filled, '-'),
                         static_cast<int>(f * 100 + 1e-9));
}

std::string FormatEta(absl::Duration d) {
  if (d < absl::ZeroDuration() || d == absl::InfiniteDuration()) return "-";
  const int64_t s = absl::ToInt64Seconds(d + absl::Milliseconds(500));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

void RateEstimator::Observe(absl::Time t, int64_t step) {
  if (!has_last_ || step < last_step_) {
    has_last_ = true;
    last_time_ = t;
    last_step_ = step;
    rate_ = 0;
    return;
  }
  const double dt = absl::ToDoubleSeconds(t - last_time_);
  if (dt <= 0) return;
  const double r = (step - last_step_) / dt;
  rate_ = rate_ == 0 ? r : smoothing_ * r + (1 - smoothing_) * rate_;
  last_time_ = t;
  last_step_ = step;
}

absl::Duration RateEstimator::Eta(int64_t total) const {
  if (rate_ <= 0) return absl::InfiniteDuration();
  return absl::Seconds(std::max<int64_t>(total - last_step_, 0) / rate_);
}

}  // namespace gwo::client
