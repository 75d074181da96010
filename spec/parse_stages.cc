// Stages: `init:` in its scalar and mapping forms, a variant's own `init:`, and the
// checks of references between variants (unknown, self, cyclic).
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/parse_internal.h"

namespace gwo::spec::internal {
namespace {

YAML::Mark MarkOf(const SourceLocation& loc) {
  YAML::Mark m;
  m.line = loc.line - 1;
  m.column = loc.column - 1;
  if (loc.line == 0) m = YAML::Mark::null_mark();
  return m;
}

// One reference of a variant to another.
struct Ref {
  std::string target;
  SourceLocation where;
  std::string path;  // key path for messages
};

}  // namespace

void ReadInit(MapReader& r, ErrorList* errors, ModelSpec* m, bool job_yaml) {
  YAML::Node init = r.Get("init");
  if (!init.IsDefined()) return;
  m->init_location = LocationOf(init);
  if (init.IsScalar()) {
    m->init = init.Scalar();
    if (m->init.empty()) errors->Add(init.Mark(), r.Path("init"), "expected \"scratch\" or a checkpoint path");
    return;
  }
  MapReader i(init, r.Path("init"), errors);
  if (!i.ok()) return;
  i.Int("from_run", &m->init_from_run, 1, INT64_MAX);
  i.String("from_variant", &m->init_from_variant);
  i.Enum("checkpoint", &m->init_checkpoint, {"final", "best"});
  if (job_yaml) {
    if (i.Has("from_run") == i.Has("from_variant")) {
      errors->Add(init.Mark(), r.Path("init"),
                  "expected exactly one of from_run (a run id) or from_variant (a variant of this experiment)");
    }
    if (i.Has("from_variant") && m->init_from_variant.empty()) {
      errors->Add(i.Get("from_variant").Mark(), i.Path("from_variant"), "expected a variant name");
    }
    if (i.Has("from_variant")) m->init = "";  // resolved by the coordinator
  } else {
    // A run spec carries the resolved path; from_run/from_variant are provenance.
    i.String("path", &m->init, /*required=*/m->init_from_variant.empty());
    if (!i.Has("path")) m->init = "";
  }
  i.Finish();
}

void ReadVariantInit(MapReader& r, ErrorList* errors, Variant* v) {
  if (!r.Has("init")) return;
  ModelSpec m;  // only the init fields are used
  ReadInit(r, errors, &m, /*job_yaml=*/true);
  v->init = m;
}

void CheckStages(const ExperimentSpec& spec, ErrorList* errors) {
  std::set<std::string> names;
  for (const Variant& v : spec.variants) names.insert(v.name);
  std::map<std::string, std::vector<Ref>> refs;  // variant -> the variants it needs
  for (size_t i = 0; i < spec.variants.size(); ++i) {
    const Variant& v = spec.variants[i];
    const ModelSpec& init = v.init.has_value() ? *v.init : spec.model;
    if (!init.init_from_variant.empty()) {
      refs[v.name].push_back({init.init_from_variant, init.init_location,
                              v.init.has_value() ? absl::StrCat("variants[", i, "].init.from_variant")
                                                 : std::string("model.init.from_variant")});
    }
    const DistillSpec& d = v.training.distill;
    if (!d.teacher_from_variant.empty()) {
      refs[v.name].push_back(
          {d.teacher_from_variant, d.teacher_location, absl::StrCat("variants[", i, "].training.distill.teacher")});
    }
  }
  bool bad = false;
  for (const Variant& v : spec.variants) {
    for (const Ref& ref : refs[v.name]) {
      if (ref.target == v.name) {
        errors->Add(MarkOf(ref.where), ref.path,
                    absl::StrCat("variant \"", v.name, "\" cannot depend on itself; name another variant"));
        bad = true;
      } else if (!names.count(ref.target)) {
        errors->Add(MarkOf(ref.where), ref.path,
                    absl::StrCat("no variant named \"", ref.target, "\"; expected one of: ",
                                 absl::StrJoin(names, ", ")));
        bad = true;
      }
    }
  }
  if (bad) return;
  // Cycles: depth-first search; a reference back into the current path closes one.
  std::map<std::string, int> mark;  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  std::function<bool(const std::string&)> visit = [&](const std::string& v) -> bool {
    mark[v] = 1;
    path.push_back(v);
    for (const Ref& ref : refs[v]) {
      if (mark[ref.target] == 1) {
        std::vector<std::string> cycle(std::find(path.begin(), path.end(), ref.target), path.end());
        cycle.push_back(ref.target);
        errors->Add(MarkOf(ref.where), ref.path,
                    absl::StrCat("stages form a cycle: ", absl::StrJoin(cycle, " -> "),
                                 "; a stage can only depend on variants that do not depend on it"));
        return true;
      }
      if (mark[ref.target] == 0 && visit(ref.target)) return true;
    }
    path.pop_back();
    mark[v] = 2;
    return false;
  };
  for (const Variant& v : spec.variants) {
    if (mark[v.name] == 0 && visit(v.name)) return;
  }
}

void WriteInit(const ModelSpec& m, YAML::Emitter* out) {
  *out << YAML::Key << "init" << YAML::Value;
  if (m.init_from_run == 0 && m.init_from_variant.empty()) {
    *out << YAML::DoubleQuoted << m.init;
    return;
  }
  *out << YAML::BeginMap;
  *out << YAML::Key << "path" << YAML::Value << YAML::DoubleQuoted << m.init;
  if (m.init_from_run != 0) *out << YAML::Key << "from_run" << YAML::Value << m.init_from_run;
  if (!m.init_from_variant.empty()) {
    *out << YAML::Key << "from_variant" << YAML::Value << YAML::DoubleQuoted << m.init_from_variant;
  }
  *out << YAML::Key << "checkpoint" << YAML::Value << m.init_checkpoint;
  *out << YAML::EndMap;
}

}  // namespace gwo::spec::internal
