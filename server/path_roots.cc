#include "server/path_roots.h"

#include <limits.h>
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "spec/run_spec.h"

namespace gwo::server {
namespace {

// "/a//b/./c/" -> "/a/b/c"; nullopt when a component is "..".
std::optional<std::string> Normalize(const std::string& path) {
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") return std::nullopt;
    parts.emplace_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

bool Beneath(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

std::optional<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return std::nullopt;
  return std::string(buf);
}

// A tokenizer value that names a file rather than a built-in vocabulary.
bool IsTokenizerPath(const std::string& t) { return t != "byte" && t != "gpt2"; }

}  // namespace

std::vector<std::string> DefaultPathRoots() { return {spec::CorporaDir(), "/usr/lib", "/usr/share"}; }

absl::Status CheckPathUnderRoots(const std::string& path, const std::vector<std::string>& roots,
                                 const std::string& where) {
  const std::string allowed = absl::StrCat("; the coordinator allows paths beneath ", absl::StrJoin(roots, ", "),
                                           " (gwo-coordinator --path_roots)");
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(where, "\"", path, "\" is not an absolute path", allowed));
  }
  std::optional<std::string> normal = Normalize(path);
  if (!normal.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(where, "\"", path, "\" contains \"..\"", allowed));
  }
  bool lexical = false;
  for (const std::string& root : roots) {
    std::optional<std::string> r = Normalize(root);
    if (r.has_value() && Beneath(*normal, *r)) lexical = true;
  }
  if (!lexical) return absl::InvalidArgumentError(absl::StrCat(where, "\"", path, "\" is outside the allowed roots", allowed));
  // Where it exists here, where it really leads must be beneath a root too.
  if (std::optional<std::string> real = RealPath(*normal)) {
    for (const std::string& root : roots) {
      std::optional<std::string> r = RealPath(root);
      if (r.has_value() && Beneath(*real, *r)) return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat(where, "\"", path, "\" leads (through a symbolic link) to ", *real, ", outside the allowed roots",
                     allowed));
  }
  return absl::OkStatus();
}

absl::Status CheckSpecPaths(const spec::ExperimentSpec& spec, const std::vector<std::string>& roots,
                            const std::string& file_name) {
  if (roots.empty()) return absl::OkStatus();
  std::vector<std::string> errors;
  auto check = [&](const std::string& path, const spec::SourceLocation& at, const std::string& key) {
    absl::Status s = CheckPathUnderRoots(path, roots, absl::StrCat(file_name, ":", at.line, ":", at.column, ": ", key, ": "));
    if (!s.ok()) errors.emplace_back(s.message());
  };
  for (size_t i = 0; i < spec.datasets.size(); ++i) {
    const spec::DataSpec& d = spec.datasets[i];
    if (d.recipe.empty()) check(d.path, d.path_location, absl::StrCat("datasets[", i, "].path"));
    if (IsTokenizerPath(d.tokenizer)) check(d.tokenizer, d.path_location, absl::StrCat("datasets[", i, "].tokenizer"));
  }
  auto check_init = [&](const spec::ModelSpec& m, const std::string& key) {
    if (m.init != "scratch" && m.init_from_run == 0 && m.init_from_variant.empty()) check(m.init, m.init_location, key);
  };
  check_init(spec.model, "model.init");
  for (const spec::Variant& v : spec.variants) {
    if (v.init.has_value()) check_init(*v.init, absl::StrCat("variants.", v.name, ".init"));
    const spec::DistillSpec& d = v.training.distill;
    if (!d.teacher.empty() && d.teacher_from_run == 0 && d.teacher_from_variant.empty()) {
      check(d.teacher, d.teacher_location, absl::StrCat("variants.", v.name, ".training.distill.teacher"));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

}  // namespace gwo::server
