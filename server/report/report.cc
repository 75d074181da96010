#include "server/report/report.h"

#include <algorithm>
#include <set>


namespace gwo::server::report {
namespace {

void AddOnce(std::vector<std::string>* list, const std::string& value) {
  if (std::find(list->begin(), list->end(), value) == list->end()) list->push_back(value);
}

// Per metric, seed -> final value, of the runs of one (dataset, variant).
using BySeed = std::map<std::string, std::map<int64_t, double>>;

}  // namespace

Report BuildReport(const std::vector<RunFinals>& runs, const std::string& baseline,
                   const std::vector<std::string>& only_metrics) {
  Report out;
  out.baseline_variant = baseline;
  if (runs.empty()) return out;
  const std::set<std::string> keep(only_metrics.begin(), only_metrics.end());
  std::map<std::pair<std::string, std::string>, std::vector<const RunFinals*>> groups;
  std::set<std::string> names;
  for (const RunFinals& r : runs) {
    AddOnce(&out.datasets, r.dataset);
    AddOnce(&out.variants, r.variant);
    groups[{r.dataset, r.variant}].push_back(&r);
    for (const auto& [name, value] : r.finals) {
      if (keep.empty() || keep.count(name)) names.insert(name);
    }
  }
  if (out.baseline_variant.empty()) out.baseline_variant = runs.front().variant;
  auto base_it = std::find(out.variants.begin(), out.variants.end(), out.baseline_variant);
  if (base_it != out.variants.end()) {
    std::rotate(out.variants.begin(), base_it, base_it + 1);  // baseline first, others in order
  }
  out.metric_names.assign(names.begin(), names.end());

  for (const std::string& dataset : out.datasets) {
    BySeed base_values;
    if (auto g = groups.find({dataset, out.baseline_variant}); g != groups.end()) {
      for (const RunFinals* r : g->second) {
        for (const auto& [name, value] : r->finals) base_values[name][r->seed] = value;
      }
    }
    for (const std::string& variant : out.variants) {
      auto g = groups.find({dataset, variant});
      if (g == groups.end()) continue;
      std::vector<const RunFinals*> members = g->second;
      std::stable_sort(members.begin(), members.end(),
                       [](const RunFinals* a, const RunFinals* b) { return a->seed < b->seed; });
      ReportRow row;
      row.dataset = dataset;
      row.variant = variant;
      row.baseline = variant == out.baseline_variant;
      BySeed values;
      for (const RunFinals* r : members) {
        row.seeds.push_back(r->seed);
        row.run_ids.push_back(r->run_id);
        for (const auto& [name, value] : r->finals) values[name][r->seed] = value;
      }
      for (const std::string& name : out.metric_names) {
        auto v = values.find(name);
        if (v == values.end()) continue;
        MetricCell cell;
        cell.name = name;
        cell.direction = MetricDirection(name);
        std::vector<double> list;
        for (const auto& [seed, value] : v->second) list.push_back(value);
        cell.value = Summarize(list);
        if (!row.baseline) {
          cell.improvement = PairedImprovement(cell.direction, base_values[name], v->second);
          cell.has_improvement = cell.improvement.n > 0;
        }
        row.metrics.push_back(std::move(cell));
      }
      out.rows.push_back(std::move(row));
    }
  }
  return out;
}

}  // namespace gwo::server::report
