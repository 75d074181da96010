#include "spec/yaml_reader.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gwo::spec {

void ErrorList::Add(const YAML::Mark& mark, absl::string_view path, absl::string_view message) {
  std::string where = file_;
  if (!mark.is_null()) absl::StrAppend(&where, ":", mark.line + 1, ":", mark.column + 1);
  errors_.push_back(path.empty() ? absl::StrCat(where, ": ", message)
                                 : absl::StrCat(where, ": ", path, ": ", message));
}

std::string ErrorList::Joined() const { return absl::StrJoin(errors_, "\n"); }

SourceLocation LocationOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return absl::StrCat("\"", node.Scalar(), "\"");
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Null: return "nothing";
    default: return "an undefined value";
  }
}

std::string ShortestDouble(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, end);
}

// A missing key reads as an empty mapping. (Assigning to a yaml-cpp node that
// came from a missing key throws, hence the choice in the initializer.)
MapReader::MapReader(const YAML::Node& node, std::string path, ErrorList* errors)
    : node_(!node.IsDefined() || node.IsNull() ? YAML::Node(YAML::NodeType::Map) : node),
      path_(std::move(path)),
      errors_(errors) {
  if (node_.IsMap()) {
    is_map_ = true;
  } else {
    errors_->Add(node_.Mark(), path_, absl::StrCat("expected a mapping, got ", Describe(node_)));
  }
}

std::string MapReader::Path(const std::string& key) const {
  return path_.empty() ? key : absl::StrCat(path_, ".", key);
}

bool MapReader::Has(const std::string& key) const { return is_map_ && node_[key].IsDefined(); }

YAML::Node MapReader::Get(const std::string& key) {
  known_.push_back(key);
  if (!is_map_) return YAML::Node(YAML::NodeType::Undefined);
  // A const view so that lookups never insert the key.
  const YAML::Node& view = node_;
  return view[key];
}

void MapReader::String(const std::string& key, std::string* out, bool required) {
  YAML::Node v = Get(key);
  if (!v.IsDefined() || v.IsNull()) {
    if (required && is_map_) errors_->Add(node_.Mark(), Path(key), "is required (a string)");
    return;
  }
  if (!v.IsScalar()) {
    errors_->Add(v.Mark(), Path(key), absl::StrCat("expected a string, got ", Describe(v)));
    return;
  }
  *out = v.Scalar();
}

void MapReader::Enum(const std::string& key, std::string* out,
                     std::initializer_list<absl::string_view> allowed) {
  std::string value = *out;
  String(key, &value);
  if (!Has(key)) return;
  for (absl::string_view a : allowed) {
    if (value == a) {
      *out = value;
      return;
    }
  }
  errors_->Add(node_[key].Mark(), Path(key),
               absl::StrCat("expected one of ", absl::StrJoin(allowed, ", "), "; got \"", value, "\""));
}

namespace {

// Parses a YAML scalar as a whole integer; false for anything else ("1.5", "ten").
bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  *out = v;
  return true;
}

bool ParseDouble(const std::string& s, double* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace

void MapReader::Int(const std::string& key, int64_t* out, int64_t min, int64_t max) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return;
  int64_t value = 0;
  if (!v.IsScalar() || !ParseInt(v.Scalar(), &value)) {
    errors_->Add(v.Mark(), Path(key), absl::StrCat("expected an integer, got ", Describe(v)));
    return;
  }
  if (value < min || value > max) {
    std::string range = max >= INT32_MAX
                            ? absl::StrCat("an integer >= ", min)
                            : absl::StrCat("an integer in [", min, ", ", max, "]");
    errors_->Add(v.Mark(), Path(key), absl::StrCat("expected ", range, ", got ", value));
    return;
  }
  *out = value;
}

void MapReader::Int(const std::string& key, int* out, int min, int max) {
  int64_t value = *out;
  Int(key, &value, min, max);
  *out = static_cast<int>(value);
}

void MapReader::Bool(const std::string& key, bool* out) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return;
  if (v.IsScalar() && (v.Scalar() == "true" || v.Scalar() == "false")) {
    *out = v.Scalar() == "true";
    return;
  }
  errors_->Add(v.Mark(), Path(key), absl::StrCat("expected true or false, got ", Describe(v)));
}

void MapReader::Double(const std::string& key, double* out, double min, double max,
                       bool exclusive_min) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return;
  double value = 0;
  if (!v.IsScalar() || !ParseDouble(v.Scalar(), &value)) {
    errors_->Add(v.Mark(), Path(key), absl::StrCat("expected a number, got ", Describe(v)));
    return;
  }
  bool below = exclusive_min ? value <= min : value < min;
  if (below || value > max) {
    errors_->Add(v.Mark(), Path(key),
                 absl::StrCat("expected a number in ", exclusive_min ? "(" : "[", min, ", ", max,
                              "], got ", v.Scalar()));
    return;
  }
  *out = value;
}

void MapReader::Finish() {
  if (!is_map_) return;
  for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    bool known = false;
    for (const auto& k : known_) known = known || k == key;
    if (!known) {
      errors_->Add(kv.first.Mark(), Path(key),
                   absl::StrCat("unknown key; expected one of: ", absl::StrJoin(known_, ", ")));
    }
  }
}

}  // namespace gwo::spec
