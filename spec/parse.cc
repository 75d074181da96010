#include "spec/parse.h"

#include <charconv>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/attention_kinds.h"
#include "spec/yaml_reader.h"

namespace gwo::spec {
namespace {

constexpr int64_t kMaxSteps = int64_t{1} << 40;

// Names end up in run names and file paths: keep them plain.
bool IsPlainName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

void ReadName(MapReader& r, const std::string& key, std::string* out, bool required) {
  r.String(key, out, required);
  if (r.Has(key) && !IsPlainName(*out)) {
    r.errors()->Add(r.Get(key).Mark(), r.Path(key),
                    absl::StrCat("expected 1-64 characters of [A-Za-z0-9_.-], got \"", *out, "\""));
  }
}

void ReadModel(const YAML::Node& node, const std::string& path, ErrorList* errors, ModelSpec* m) {
  MapReader r(node, path, errors);
  r.Enum("arch", &m->arch, {"gpt2"});
  r.Int("n_layer", &m->n_layer, 1, 1024);
  r.Int("n_head", &m->n_head, 1, 1024);
  r.Int("n_embd", &m->n_embd, 1, 65536);
  r.Int("block_size", &m->block_size, 2, 1 << 20);
  r.Double("dropout", &m->dropout, 0.0, 0.99);
  r.Finish();
  if (r.ok() && m->n_embd % m->n_head != 0) {
    errors->Add(r.Has("n_head") ? r.Get("n_head").Mark() : r.node().Mark(), r.Path("n_head"),
                absl::StrCat("must divide n_embd (", m->n_embd, "), got ", m->n_head));
  }
}

void ReadAttention(const YAML::Node& node, const std::string& path, ErrorList* errors,
                   AttentionSpec* a) {
  MapReader r(node, path, errors);
  std::string kind = a->kind;
  r.String("kind", &kind);
  if (r.Has("kind")) {
    bool known = false;
    for (absl::string_view k : AttentionKinds()) known = known || k == kind;
    if (known) {
      a->kind = kind;
    } else {
      errors->Add(r.Get("kind").Mark(), r.Path("kind"),
                  absl::StrCat("unknown attention kind \"", kind,
                               "\"; expected one of: ", absl::StrJoin(AttentionKinds(), ", ")));
    }
  }
  r.Finish();
}

void ReadData(const YAML::Node& node, const std::string& path, ErrorList* errors, DataSpec* d,
              bool name_required) {
  MapReader r(node, path, errors);
  ReadName(r, "name", &d->name, name_required);
  r.String("path", &d->path, /*required=*/true);
  if (r.Has("path")) d->path_location = LocationOf(r.Get("path"));
  if (r.Has("path") && d->path.empty()) {
    errors->Add(r.Get("path").Mark(), r.Path("path"), "expected a non-empty path");
  }
  r.String("glob", &d->glob);
  r.Enum("tokenizer", &d->tokenizer, {"byte"});
  r.Double("val_fraction", &d->val_fraction, 0.0, 0.9, /*exclusive_min=*/true);
  r.Int("max_bytes", &d->max_bytes, 0, INT64_MAX);
  r.Finish();
}

void ReadTraining(const YAML::Node& node, const std::string& path, ErrorList* errors,
                  TrainingSpec* t) {
  MapReader r(node, path, errors);
  r.Int("steps", &t->steps, 1, kMaxSteps);
  r.Int("batch_size", &t->batch_size, 1, 1 << 20);
  r.Double("lr", &t->lr, 0.0, 10.0, /*exclusive_min=*/true);
  r.Double("min_lr", &t->min_lr, 0.0, 10.0);
  r.Int("warmup_steps", &t->warmup_steps, 0, kMaxSteps);
  r.Double("weight_decay", &t->weight_decay, 0.0, 10.0);
  r.Double("beta1", &t->beta1, 0.0, 0.999999);
  r.Double("beta2", &t->beta2, 0.0, 0.999999);
  r.Double("grad_clip", &t->grad_clip, 0.0, 1e9);
  r.Int("eval_every", &t->eval_every, 1, kMaxSteps);
  r.Int("eval_batches", &t->eval_batches, 1, 1 << 20);
  r.Int("log_every", &t->log_every, 1, kMaxSteps);
  r.Enum("device", &t->device, {"auto", "cpu", "cuda"});
  r.Int("threads", &t->threads, 0, 1024);
  r.Finish();
  if (!r.ok()) return;
  // Defaults bend to explicit values; explicit values that contradict each other are errors.
  if (t->min_lr > t->lr) {
    if (r.Has("min_lr")) {
      errors->Add(r.Get("min_lr").Mark(), r.Path("min_lr"), absl::StrCat("must not exceed lr (", t->lr, ")"));
    } else {
      t->min_lr = t->lr / 10;
    }
  }
  if (t->warmup_steps > t->steps) {
    if (r.Has("warmup_steps")) {
      errors->Add(r.Get("warmup_steps").Mark(), r.Path("warmup_steps"),
                  absl::StrCat("must not exceed steps (", t->steps, ")"));
    } else {
      t->warmup_steps = t->steps / 10;
    }
  }
}

// Parses YAML text into a document root, reporting syntax errors with their position.
bool LoadDocument(absl::string_view text, ErrorList* errors, YAML::Node* root) {
  try {
    *root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    errors->Add(e.mark, "", absl::StrCat("malformed YAML: ", e.msg));
    return false;
  } catch (const YAML::Exception& e) {
    errors->Add(e.mark, "", absl::StrCat("malformed YAML: ", e.msg));
    return false;
  }
  if (!root->IsMap()) {
    errors->Add(root->Mark(), "", absl::StrCat("expected a mapping at the top level, got ", Describe(*root)));
    return false;
  }
  return true;
}

absl::Status ToStatus(const ErrorList& errors) {
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(errors.Joined());
}

void ReadSeeds(const YAML::Node& node, ErrorList* errors, std::vector<int64_t>* seeds) {
  if (!node.IsDefined()) return;
  if (!node.IsSequence() || node.size() == 0) {
    errors->Add(node.Mark(), "seeds", absl::StrCat("expected a non-empty list of integers, got ", Describe(node)));
    return;
  }
  seeds->clear();
  std::set<int64_t> seen;
  for (size_t i = 0; i < node.size(); ++i) {
    YAML::Node wrapper(YAML::NodeType::Map);
    wrapper["seed"] = node[i];
    int64_t seed = -1;
    // Reuse the integer checks of MapReader on a one-key mapping.
    ErrorList local(errors->file());
    MapReader r(wrapper, "", &local);
    r.Int("seed", &seed, 0, INT64_MAX);
    if (!local.empty()) {
      errors->Add(node[i].Mark(), absl::StrCat("seeds[", i, "]"),
                  absl::StrCat("expected an integer >= 0, got ", Describe(node[i])));
      continue;
    }
    if (!seen.insert(seed).second) {
      errors->Add(node[i].Mark(), absl::StrCat("seeds[", i, "]"), absl::StrCat("duplicate seed ", seed));
    }
    seeds->push_back(seed);
  }
}

}  // namespace

absl::StatusOr<ExperimentSpec> ParseExperimentSpec(absl::string_view yaml, absl::string_view file_name) {
  ErrorList errors{std::string(file_name)};
  YAML::Node root;
  if (!LoadDocument(yaml, &errors, &root)) return ToStatus(errors);

  ExperimentSpec spec;
  MapReader top(root, "", &errors);
  ReadName(top, "name", &spec.name, /*required=*/true);
  top.String("description", &spec.description);
  ReadModel(top.Get("model"), "model", &errors, &spec.model);
  AttentionSpec base_attention;
  ReadAttention(top.Get("attention"), "attention", &errors, &base_attention);
  TrainingSpec base_training;
  ReadTraining(top.Get("training"), "training", &errors, &base_training);
  ReadSeeds(top.Get("seeds"), &errors, &spec.seeds);
  top.Int("max_restarts", &spec.max_restarts, 0, 100);
  {
    MapReader r(top.Get("resources"), "resources", &errors);
    r.Int("gpus", &spec.resources.gpus, 0, 64);
    r.Int("priority", &spec.resources.priority, -1000, 1000);
    r.Finish();
  }

  YAML::Node datasets = top.Get("datasets");
  if (!datasets.IsDefined()) {
    errors.Add(root.Mark(), "datasets", "is required (a list of {name, path, ...})");
  } else if (!datasets.IsSequence() || datasets.size() == 0) {
    errors.Add(datasets.Mark(), "datasets",
               absl::StrCat("expected a non-empty list of datasets, got ", Describe(datasets)));
  } else {
    std::set<std::string> names;
    for (size_t i = 0; i < datasets.size(); ++i) {
      DataSpec d;
      std::string path = absl::StrCat("datasets[", i, "]");
      ReadData(datasets[i], path, &errors, &d, /*name_required=*/true);
      if (!d.name.empty() && !names.insert(d.name).second) {
        errors.Add(datasets[i].Mark(), path, absl::StrCat("duplicate dataset name \"", d.name, "\""));
      }
      spec.datasets.push_back(std::move(d));
    }
  }

  YAML::Node variants = top.Get("variants");
  if (!variants.IsDefined()) {
    spec.variants.push_back({"baseline", base_attention, base_training});
  } else if (!variants.IsSequence() || variants.size() == 0) {
    errors.Add(variants.Mark(), "variants",
               absl::StrCat("expected a non-empty list of variants, got ", Describe(variants)));
  } else {
    std::set<std::string> names;
    for (size_t i = 0; i < variants.size(); ++i) {
      std::string path = absl::StrCat("variants[", i, "]");
      Variant v{"", base_attention, base_training};
      MapReader r(variants[i], path, &errors);
      ReadName(r, "name", &v.name, /*required=*/true);
      ReadAttention(r.Get("attention"), r.Path("attention"), &errors, &v.attention);
      ReadTraining(r.Get("training"), r.Path("training"), &errors, &v.training);
      r.Finish();
      if (!v.name.empty() && !names.insert(v.name).second) {
        errors.Add(variants[i].Mark(), path, absl::StrCat("duplicate variant name \"", v.name, "\""));
      }
      spec.variants.push_back(std::move(v));
    }
  }
  top.Finish();
  if (!errors.empty()) return ToStatus(errors);
  return spec;
}

absl::StatusOr<RunSpec> ParseRunSpec(absl::string_view yaml, absl::string_view file_name) {
  ErrorList errors{std::string(file_name)};
  YAML::Node root;
  if (!LoadDocument(yaml, &errors, &root)) return ToStatus(errors);
  RunSpec run;
  MapReader top(root, "", &errors);
  top.String("experiment", &run.experiment);
  top.String("variant", &run.variant);
  top.Int("seed", &run.seed, 0, INT64_MAX);
  top.Int("max_restarts", &run.max_restarts, 0, 100);
  ReadModel(top.Get("model"), "model", &errors, &run.model);
  ReadAttention(top.Get("attention"), "attention", &errors, &run.attention);
  if (!top.Has("data")) errors.Add(root.Mark(), "data", "is required (a mapping with path)");
  ReadData(top.Get("data"), "data", &errors, &run.data, /*name_required=*/false);
  ReadTraining(top.Get("training"), "training", &errors, &run.training);
  top.Finish();
  if (!errors.empty()) return ToStatus(errors);
  return run;
}

namespace {

// Shortest text that parses back to the same double.
std::string Num(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, end);
}

}  // namespace

std::string RunSpecToYaml(const RunSpec& r) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "experiment" << YAML::Value << YAML::DoubleQuoted << r.experiment;
  out << YAML::Key << "variant" << YAML::Value << YAML::DoubleQuoted << r.variant;
  out << YAML::Key << "seed" << YAML::Value << r.seed;
  out << YAML::Key << "max_restarts" << YAML::Value << r.max_restarts;

  out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "arch" << YAML::Value << r.model.arch;
  out << YAML::Key << "n_layer" << YAML::Value << r.model.n_layer;
  out << YAML::Key << "n_head" << YAML::Value << r.model.n_head;
  out << YAML::Key << "n_embd" << YAML::Value << r.model.n_embd;
  out << YAML::Key << "block_size" << YAML::Value << r.model.block_size;
  out << YAML::Key << "dropout" << YAML::Value << Num(r.model.dropout);
  out << YAML::EndMap;

  out << YAML::Key << "attention" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << r.attention.kind;
  out << YAML::EndMap;

  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << r.data.name;
  out << YAML::Key << "path" << YAML::Value << YAML::DoubleQuoted << r.data.path;
  out << YAML::Key << "glob" << YAML::Value << YAML::DoubleQuoted << r.data.glob;
  out << YAML::Key << "tokenizer" << YAML::Value << r.data.tokenizer;
  out << YAML::Key << "val_fraction" << YAML::Value << Num(r.data.val_fraction);
  out << YAML::Key << "max_bytes" << YAML::Value << r.data.max_bytes;
  out << YAML::EndMap;

  const TrainingSpec& t = r.training;
  out << YAML::Key << "training" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "steps" << YAML::Value << t.steps;
  out << YAML::Key << "batch_size" << YAML::Value << t.batch_size;
  out << YAML::Key << "lr" << YAML::Value << Num(t.lr);
  out << YAML::Key << "min_lr" << YAML::Value << Num(t.min_lr);
  out << YAML::Key << "warmup_steps" << YAML::Value << t.warmup_steps;
  out << YAML::Key << "weight_decay" << YAML::Value << Num(t.weight_decay);
  out << YAML::Key << "beta1" << YAML::Value << Num(t.beta1);
  out << YAML::Key << "beta2" << YAML::Value << Num(t.beta2);
  out << YAML::Key << "grad_clip" << YAML::Value << Num(t.grad_clip);
  out << YAML::Key << "eval_every" << YAML::Value << t.eval_every;
  out << YAML::Key << "eval_batches" << YAML::Value << t.eval_batches;
  out << YAML::Key << "log_every" << YAML::Value << t.log_every;
  out << YAML::Key << "device" << YAML::Value << t.device;
  out << YAML::Key << "threads" << YAML::Value << t.threads;
  out << YAML::EndMap;

  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace gwo::spec
