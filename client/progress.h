// Progress display helpers for `gwoctl watch`: bars, rates and ETAs. Pure.
#ifndef GWO_CLIENT_PROGRESS_H_
#define GWO_CLIENT_PROGRESS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace gwo::client {

// "[#######-------]  50%": `width` cells between the brackets, filled by
// step/total (clamped to [0, 1]); total <= 0 shows an empty bar and "  -%".
std::string ProgressBar(int64_t step, int64_t total, int width = 20);

// "1h02m", "3m05s", "42s"; "-" for a negative or infinite duration.
std::string FormatEta(absl::Duration d);

// Steps per second of one run, smoothed: each observation of (time, step) after
// the first updates an exponential moving average of the rate over the interval.
// A step that goes backwards (a new attempt resumed earlier) restarts the estimate.
class RateEstimator {
 public:
  explicit RateEstimator(double smoothing = 0.3) : smoothing_(smoothing) {}
  void Observe(absl::Time t, int64_t step);
  // Steps per second; 0 before two observations with progress.
  double rate() const { return rate_; }
  // Time to reach `total` at the current rate; InfiniteDuration when the rate is 0.
  absl::Duration Eta(int64_t total) const;

 private:
  double smoothing_;
  bool has_last_ = false;
  absl::Time last_time_;
  int64_t last_step_ = 0;
  double rate_ = 0;
};

}  // namespace gwo::client

#endif  // GWO_CLIENT_PROGRESS_H_
