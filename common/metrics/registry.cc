#include "common/metrics/registry.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/metrics/exposition.h"

namespace gwo::metrics {

void Counter::Inc(double v) {
  if (!(v >= 0)) return;  // negative or NaN
  value_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  // The first bucket whose upper bound is >= v (bounds are inclusive).
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  ++counts_[i];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  absl::MutexLock lock(&mu_);
  s.cumulative.reserve(counts_.size());
  uint64_t total = 0;
  for (uint64_t c : counts_) {
    total += c;
    s.cumulative.push_back(total);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

namespace {

void WriteHeader(const FamilyBase& f, const char* type, std::string* out) {
  absl::StrAppend(out, "# HELP ", f.name(), " ", EscapeHelp(f.help()), "\n");
  absl::StrAppend(out, "# TYPE ", f.name(), " ", type, "\n");
}

}  // namespace

template <>
void Family<Counter>::Write(std::string* out) const {
  WriteHeader(*this, "counter", out);
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    absl::StrAppend(out, name(), FormatLabels(label_names(), values), " ", FormatValue(child->value()), "\n");
  }
}

template <>
void Family<Gauge>::Write(std::string* out) const {
  WriteHeader(*this, "gauge", out);
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    absl::StrAppend(out, name(), FormatLabels(label_names(), values), " ", FormatValue(child->value()), "\n");
  }
}

template <>
void Family<Histogram>::Write(std::string* out) const {
  WriteHeader(*this, "histogram", out);
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    Histogram::Snapshot s = child->snapshot();
    const std::vector<double>& bounds = child->bounds();
    for (size_t i = 0; i <= bounds.size(); ++i) {
      std::string le = absl::StrCat("le=\"", i < bounds.size() ? FormatValue(bounds[i]) : "+Inf", "\"");
      absl::StrAppend(out, name(), "_bucket", FormatLabels(label_names(), values, le), " ", s.cumulative[i], "\n");
    }
    const std::string labels = FormatLabels(label_names(), values);
    absl::StrAppend(out, name(), "_sum", labels, " ", FormatValue(s.sum), "\n");
    absl::StrAppend(out, name(), "_count", labels, " ", s.count, "\n");
  }
}

bool Registry::Check(const std::string& name, const std::vector<std::string>& label_names, MetricType type,
                     const std::vector<double>* bounds) {
  std::string problem;
  if (!IsValidMetricName(name)) {
    problem = "is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)";
  } else if (type == MetricType::kCounter && !absl::EndsWith(name, "_total")) {
    problem = "is a counter and must end in _total";
  } else {
    for (const auto& f : families_) {
      if (f->name() == name) problem = "is declared twice";
    }
  }
  for (const std::string& l : label_names) {
    if (!problem.empty()) break;
    if (!IsValidLabelName(l)) problem = absl::StrCat("has an invalid label name \"", l, "\"");
    if (type == MetricType::kHistogram && l == "le") problem = "is a histogram and cannot have a label \"le\"";
    if (std::count(label_names.begin(), label_names.end(), l) > 1) {
      problem = absl::StrCat("has the label \"", l, "\" twice");
    }
  }
  if (problem.empty() && bounds != nullptr) {
    for (size_t i = 0; i < bounds->size(); ++i) {
      if (!std::isfinite((*bounds)[i]) || (i > 0 && (*bounds)[i] <= (*bounds)[i - 1])) {
        problem = "has bucket bounds that are not strictly increasing and finite";
      }
    }
    if (bounds->empty()) problem = "has no buckets";
  }
  if (problem.empty()) return true;
  if (status_.ok()) status_ = absl::InvalidArgumentError(absl::StrCat("metric ", name, " ", problem));
  return false;
}

template <typename T>
Family<T>* Registry::Add(const std::string& name, const std::string& help, MetricType type,
                         std::vector<std::string> label_names, const std::vector<double>* bounds,
                         std::function<std::unique_ptr<T>()> make) {
  absl::MutexLock lock(&mu_);
  bool ok = Check(name, label_names, type, bounds);
  auto f = std::make_unique<Family<T>>(name, help, type, std::move(label_names), std::move(make));
  Family<T>* p = f.get();
  families_.push_back(std::move(f));
  if (ok) valid_.push_back(p);
  return p;
}

Family<Counter>* Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  return Add<Counter>(name, help, MetricType::kCounter, std::move(label_names), nullptr,
                      [] { return std::make_unique<Counter>(); });
}

Family<Gauge>* Registry::AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  return Add<Gauge>(name, help, MetricType::kGauge, std::move(label_names), nullptr,
                    [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>* Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names, std::vector<double> bounds) {
  return Add<Histogram>(name, help, MetricType::kHistogram, std::move(label_names), &bounds,
                        [bounds] { return std::make_unique<Histogram>(bounds); });
}

void Registry::AddCollector(std::function<void()> collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

absl::Status Registry::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

std::string Registry::Expose() const {
  absl::MutexLock expose_lock(&expose_mu_);
  std::vector<std::function<void()>> collectors;
  std::vector<const FamilyBase*> families;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
    families = valid_;
  }
  for (const auto& collect : collectors) collect();
  std::string out;
  for (const FamilyBase* f : families) f->Write(&out);
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace gwo::metrics
