// gwo's Prometheus metrics: counters, gauges and histograms with fixed buckets,
// grouped in families that share a name, a help text and label names, kept in a
// Registry that writes them in the Prometheus text exposition format (0.0.4).
// prometheus-cpp is not packaged for Debian 12, and the format is small.
//
// Each binary declares its families in one place (server/telemetry/,
// worker/agent/worker_metrics.*). Label values must come from small, fixed sets
// (states, method names, GPU indices): never run ids or other unbounded values,
// since every distinct label set is a child kept for the life of the process.
//
// Thread safety: everything here may be used from any thread.
#ifndef GWO_COMMON_METRICS_REGISTRY_H_
#define GWO_COMMON_METRICS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace gwo::metrics {

// Label values, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// A value that only goes up (resets when the process restarts).
class Counter {
 public:
  // Adds `v`; negative and NaN values are ignored (a counter never decreases).
  void Inc(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets, with their sum and count.
class Histogram {
 public:
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };

  // `bounds`: the buckets' inclusive upper bounds, strictly increasing and finite
  // (the Registry checks this); the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> bounds);
  // NaN is ignored.
  void Observe(double v);
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // per bucket (not cumulative), bounds_.size() + 1
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

enum class MetricType { kCounter, kGauge, kHistogram };

// What every family has; the Registry writes families through this.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Appends the family's HELP, TYPE and samples, children ordered by label values.
  virtual void Write(std::string* out) const = 0;

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// The children of one metric name, one per distinct set of label values.
template <typename T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)), make_(std::move(make)) {
    // A family without labels always shows its single child (0 until used).
    if (this->label_names().empty()) With({});
  }

  // The child for `values`, created on first use; the reference stays valid for
  // the life of the family. `values` must have one value per label name (missing
  // values are taken as "", extra ones dropped).
  T& With(LabelValues values) {
    values.resize(label_names().size());
    absl::MutexLock lock(&mu_);
    std::unique_ptr<T>& child = children_[values];
    if (child == nullptr) child = make_();
    return *child;
  }

  void Write(std::string* out) const override;

 private:
  const std::function<std::unique_ptr<T>()> make_;
  mutable absl::Mutex mu_;
  std::map<LabelValues, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

class Registry {
 public:
  // Each Add* returns a family owned by the registry (valid for its life). A bad
  // declaration (invalid or duplicate name, invalid label name, a counter not
  // ending in `_total`, buckets not strictly increasing and finite) is recorded
  // in status() and its family is still returned but never written.
  Family<Counter>* AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>* AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>* AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names, std::vector<double> bounds);

  // `collect` runs at the start of every Expose(), in the order added, to refresh
  // gauges whose values are read from elsewhere (a database, the scheduler).
  void AddCollector(std::function<void()> collect);

  // OK, or the first bad declaration (INVALID_ARGUMENT naming the metric).
  absl::Status status() const;

  // Runs the collectors, then writes every valid family in the order declared,
  // in the Prometheus text format (content type kContentType).
  std::string Expose() const;

  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  template <typename T>
  Family<T>* Add(const std::string& name, const std::string& help, MetricType type,
                 std::vector<std::string> label_names, const std::vector<double>* bounds,
                 std::function<std::unique_ptr<T>()> make);
  // Checks the declaration; on error records it and returns false.
  bool Check(const std::string& name, const std::vector<std::string>& label_names, MetricType type,
             const std::vector<double>* bounds) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<const FamilyBase*> valid_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  // Serializes Expose(), so collectors never run concurrently with each other.
  mutable absl::Mutex expose_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

template <>
void Family<Counter>::Write(std::string* out) const;
template <>
void Family<Gauge>::Write(std::string* out) const;
template <>
void Family<Histogram>::Write(std::string* out) const;

// Buckets for latencies in seconds: 1 ms to 60 s.
std::vector<double> LatencyBuckets();

}  // namespace gwo::metrics

#endif  // GWO_COMMON_METRICS_REGISTRY_H_
