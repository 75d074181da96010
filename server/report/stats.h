// Summary statistics for reports: mean, sample standard deviation and the
// seed-paired relative improvement of a variant over a baseline. Pure functions.
#ifndef GWO_SERVER_REPORT_STATS_H_
#define GWO_SERVER_REPORT_STATS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gwo::server::report {

struct Summary {
  int n = 0;          // number of values
  double mean = 0;    // 0 when n == 0
  // Sample standard deviation, divisor n - 1 (Bessel's correction); 0 when n < 2.
  double std = 0;
};

// Mean and sample std (n - 1) of `values`. Non-finite values are counted like any
// other (a NaN makes mean and std NaN), so a diverged seed is visible.
Summary Summarize(const std::vector<double>& values);

// Which way a metric improves.
enum class Direction {
  kLowerIsBetter,   // losses, perplexity, KL, MSE, errors, memory, time
  kHigherIsBetter,  // accuracy, cosine similarity, Kendall's tau, throughput
  kNeutral,         // no better direction (lr, step, trainable_params): no improvement
};

// By name: contains "loss", "ppl", "perplexity", "kl", "mse", "err", "mem", "bytes",
// "seconds" or "time" -> lower; "acc", "cos", "tau", "f1", "score", "per_s" or "sim" -> higher
// ("per_s" and "sim" checked first: "tokens_per_s" is throughput); else neutral.
// Matching is on '_'-separated words of the lower-cased name, prefixes allowed
// ("accuracy" matches "acc"), so "kl_div" is lower and "lr" neutral.
Direction MetricDirection(const std::string& name);

// Relative improvement of `value` over `baseline`, in percent, signed so that a
// positive number is always better: lower-is-better -> (baseline - value) / |baseline|,
// higher-is-better -> (value - baseline) / |baseline|, times 100. nullopt-like:
// returns false (and leaves *out) when the direction is neutral or baseline == 0.
bool ImprovementPercent(Direction direction, double baseline, double value, double* out);

// Seed-paired improvement: for every seed present in both maps, the improvement of
// the variant's value over the baseline's value of the same seed; then the Summary
// of those per-seed improvements (n = number of pairs). Seeds present in only one
// map, and pairs whose improvement is undefined, are skipped.
Summary PairedImprovement(Direction direction, const std::map<int64_t, double>& baseline_by_seed,
                          const std::map<int64_t, double>& variant_by_seed);

// The sign convention above, in one sentence for report footers.
const char* SignConvention();

}  // namespace gwo::server::report

#endif  // GWO_SERVER_REPORT_STATS_H_
