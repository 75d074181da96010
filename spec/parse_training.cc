#include "spec/parse_training.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spec/attention_kinds.h"

namespace gwo::spec {
namespace {

// A list of strings at `key`, non-empty unless `allow_empty` (a single string is a
// list of one).
void StringList(MapReader& r, const std::string& key, std::vector<std::string>* out,
                bool allow_empty = false) {
  YAML::Node v = r.Get(key);
  if (!v.IsDefined()) return;
  std::vector<std::string> items;
  if (v.IsScalar()) {
    items.push_back(v.Scalar());
  } else if (v.IsSequence()) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].IsScalar() || (v[i].Scalar().empty() && !allow_empty)) {
        r.errors()->Add(v[i].Mark(), absl::StrCat(r.Path(key), "[", i, "]"),
                        absl::StrCat("expected a non-empty string, got ", Describe(v[i])));
        return;
      }
      items.push_back(v[i].Scalar());
    }
  } else {
    r.errors()->Add(v.Mark(), r.Path(key),
                    absl::StrCat("expected a list of strings, got ", Describe(v)));
    return;
  }
  *out = std::move(items);
}

// A list of integers in [min, max] at `key`.
void IntList(MapReader& r, const std::string& key, std::vector<int>* out, int min, int max) {
  YAML::Node v = r.Get(key);
  if (!v.IsDefined()) return;
  if (!v.IsSequence()) {
    r.errors()->Add(v.Mark(), r.Path(key),
                    absl::StrCat("expected a list of integers, got ", Describe(v)));
    return;
  }
  std::vector<int> items;
  for (size_t i = 0; i < v.size(); ++i) {
    // Reuse MapReader's integer checks on a one-key mapping.
    YAML::Node wrapper(YAML::NodeType::Map);
    wrapper["value"] = v[i];
    int value = 0;
    ErrorList local(r.errors()->file());
    MapReader item(wrapper, "", &local);
    item.Int("value", &value, min, max);
    if (!local.empty()) {
      r.errors()->Add(v[i].Mark(), absl::StrCat(r.Path(key), "[", i, "]"),
                      absl::StrCat("expected an integer in [", min, ", ", max, "], got ",
                                   Describe(v[i])));
      return;
    }
    items.push_back(value);
  }
  *out = std::move(items);
}

void ReadTeacher(MapReader& r, DistillSpec* d) {
  YAML::Node teacher = r.Get("teacher");
  if (!teacher.IsDefined()) return;
  d->teacher_location = LocationOf(teacher);
  if (teacher.IsScalar()) {
    d->teacher = teacher.Scalar();
    d->teacher_from_run = 0;
    d->teacher_from_variant.clear();
    if (d->teacher.empty()) {
      r.errors()->Add(teacher.Mark(), r.Path("teacher"),
                      "expected a checkpoint path, {from_run: ID} or {from_variant: NAME}");
    }
    return;
  }
  MapReader t(teacher, r.Path("teacher"), r.errors());
  if (!t.ok()) return;
  d->teacher.clear();
  d->teacher_from_run = 0;
  d->teacher_from_variant.clear();
  // `path` is the resolved checkpoint (run specs carry it beside its provenance).
  t.String("path", &d->teacher);
  t.Int("from_run", &d->teacher_from_run, 1, INT64_MAX);
  t.String("from_variant", &d->teacher_from_variant);
  t.Enum("checkpoint", &d->teacher_checkpoint, {"final", "best"});
  t.Finish();
  // A resolved stage reference carries all three: the path, the teacher run's id and
  // the variant it came from (server/stages.cc writes them into the run spec).
  if (t.Has("from_run") && t.Has("from_variant") && !t.Has("path")) {
    r.errors()->Add(teacher.Mark(), r.Path("teacher"), "give either from_run or from_variant, not both");
  } else if (!t.Has("from_run") && !t.Has("from_variant") && !t.Has("path")) {
    r.errors()->Add(teacher.Mark(), r.Path("teacher"),
                    "expected from_run: ID, from_variant: NAME or path: CHECKPOINT");
  }
  if (t.Has("from_variant") && d->teacher_from_variant.empty()) {
    r.errors()->Add(t.Get("from_variant").Mark(), t.Path("from_variant"), "expected a variant name");
  }
}

void ReadDistill(MapReader& training, DistillSpec* d) {
  if (!training.Has("distill")) {
    training.Get("distill");  // known key
    return;
  }
  MapReader r(training.Get("distill"), training.Path("distill"), training.errors());
  if (!r.ok()) return;
  ReadTeacher(r, d);
  r.Double("weight", &d->weight, 0.0, 1e6);
  r.Double("temperature", &d->temperature, 0.0, 1e3, /*exclusive_min=*/true);
  r.Finish();
}

void ReadOptimizer(MapReader& r, OptimizerSpec* o) {
  YAML::Node node = r.Get("optimizer");
  if (!node.IsDefined()) return;
  if (node.IsScalar()) {  // `optimizer: natural` is `optimizer: {name: natural}`
    YAML::Node wrapper(YAML::NodeType::Map);
    wrapper["name"] = node;
    MapReader w(wrapper, r.Path("optimizer"), r.errors());
    w.Enum("name", &o->name, {"adamw", "natural"});
    return;
  }
  MapReader m(node, r.Path("optimizer"), r.errors());
  m.Enum("name", &o->name, {"adamw", "natural"});
  m.Double("strength", &o->natural_strength, 0.0, 10.0);
  m.Double("min_scale", &o->natural_min_scale, 0.0, 1.0, /*exclusive_min=*/true);
  m.Double("max_scale", &o->natural_max_scale, 1.0, 1e6);
  m.Finish();
}

void ReadTrainable(MapReader& training, TrainableSpec* t) {
  MapReader r(training.Get("trainable"), training.Path("trainable"), training.errors());
  if (!r.ok()) return;
  r.Enum("mode", &t->mode, {"full", "lora", "kv_only"});
  {
    MapReader l(r.Get("lora"), r.Path("lora"), r.errors());
    l.Int("rank", &t->lora.rank, 1, 65536);
    l.Double("alpha", &t->lora.alpha, 0.0, 1e6, /*exclusive_min=*/true);
    l.Double("dropout", &t->lora.dropout, 0.0, 0.99);
    StringList(l, "targets", &t->lora.targets);
    l.Finish();
    if (l.ok() && r.Has("lora") && t->mode != "lora") {
      r.errors()->Add(r.Get("lora").Mark(), r.Path("lora"), "is only used with mode: lora");
    }
  }
  StringList(r, "train", &t->train);
  StringList(r, "freeze", &t->freeze);
  r.Finish();
}

void ReadSideBySide(MapReader& training, SideBySideSpec* s) {
  if (!training.Has("side_by_side")) {
    training.Get("side_by_side");
    return;
  }
  MapReader r(training.Get("side_by_side"), training.Path("side_by_side"), training.errors());
  if (!r.ok()) return;
  s->enabled = true;
  r.Bool("enabled", &s->enabled);
  std::string kind = s->attention_kind;
  r.String("attention", &kind);
  if (r.Has("attention")) {
    bool known = false;
    for (absl::string_view k : AttentionKinds()) known = known || k == kind;
    if (known) {
      s->attention_kind = kind;
    } else {
      r.errors()->Add(r.Get("attention").Mark(), r.Path("attention"),
                      absl::StrCat("unknown attention kind \"", kind, "\""));
    }
  }
  ReadOptimizer(r, &s->optimizer);
  r.String("prefix", &s->prefix);
  if (r.Has("prefix") && s->prefix.empty()) {
    r.errors()->Add(r.Get("prefix").Mark(), r.Path("prefix"), "expected a non-empty metric-name prefix");
  }
  r.Finish();
}

void ReadMetrics(MapReader& training, MetricsSpec* m) {
  MapReader r(training.Get("metrics"), training.Path("metrics"), training.errors());
  IntList(r, "memory_lengths", &m->memory_lengths, 1, 1 << 20);
  r.Int("fidelity_batches", &m->fidelity_batches, 0, 1 << 20);
  r.Finish();
}

void ReadGenerate(MapReader& training, GenerateSpec* g) {
  MapReader r(training.Get("generate"), training.Path("generate"), training.errors());
  StringList(r, "prompts", &g->prompts, /*allow_empty=*/true);  // "": unconditional
  r.Int("max_new_tokens", &g->max_new_tokens, 1, 1 << 20);
  r.Double("temperature", &g->temperature, 0.0, 100.0, /*exclusive_min=*/true);
  r.Int("top_k", &g->top_k, 0, 1 << 24);
  r.Finish();
}

void ReadIcl(MapReader& training, IclSpec* icl) {
  if (!training.Has("icl")) {
    training.Get("icl");
    return;
  }
  MapReader r(training.Get("icl"), training.Path("icl"), training.errors());
  if (!r.ok()) return;
  icl->enabled = true;
  r.Bool("enabled", &icl->enabled);
  r.Int("shots", &icl->shots, 1, 1024);
  r.Int("queries", &icl->queries, 1, 1 << 20);
  r.Enum("train_on", &icl->train_on, {"demonstrations", "corpus"});
  r.Enum("loss", &icl->loss, {"label", "sequence"});
  r.Finish();
  if (r.ok() && r.Has("loss") && icl->train_on != "demonstrations") {
    r.errors()->Add(r.Get("loss").Mark(), r.Path("loss"), "is only used with train_on: demonstrations");
  }
}

bool HasTeacher(const DistillSpec& d) {
  return !d.teacher.empty() || d.teacher_from_run != 0 || !d.teacher_from_variant.empty();
}

void EmitOptimizer(YAML::Emitter& out, const OptimizerSpec& o) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << o.name;
  out << YAML::Key << "strength" << YAML::Value << ShortestDouble(o.natural_strength);
  out << YAML::Key << "min_scale" << YAML::Value << ShortestDouble(o.natural_min_scale);
  out << YAML::Key << "max_scale" << YAML::Value << ShortestDouble(o.natural_max_scale);
  out << YAML::EndMap;
}

void EmitStrings(YAML::Emitter& out, const std::vector<std::string>& items) {
  out << YAML::BeginSeq;
  for (const std::string& s : items) out << YAML::DoubleQuoted << s;
  out << YAML::EndSeq;
}

}  // namespace

void ReadTrainingModes(MapReader& r, ErrorList* errors, TrainingSpec* t) {
  r.Double("lm_weight", &t->lm_weight, 0.0, 1e6);
  ReadDistill(r, &t->distill);
  ReadTrainable(r, &t->trainable);
  ReadOptimizer(r, &t->optimizer);
  ReadSideBySide(r, &t->side_by_side);
  ReadMetrics(r, &t->metrics);
  ReadGenerate(r, &t->generate);
  ReadIcl(r, &t->icl);
  if (!r.ok()) return;
  auto mark = [&](const char* key) { return r.Has(key) ? r.Get(key).Mark() : r.node().Mark(); };
  const bool teacher = HasTeacher(t->distill);
  const double distill_weight = teacher ? t->distill.weight : 0.0;
  if (!(t->lm_weight + distill_weight > 0)) {
    errors->Add(mark("lm_weight"), r.Path("lm_weight"),
                "the loss has no term: lm_weight is 0 and there is no distillation with weight > 0");
  }
  if (r.Has("distill") && !teacher) {
    errors->Add(mark("distill"), r.Path("distill.teacher"),
                "is required (a checkpoint path, {from_run: ID} or {from_variant: NAME})");
  }
  if (t->side_by_side.enabled && t->checkpoint_every > 0) {
    errors->Add(mark("side_by_side"), r.Path("side_by_side"),
                "the second model is not checkpointed: set checkpoint_every to 0");
  }
  if (t->icl.enabled && !teacher) {
    errors->Add(mark("icl"), r.Path("icl"),
                "needs distill.teacher: the reference model that reads the demonstrations");
  }
}

void EmitTrainingModes(YAML::Emitter& out, const TrainingSpec& t) {
  out << YAML::Key << "lm_weight" << YAML::Value << ShortestDouble(t.lm_weight);
  const DistillSpec& d = t.distill;
  if (HasTeacher(d)) {
    out << YAML::Key << "distill" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "teacher" << YAML::Value;
    if (d.teacher_from_run == 0 && d.teacher_from_variant.empty()) {
      out << YAML::DoubleQuoted << d.teacher;
    } else {
      out << YAML::BeginMap;
      if (!d.teacher.empty()) out << YAML::Key << "path" << YAML::Value << YAML::DoubleQuoted << d.teacher;
      if (d.teacher_from_run != 0) out << YAML::Key << "from_run" << YAML::Value << d.teacher_from_run;
      if (!d.teacher_from_variant.empty()) {
        out << YAML::Key << "from_variant" << YAML::Value << YAML::DoubleQuoted << d.teacher_from_variant;
      }
      out << YAML::Key << "checkpoint" << YAML::Value << d.teacher_checkpoint;
      out << YAML::EndMap;
    }
    out << YAML::Key << "weight" << YAML::Value << ShortestDouble(d.weight);
    out << YAML::Key << "temperature" << YAML::Value << ShortestDouble(d.temperature);
    out << YAML::EndMap;
  }

  const TrainableSpec& tr = t.trainable;
  out << YAML::Key << "trainable" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "mode" << YAML::Value << tr.mode;
  if (tr.mode == "lora") {
    out << YAML::Key << "lora" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "rank" << YAML::Value << tr.lora.rank;
    out << YAML::Key << "alpha" << YAML::Value << ShortestDouble(tr.lora.alpha);
    out << YAML::Key << "dropout" << YAML::Value << ShortestDouble(tr.lora.dropout);
    out << YAML::Key << "targets" << YAML::Value;
    EmitStrings(out, tr.lora.targets);
    out << YAML::EndMap;
  }
  out << YAML::Key << "train" << YAML::Value;
  EmitStrings(out, tr.train);
  out << YAML::Key << "freeze" << YAML::Value;
  EmitStrings(out, tr.freeze);
  out << YAML::EndMap;

  out << YAML::Key << "optimizer" << YAML::Value;
  EmitOptimizer(out, t.optimizer);

  if (t.side_by_side.enabled) {
    out << YAML::Key << "side_by_side" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "attention" << YAML::Value << t.side_by_side.attention_kind;
    out << YAML::Key << "optimizer" << YAML::Value;
    EmitOptimizer(out, t.side_by_side.optimizer);
    out << YAML::Key << "prefix" << YAML::Value << YAML::DoubleQuoted << t.side_by_side.prefix;
    out << YAML::EndMap;
  }

  out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "memory_lengths" << YAML::Value << YAML::Flow << t.metrics.memory_lengths;
  out << YAML::Key << "fidelity_batches" << YAML::Value << t.metrics.fidelity_batches;
  out << YAML::EndMap;

  out << YAML::Key << "generate" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "prompts" << YAML::Value;
  EmitStrings(out, t.generate.prompts);
  out << YAML::Key << "max_new_tokens" << YAML::Value << t.generate.max_new_tokens;
  out << YAML::Key << "temperature" << YAML::Value << ShortestDouble(t.generate.temperature);
  out << YAML::Key << "top_k" << YAML::Value << t.generate.top_k;
  out << YAML::EndMap;

  if (t.icl.enabled) {
    out << YAML::Key << "icl" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "shots" << YAML::Value << t.icl.shots;
    out << YAML::Key << "queries" << YAML::Value << t.icl.queries;
    out << YAML::Key << "train_on" << YAML::Value << t.icl.train_on;
    if (t.icl.train_on == "demonstrations") out << YAML::Key << "loss" << YAML::Value << t.icl.loss;
    out << YAML::EndMap;
  }
}

}  // namespace gwo::spec
