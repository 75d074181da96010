#include "spec/parse.h"

#include <charconv>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/attention_kinds.h"
#include "spec/parse_internal.h"
#include "spec/parse_attention.h"
#include "spec/parse_training.h"
#include "spec/yaml_guard.h"
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

void ReadModel(const YAML::Node& node, const std::string& path, ErrorList* errors, ModelSpec* m,
               bool allow_from_run) {
  MapReader r(node, path, errors);
  r.Enum("arch", &m->arch, {"gpt2", "qwen3"});
  r.Int("n_layer", &m->n_layer, 1, 1024);
  r.Int("n_head", &m->n_head, 1, 1024);
  r.Int("n_embd", &m->n_embd, 1, 65536);
  r.Int("block_size", &m->block_size, 2, 1 << 20);
  r.Double("dropout", &m->dropout, 0.0, 0.99);
  r.Int("n_kv_head", &m->n_kv_head, 0, 1024);
  r.Int("head_dim", &m->head_dim, 0, 4096);
  r.Int("intermediate_size", &m->intermediate_size, 0, 1 << 20);
  r.Double("rope_theta", &m->rope_theta, 1.0, 1e12);
  r.Double("norm_eps", &m->norm_eps, 0.0, 1.0);
  r.Bool("tie_embeddings", &m->tie_embeddings);
  r.Int("vocab_size", &m->vocab_size, 0, 1 << 24);
  internal::ReadInit(r, errors, m, /*job_yaml=*/allow_from_run);
  r.Finish();
  if (!r.ok()) return;
  auto mark = [&](const char* key) { return r.Has(key) ? r.Get(key).Mark() : r.node().Mark(); };
  if (m->head_dim == 0 && m->n_embd % m->n_head != 0) {
    errors->Add(mark("n_head"), r.Path("n_head"),
                absl::StrCat("must divide n_embd (", m->n_embd, ") unless head_dim is set, got ", m->n_head));
  }
  if (m->arch == "gpt2" && m->head_dim != 0 && m->head_dim * m->n_head != m->n_embd) {
    errors->Add(mark("head_dim"), r.Path("head_dim"), "gpt2 needs head_dim * n_head == n_embd");
  }
  if (m->arch == "gpt2" && m->n_kv_head != 0 && m->n_kv_head != m->n_head) {
    errors->Add(mark("n_kv_head"), r.Path("n_kv_head"), "gpt2 has no grouped-query attention; leave it 0");
  }
  if (m->n_kv_head != 0 && m->n_head % m->n_kv_head != 0) {
    errors->Add(mark("n_kv_head"), r.Path("n_kv_head"),
                absl::StrCat("must divide n_head (", m->n_head, "), got ", m->n_kv_head));
  }
}

void ReadData(const YAML::Node& node, const std::string& path, ErrorList* errors, DataSpec* d,
              bool name_required) {
  MapReader r(node, path, errors);
  ReadName(r, "name", &d->name, name_required);
  r.String("recipe", &d->recipe);
  if (r.Has("recipe")) {
    d->path_location = LocationOf(r.Get("recipe"));
    bool known = false;
    for (const std::string& k : CorpusRecipes()) known = known || k == d->recipe;
    if (!known) {
      errors->Add(r.Get("recipe").Mark(), r.Path("recipe"),
                  absl::StrCat("unknown recipe \"", d->recipe, "\"; expected one of: ",
                               absl::StrJoin(CorpusRecipes(), ", ")));
    }
  }
  r.String("path", &d->path, /*required=*/!r.Has("recipe"));
  if (r.Has("path")) d->path_location = LocationOf(r.Get("path"));
  if (r.Has("path") && d->path.empty()) {
    errors->Add(r.Get("path").Mark(), r.Path("path"), "expected a non-empty path");
  }
  if (r.Has("path") && r.Has("recipe")) {
    errors->Add(r.Get("path").Mark(), r.Path("path"), "give either recipe or path, not both");
  }
  r.String("glob", &d->glob);
  r.Enum("format", &d->format, {"text", "jsonl", "tagged", "labelled_jsonl"});
  r.String("field", &d->field);
  r.String("label_field", &d->label_field);
  r.String("tokenizer", &d->tokenizer);
  if (r.Has("tokenizer") && d->tokenizer.empty()) {
    errors->Add(r.Get("tokenizer").Mark(), r.Path("tokenizer"),
                "expected \"byte\", \"gpt2\" or a path to tokenizer files");
  }
  r.Double("val_fraction", &d->val_fraction, 0.0, 0.9, /*exclusive_min=*/true);
  r.Int("max_bytes", &d->max_bytes, 0, INT64_MAX);
  r.Int("max_bytes_per_label", &d->max_bytes_per_label, 0, INT64_MAX);
  r.Finish();
}

void ReadTraining(const YAML::Node& node, const std::string& path, ErrorList* errors,
                  TrainingSpec* t) {
  MapReader r(node, path, errors);
  r.Int("steps", &t->steps, 1, kMaxSteps);
  r.Int("batch_size", &t->batch_size, 1, 1 << 20);
  r.Int("micro_batch_size", &t->micro_batch_size, 0, 1 << 20);
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
  r.Enum("precision", &t->precision, {"auto", "bf16", "fp16", "tf32", "fp32"});
  r.Bool("cuda_graph", &t->cuda_graph);
  r.Int("checkpoint_every", &t->checkpoint_every, 0, kMaxSteps);
  r.Int("keep_checkpoints", &t->keep_checkpoints, 1, 1000);
  r.Int("threads", &t->threads, 0, 1024);
  ReadTrainingModes(r, errors, t);
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
  if (t->micro_batch_size > t->batch_size) {
    errors->Add(r.Get("micro_batch_size").Mark(), r.Path("micro_batch_size"),
                absl::StrCat("must not exceed batch_size (", t->batch_size, ")"));
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
  if (!CheckYamlText(text, errors)) return false;
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
  return ParseExperimentSpec(yaml, file_name, "");
}

absl::StatusOr<ExperimentSpec> ParseExperimentSpec(absl::string_view yaml, absl::string_view file_name,
                                                   absl::string_view scale) {
  ErrorList errors{std::string(file_name)};
  YAML::Node root;
  if (!LoadDocument(yaml, &errors, &root)) return ToStatus(errors);
  internal::ApplyScale(root, std::string(scale), &errors);
  if (!errors.empty()) return ToStatus(errors);

  ExperimentSpec spec;
  MapReader top(root, "", &errors);
  ReadName(top, "name", &spec.name, /*required=*/true);
  top.String("description", &spec.description);
  ReadModel(top.Get("model"), "model", &errors, &spec.model, /*allow_from_run=*/true);
  AttentionSpec base_attention;
  ReadAttention(top.Get("attention"), "attention", &errors, &base_attention);
  TrainingSpec base_training;
  ReadTraining(top.Get("training"), "training", &errors, &base_training);
  ReadSeeds(top.Get("seeds"), &errors, &spec.seeds);
  top.Int("max_restarts", &spec.max_restarts, 0, 100);
  internal::ReadResources(top.Get("resources"), &errors, &spec.resources);

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
      internal::ReadVariantInit(r, &errors, &v);
      r.Finish();
      if (!v.name.empty() && !names.insert(v.name).second) {
        errors.Add(variants[i].Mark(), path, absl::StrCat("duplicate variant name \"", v.name, "\""));
      }
      spec.variants.push_back(std::move(v));
    }
  }
  top.Finish();
  if (errors.empty()) internal::CheckStages(spec, &errors);
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
  ReadModel(top.Get("model"), "model", &errors, &run.model, /*allow_from_run=*/false);
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
std::string Num(double v) { return ShortestDouble(v); }

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
  out << YAML::Key << "n_kv_head" << YAML::Value << r.model.n_kv_head;
  out << YAML::Key << "head_dim" << YAML::Value << r.model.head_dim;
  out << YAML::Key << "intermediate_size" << YAML::Value << r.model.intermediate_size;
  out << YAML::Key << "rope_theta" << YAML::Value << Num(r.model.rope_theta);
  out << YAML::Key << "norm_eps" << YAML::Value << Num(r.model.norm_eps);
  out << YAML::Key << "tie_embeddings" << YAML::Value << (r.model.tie_embeddings ? "true" : "false");
  out << YAML::Key << "vocab_size" << YAML::Value << r.model.vocab_size;
  internal::WriteInit(r.model, &out);
  out << YAML::EndMap;

  out << YAML::Key << "attention" << YAML::Value;
  WriteAttention(r.attention, &out);

  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << r.data.name;
  if (!r.data.recipe.empty()) out << YAML::Key << "recipe" << YAML::Value << r.data.recipe;
  if (!r.data.path.empty()) out << YAML::Key << "path" << YAML::Value << YAML::DoubleQuoted << r.data.path;
  out << YAML::Key << "glob" << YAML::Value << YAML::DoubleQuoted << r.data.glob;
  out << YAML::Key << "format" << YAML::Value << r.data.format;
  out << YAML::Key << "field" << YAML::Value << YAML::DoubleQuoted << r.data.field;
  out << YAML::Key << "label_field" << YAML::Value << YAML::DoubleQuoted << r.data.label_field;
  out << YAML::Key << "tokenizer" << YAML::Value << YAML::DoubleQuoted << r.data.tokenizer;
  out << YAML::Key << "val_fraction" << YAML::Value << Num(r.data.val_fraction);
  out << YAML::Key << "max_bytes" << YAML::Value << r.data.max_bytes;
  if (r.data.max_bytes_per_label > 0) out << YAML::Key << "max_bytes_per_label" << YAML::Value << r.data.max_bytes_per_label;
  out << YAML::EndMap;

  const TrainingSpec& t = r.training;
  out << YAML::Key << "training" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "steps" << YAML::Value << t.steps;
  out << YAML::Key << "batch_size" << YAML::Value << t.batch_size;
  out << YAML::Key << "micro_batch_size" << YAML::Value << t.micro_batch_size;
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
  out << YAML::Key << "precision" << YAML::Value << t.precision;
  out << YAML::Key << "cuda_graph" << YAML::Value << t.cuda_graph;
  out << YAML::Key << "checkpoint_every" << YAML::Value << t.checkpoint_every;
  out << YAML::Key << "keep_checkpoints" << YAML::Value << t.keep_checkpoints;
  out << YAML::Key << "threads" << YAML::Value << t.threads;
  EmitTrainingModes(out, t);
  out << YAML::EndMap;

  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace gwo::spec
