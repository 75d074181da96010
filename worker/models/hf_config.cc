#include "worker/models/hf_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace gwo::models {
namespace {

using Json = nlohmann::json;

// Typed access to a config object; the first problem is kept in `error`.
class ConfigReader {
 public:
  ConfigReader(const Json& json, const std::string& name) : json_(json), name_(name) {}

  int Int(const char* key, int fallback) {
    return Get<int>(key, fallback, "a non-negative integer", [](const Json& v) {
      return v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= INT32_MAX;
    });
  }
  double Double(const char* key, double fallback) {
    return Get<double>(key, fallback, "a number", [](const Json& v) { return v.is_number(); });
  }
  bool Bool(const char* key, bool fallback) {
    return Get<bool>(key, fallback, "true or false", [](const Json& v) { return v.is_boolean(); });
  }
  std::string String(const char* key, const std::string& fallback) {
    return Get<std::string>(key, fallback, "a string", [](const Json& v) { return v.is_string(); });
  }
  // Fails unless `key` is absent or equal to one of `allowed`; `why` says what gwo lacks.
  void Require(const char* key, std::initializer_list<Json> allowed, const char* why) {
    const Json* v = Find(key);
    if (v == nullptr) return;
    for (const Json& a : allowed) {
      if (*v == a) return;
    }
    if (error.ok()) {
      error = absl::InvalidArgumentError(
          absl::StrCat(name_, ": ", key, " = ", v->dump(), " is not supported (", why, ")"));
    }
  }
  // The value of `key` when present and not null.
  const Json* Find(const char* key) const {
    auto it = json_.find(key);
    return it == json_.end() || it->is_null() ? nullptr : &*it;
  }

  absl::Status error;

 private:
  // The value of `key` when present, not null and `valid`; else `fallback` (and an
  // error saying `expected` when present but not valid).
  template <typename T, typename Valid>
  T Get(const char* key, T fallback, const char* expected, Valid valid) {
    const Json* v = Find(key);
    if (v == nullptr) return fallback;
    if (!valid(*v)) {
      if (error.ok()) {
        error = absl::InvalidArgumentError(
            absl::StrCat(name_, ": ", key, " must be ", expected, ", got ", v->dump()));
      }
      return fallback;
    }
    return v->get<T>();
  }

  const Json& json_;
  std::string name_;
};

// Defaults are those of transformers' GPT2Config.
void ReadGpt2(ConfigReader& r, spec::ModelSpec& m) {
  m.arch = "gpt2";
  m.vocab_size = r.Int("vocab_size", 50257);
  m.block_size = r.Int("n_positions", 1024);
  m.n_embd = r.Int("n_embd", 768);
  m.n_layer = r.Int("n_layer", 12);
  m.n_head = r.Int("n_head", 12);
  m.n_kv_head = m.n_head;
  m.head_dim = m.n_head > 0 ? m.n_embd / m.n_head : 0;
  m.intermediate_size = r.Int("n_inner", 4 * m.n_embd);
  m.norm_eps = r.Double("layer_norm_epsilon", 1e-5);
  m.tie_embeddings = r.Bool("tie_word_embeddings", true);
  r.Require("activation_function", {"gelu_new", "gelu_pytorch_tanh"},
            "gwo's GPT-2 uses the tanh approximation of GELU");
  r.Require("scale_attn_weights", {true}, "attention scores are always scaled by 1/sqrt(hd)");
  r.Require("scale_attn_by_inverse_layer_idx", {false}, "not implemented");
  r.Require("add_cross_attention", {false}, "decoder-only");
}

// Defaults are those of transformers' Qwen3Config.
void ReadQwen3(ConfigReader& r, spec::ModelSpec& m) {
  m.arch = "qwen3";
  m.vocab_size = r.Int("vocab_size", 151936);
  m.block_size = r.Int("max_position_embeddings", 32768);
  m.n_embd = r.Int("hidden_size", 4096);
  m.n_layer = r.Int("num_hidden_layers", 32);
  m.n_head = r.Int("num_attention_heads", 32);
  m.n_kv_head = r.Int("num_key_value_heads", m.n_head);
  m.head_dim = r.Int("head_dim", 128);
  m.intermediate_size = r.Int("intermediate_size", 22016);
  m.norm_eps = r.Double("rms_norm_eps", 1e-6);
  m.tie_embeddings = r.Bool("tie_word_embeddings", false);
  m.rope_theta = r.Double("rope_theta", 10000.0);
  r.Require("hidden_act", {"silu"}, "gwo's SwiGLU uses SiLU");
  r.Require("attention_bias", {false}, "q/k/v/o projections have no biases");
  r.Require("use_sliding_window", {false}, "sliding-window layers are not implemented");
  r.Require("rope_scaling", {}, "only plain RoPE is implemented");
  if (const Json* types = r.Find("layer_types"); types != nullptr) {
    for (const Json& type : *types) {
      if (type != "full_attention") {
        r.Require("layer_types", {}, "every layer has full causal attention in gwo");
        break;
      }
    }
  }
  // transformers >= 5 keeps RoPE settings in rope_parameters.
  if (const Json* rope = r.Find("rope_parameters"); rope != nullptr && rope->is_object()) {
    ConfigReader rope_reader(*rope, "rope_parameters");
    m.rope_theta = rope_reader.Double("rope_theta", m.rope_theta);
    rope_reader.Require("rope_type", {"default"}, "only plain RoPE is implemented");
    if (r.error.ok()) r.error = rope_reader.error;
  }
}

std::string ReadAll(std::ifstream& in) {
  std::ostringstream content;
  content << in.rdbuf();
  return std::move(content).str();
}

}  // namespace

absl::StatusOr<spec::ModelSpec> ModelSpecFromHfConfigJson(std::string_view text,
                                                          const std::string& name) {
  Json json;
  try {
    json = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not valid JSON: ", e.what()));
  }
  if (!json.is_object())
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a JSON object"));
  ConfigReader r(json, name);
  std::string model_type = r.String("model_type", "");
  if (model_type.empty()) {  // older configs name only the class
    if (const Json* arch = r.Find("architectures");
        arch != nullptr && arch->is_array() && !arch->empty() && (*arch)[0].is_string()) {
      const std::string cls = (*arch)[0].get<std::string>();
      if (cls.starts_with("GPT2")) model_type = "gpt2";
      if (cls.starts_with("Qwen3")) model_type = "qwen3";
    }
  }
  spec::ModelSpec m;
  if (model_type == "gpt2") {
    ReadGpt2(r, m);
  } else if (model_type == "qwen3") {
    ReadQwen3(r, m);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": model_type '", model_type, "' is not supported (gpt2, qwen3)"));
  }
  if (!r.error.ok()) return r.error;
  return m;
}

absl::StatusOr<spec::ModelSpec> ModelSpecFromHfConfig(const std::string& path) {
  std::error_code ec;
  const std::string file = std::filesystem::is_directory(path, ec)
                               ? (std::filesystem::path(path) / "config.json").string()
                               : path;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(file, ec)) {
      return absl::NotFoundError(absl::StrCat(file, " does not exist"));
    }
    return absl::InternalError(absl::StrCat("cannot read ", file));
  }
  return ModelSpecFromHfConfigJson(ReadAll(in), file);
}

absl::StatusOr<std::vector<std::string>> WeightFiles(const std::string& dir) {
  const std::filesystem::path root(dir);
  std::error_code ec;
  if (std::filesystem::exists(root / "model.safetensors", ec)) {
    return std::vector<std::string>{(root / "model.safetensors").string()};
  }
  const std::string index = (root / "model.safetensors.index.json").string();
  std::ifstream in(index, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(dir, " has neither model.safetensors nor model.safetensors.index.json"));
  }
  Json json;
  try {
    json = Json::parse(ReadAll(in));
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(index, ": not valid JSON: ", e.what()));
  }
  const auto map = json.is_object() ? json.find("weight_map") : json.end();
  if (map == json.end() || !map->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(index, ": no \"weight_map\" object"));
  }
  std::set<std::string> files;
  for (const auto& [tensor, file] : map->items()) {
    if (!file.is_string() || file.get<std::string>().empty() ||
        file.get<std::string>().find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(index, ": tensor '", tensor, "' maps to ",
                                                     file.dump(), ", not a file in ", dir));
    }
    files.insert((root / file.get<std::string>()).string());
  }
  return std::vector<std::string>(files.begin(), files.end());
}

std::string HfConfigJson(const spec::ModelSpec& m, std::string_view torch_dtype) {
  Json json;
  if (m.arch == "gpt2") {
    json = {{"architectures", {"GPT2LMHeadModel"}},
            {"model_type", "gpt2"},
            {"activation_function", "gelu_new"},
            {"attn_pdrop", m.dropout},
            {"embd_pdrop", m.dropout},
            {"resid_pdrop", m.dropout},
            {"initializer_range", 0.02},
            {"layer_norm_epsilon", m.norm_eps},
            {"n_ctx", m.block_size},
            {"n_embd", m.n_embd},
            {"n_head", m.n_head},
            {"n_inner", m.intermediate_size},
            {"n_layer", m.n_layer},
            {"n_positions", m.block_size},
            {"reorder_and_upcast_attn", false},
            {"scale_attn_by_inverse_layer_idx", false},
            {"scale_attn_weights", true},
            {"tie_word_embeddings", m.tie_embeddings},
            {"use_cache", true},
            {"vocab_size", m.vocab_size}};
  } else {
    json = {{"architectures", {"Qwen3ForCausalLM"}},
            {"model_type", "qwen3"},
            {"attention_bias", false},
            {"attention_dropout", m.dropout},
            {"head_dim", m.head_dim},
            {"hidden_act", "silu"},
            {"hidden_size", m.n_embd},
            {"initializer_range", 0.02},
            {"intermediate_size", m.intermediate_size},
            {"max_position_embeddings", m.block_size},
            {"max_window_layers", m.n_layer},
            {"num_attention_heads", m.n_head},
            {"num_hidden_layers", m.n_layer},
            {"num_key_value_heads", m.n_kv_head},
            {"rms_norm_eps", m.norm_eps},
            {"rope_scaling", nullptr},
            {"rope_theta", m.rope_theta},
            {"sliding_window", nullptr},
            {"tie_word_embeddings", m.tie_embeddings},
            {"use_cache", true},
            {"use_sliding_window", false},
            {"vocab_size", m.vocab_size}};
  }
  // GPT-2's <|endoftext|> when the vocabulary has it; otherwise none (HF warns about
  // ids outside the vocabulary, and GPT2Config would default to 50256).
  const Json end_of_text = m.arch == "gpt2" && m.vocab_size > 50256 ? Json(50256) : Json(nullptr);
  json["bos_token_id"] = end_of_text;
  json["eos_token_id"] = end_of_text;
  json["torch_dtype"] = torch_dtype;
  return json.dump(2) + "\n";
}

std::vector<std::string> ShapeDifferences(const spec::ModelSpec& a, const spec::ModelSpec& b) {
  std::vector<std::string> out;
  auto compare = [&](const char* field, const auto& x, const auto& y) {
    if (x != y) out.push_back(absl::StrCat(field, ": ", x, " vs ", y));
  };
  auto compare_real = [&](const char* field, double x, double y) {
    if (std::abs(x - y) > 1e-9 * std::max(std::abs(x), std::abs(y))) {
      out.push_back(absl::StrCat(field, ": ", x, " vs ", y));
    }
  };
  compare("arch", a.arch, b.arch);
  if (!out.empty()) return out;
  compare("vocab_size", a.vocab_size, b.vocab_size);
  compare("n_layer", a.n_layer, b.n_layer);
  compare("n_embd", a.n_embd, b.n_embd);
  compare("n_head", a.n_head, b.n_head);
  compare("n_kv_head", a.n_kv_head, b.n_kv_head);
  compare("head_dim", a.head_dim, b.head_dim);
  compare("intermediate_size", a.intermediate_size, b.intermediate_size);
  compare_real("norm_eps", a.norm_eps, b.norm_eps);
  auto name = [](bool tied) { return std::string(tied ? "tied" : "untied"); };
  compare("tie_embeddings", name(a.tie_embeddings), name(b.tie_embeddings));
  if (a.arch == "gpt2") compare("block_size", a.block_size, b.block_size);
  if (a.arch == "qwen3") compare_real("rope_theta", a.rope_theta, b.rope_theta);
  return out;
}

}  // namespace gwo::models
