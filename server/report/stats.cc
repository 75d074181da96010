#include "server/report/stats.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace gwo::server::report {

Summary Summarize(const std::vector<double>& values) {
  Summary s;
  s.n = static_cast<int>(values.size());
  if (s.n == 0) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / s.n;
  if (s.n < 2) return s;
  double squares = 0;  // two-pass: no cancellation from a large common offset
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(squares / (s.n - 1));
  return s;
}

Direction MetricDirection(const std::string& name) {
  const std::vector<std::string> words = absl::StrSplit(absl::AsciiStrToLower(name), '_', absl::SkipEmpty());
  auto has_prefix = [&](std::initializer_list<const char*> keys) {
    for (const std::string& w : words) {
      for (const char* k : keys) {
        if (absl::StartsWith(w, k)) return true;
      }
    }
    return false;
  };
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "per" && (words[i + 1] == "s" || absl::StartsWith(words[i + 1], "sec"))) {
      return Direction::kHigherIsBetter;  // a rate: tokens_per_s, steps_per_sec
    }
  }
  if (has_prefix({"sim"})) return Direction::kHigherIsBetter;  // SimAOU, SimAM, similarity
  if (has_prefix({"loss", "ppl", "perplexity", "kl", "mse", "err", "mem", "bytes", "seconds", "time", "latency"})) {
    return Direction::kLowerIsBetter;
  }
  if (has_prefix({"acc", "cos", "tau", "f1", "score", "throughput"})) return Direction::kHigherIsBetter;
  return Direction::kNeutral;
}

bool ImprovementPercent(Direction direction, double baseline, double value, double* out) {
  if (direction == Direction::kNeutral || baseline == 0) return false;
  const double delta = direction == Direction::kLowerIsBetter ? baseline - value : value - baseline;
  *out = 100.0 * delta / std::fabs(baseline);
  return true;
}

Summary PairedImprovement(Direction direction, const std::map<int64_t, double>& baseline_by_seed,
                          const std::map<int64_t, double>& variant_by_seed) {
  std::vector<double> per_seed;
  for (const auto& [seed, value] : variant_by_seed) {
    auto base = baseline_by_seed.find(seed);
    if (base == baseline_by_seed.end()) continue;
    double pct = 0;
    if (ImprovementPercent(direction, base->second, value, &pct)) per_seed.push_back(pct);
  }
  return Summarize(per_seed);
}

const char* SignConvention() {
  return "improvement % = 100 * (baseline - variant) / |baseline| for lower-is-better metrics "
         "(loss, ppl, kl, mse, err, mem, time), 100 * (variant - baseline) / |baseline| for "
         "higher-is-better ones (acc, cos, tau, sim, per_s); positive is better; paired by seed, "
         "then mean +- sample std (n-1)";
}

}  // namespace gwo::server::report
