// The learning-rate schedule: linear warmup, then cosine decay to a floor.
#ifndef GWO_WORKER_TRAINER_LR_SCHEDULE_H_
#define GWO_WORKER_TRAINER_LR_SCHEDULE_H_

#include <cstdint>

namespace gwo::trainer {

struct LrSchedule {
  double lr = 0.0;           // peak, reached at the end of warmup
  double min_lr = 0.0;       // reached at the last step
  int64_t warmup_steps = 0;  // linear ramp 0 -> lr over steps 1..warmup_steps
  int64_t total_steps = 0;   // the last step
};

// Learning rate of optimizer step `step` (1-based). Steps 1..warmup: lr * step /
// warmup. Then min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2 with p = (step - warmup)
// / (total - warmup), so the warmup's last step gets lr and step `total` gets min_lr.
// Steps past `total` stay at min_lr. Pure; never fails.
double LearningRate(const LrSchedule& schedule, int64_t step);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_LR_SCHEDULE_H_
