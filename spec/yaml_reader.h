// A small typed reader over yaml-cpp nodes that records every problem as
// `file:line:column: key.path: what was expected, got ...`. The spec parser is
// built from it, so every field is checked the same way.
#ifndef GWO_SPEC_YAML_READER_H_
#define GWO_SPEC_YAML_READER_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "spec/run_spec.h"
#include "yaml-cpp/yaml.h"

namespace gwo::spec {

// Collects errors; shared by all readers of one document.
class ErrorList {
 public:
  explicit ErrorList(std::string file_name) : file_(std::move(file_name)) {}
  void Add(const YAML::Mark& mark, absl::string_view path, absl::string_view message);
  bool empty() const { return errors_.empty(); }
  // All errors, one per line.
  std::string Joined() const;
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

SourceLocation LocationOf(const YAML::Node& node);

// Reads the keys of one YAML mapping. Construct with the mapping node and its key
// path ("training"); call the typed getters for each known key, then Finish(),
// which reports keys that no getter asked for. Getters leave `out` unchanged when
// the key is absent, so defaults and inherited values stay.
class MapReader {
 public:
  // Reports an error (and reads nothing) when `node` is defined but not a mapping.
  MapReader(const YAML::Node& node, std::string path, ErrorList* errors);

  bool ok() const { return is_map_; }
  bool Has(const std::string& key) const;
  YAML::Node Get(const std::string& key);  // marks key as known; may be undefined
  std::string Path(const std::string& key) const;

  void String(const std::string& key, std::string* out, bool required = false);
  // `out` must be one of `allowed`.
  void Enum(const std::string& key, std::string* out, std::initializer_list<absl::string_view> allowed);
  void Int(const std::string& key, int64_t* out, int64_t min, int64_t max);
  void Int(const std::string& key, int* out, int min, int max);
  void Bool(const std::string& key, bool* out);
  // Inclusive bounds unless `exclusive_min`.
  void Double(const std::string& key, double* out, double min, double max, bool exclusive_min = false);

  // Reports unknown keys, listing the known ones.
  void Finish();

  ErrorList* errors() const { return errors_; }
  const YAML::Node& node() const { return node_; }

 private:
  YAML::Node node_;
  std::string path_;
  ErrorList* errors_;
  bool is_map_ = false;
  std::vector<std::string> known_;
};

// A readable rendering of a scalar or a node kind for messages ("\"abc\"", "a list").
std::string Describe(const YAML::Node& node);

// The shortest text that parses back to the same double (for emitted YAML).
std::string ShortestDouble(double v);

}  // namespace gwo::spec

#endif  // GWO_SPEC_YAML_READER_H_
