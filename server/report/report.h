// The experiment report: for each dataset x variant, mean +- std over seeds of the
// final value of every metric, and the seed-paired improvement over the baseline
// variant. Pure: runs and their final metrics in, table out (no store, no gRPC).
#ifndef GWO_SERVER_REPORT_REPORT_H_
#define GWO_SERVER_REPORT_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "server/report/stats.h"

namespace gwo::server::report {

// One run's contribution: its final metric values ("final": the value at the last
// step of the run's clean series, see Store::FinalMetrics).
struct RunFinals {
  int64_t run_id = 0;
  std::string dataset;
  std::string variant;
  int64_t seed = 0;
  std::map<std::string, double> finals;  // metric name -> final value
};

struct MetricCell {
  std::string name;
  Direction direction = Direction::kNeutral;
  Summary value;  // over the seeds of the row that recorded the metric
  // Seed-paired improvement over the baseline row of the same dataset, in percent
  // (positive = better, see SignConvention). Absent (has_improvement false) on the
  // baseline row, for neutral metrics, and when no seed pairs up.
  bool has_improvement = false;
  Summary improvement;
};

struct ReportRow {
  std::string dataset;
  std::string variant;
  bool baseline = false;
  std::vector<int64_t> seeds;    // ascending
  std::vector<int64_t> run_ids;  // in the order of `seeds`
  std::vector<MetricCell> metrics;  // sorted by name; only metrics some run of the row recorded
};

struct Report {
  std::string baseline_variant;
  std::vector<std::string> datasets;      // order of first appearance among the runs
  std::vector<std::string> variants;      // likewise; the baseline first
  std::vector<std::string> metric_names;  // sorted, union over rows
  std::vector<ReportRow> rows;            // dataset-major, then variant in `variants` order
};

// Builds the report of `runs`, given in run-id order (the order the coordinator
// created them: dataset, variant, seed, so the first run's variant is the spec's
// first variant). `baseline`: the variant to compare against; empty means the
// first run's variant. When no run is of the baseline variant (say, all of its
// runs failed), no row is a baseline row and no improvement is computed.
// `only_metrics`: keep only these names (empty: all). No runs: no rows.
Report BuildReport(const std::vector<RunFinals>& runs, const std::string& baseline,
                   const std::vector<std::string>& only_metrics);

}  // namespace gwo::server::report

#endif  // GWO_SERVER_REPORT_REPORT_H_
