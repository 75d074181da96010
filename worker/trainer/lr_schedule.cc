#include "worker/trainer/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace gwo::trainer {

double LearningRate(const LrSchedule& s, int64_t step) {
  if (s.warmup_steps > 0 && step <= s.warmup_steps) {
    return s.lr * static_cast<double>(std::max<int64_t>(step, 0)) /
           static_cast<double>(s.warmup_steps);
  }
  if (step >= s.total_steps) return s.min_lr;
  const double progress = static_cast<double>(step - s.warmup_steps) /
                          static_cast<double>(s.total_steps - s.warmup_steps);  // (0, 1)
  return s.min_lr + (s.lr - s.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace gwo::trainer
