#include "worker/data/recipes.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "worker/data/file_io.h"

namespace gwo::data {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kPrepareHint[] = "run deploy/prepare-corpora.sh";

}  // namespace

const std::vector<std::string>& PreparableRecipes() {
  static const auto* recipes = [] {
    auto* all = new std::vector<std::string>(spec::CorpusRecipes());
    all->push_back("gpt2");
    return all;
  }();
  return *recipes;
}

int RecipeVersion(const std::string& recipe) {
  // One line per recipe; bump a number when that recipe's output changes.
  if (recipe == "brown") return 1;
  if (recipe == "python-stdlib") return 1;
  if (recipe == "math-synth") return 1;
  if (recipe == "spam") return 1;
  if (recipe == "gpt2") return 1;
  return 0;
}

std::string RecipeDir(const std::string& corpora_dir, const std::string& recipe) {
  return (fs::path(corpora_dir) / recipe).string();
}

std::string ManifestPath(const std::string& corpora_dir, const std::string& recipe) {
  return (fs::path(corpora_dir) / recipe / "recipe.json").string();
}

std::string RecipeManifestToJson(const RecipeManifest& m) {
  const Json json = {{"recipe", m.recipe}, {"version", m.version},     {"path", m.path},
                     {"glob", m.glob},     {"format", m.format},       {"source", m.source},
                     {"files", m.files},   {"documents", m.documents}, {"bytes", m.bytes}};
  return json.dump(2) + "\n";
}

absl::StatusOr<RecipeManifest> ReadRecipeManifest(const std::string& corpora_dir,
                                                  const std::string& recipe) {
  const std::string path = ManifestPath(corpora_dir, recipe);
  absl::StatusOr<std::string> text = ReadFileUpTo(path, 1 << 20);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat("recipe '", recipe, "' is not prepared under ",
                                            corpora_dir, "; ", kPrepareHint));
  }
  if (!text.ok()) return text.status();
  const Json json = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  RecipeManifest m;
  const auto field = [&](const char* key, auto* out) {
    const auto it = json.find(key);
    if (it == json.end()) return false;
    using T = std::remove_pointer_t<decltype(out)>;
    if constexpr (std::is_same_v<T, std::string>) {
      if (!it->is_string()) return false;
    } else {
      if (!it->is_number_integer()) return false;
    }
    *out = it->template get<T>();
    return true;
  };
  if (!json.is_object() || !field("recipe", &m.recipe) || !field("version", &m.version) ||
      !field("path", &m.path) || !field("glob", &m.glob) || !field("format", &m.format) ||
      !field("source", &m.source) || !field("files", &m.files) ||
      !field("documents", &m.documents) || !field("bytes", &m.bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest ", path, " is damaged (expected JSON with recipe, version, path, "
                     "glob, format, source, files, documents, bytes); ", kPrepareHint));
  }
  return m;
}

absl::StatusOr<spec::DataSpec> ResolveRecipe(const spec::DataSpec& data,
                                             const std::string& corpora_dir) {
  if (data.recipe.empty()) return data;
  const std::vector<std::string>& known = spec::CorpusRecipes();
  if (std::find(known.begin(), known.end(), data.recipe) == known.end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown recipe '", data.recipe,
                                                   "' (known: ", absl::StrJoin(known, ", "), ")"));
  }
  absl::StatusOr<RecipeManifest> manifest = ReadRecipeManifest(corpora_dir, data.recipe);
  if (!manifest.ok()) return manifest.status();
  if (manifest->version != RecipeVersion(data.recipe)) {
    return absl::FailedPreconditionError(
        absl::StrCat("recipe '", data.recipe, "' under ", corpora_dir, " was prepared as version ",
                     manifest->version, ", this gwo reads version ", RecipeVersion(data.recipe),
                     "; ", kPrepareHint));
  }
  const fs::path path = fs::path(RecipeDir(corpora_dir, data.recipe)) / manifest->path;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("recipe '", data.recipe, "' is not prepared under ",
                                            corpora_dir, " (", path.string(), " is missing); ",
                                            kPrepareHint));
  }
  spec::DataSpec resolved = data;
  resolved.path = path.lexically_normal().string();
  resolved.glob = manifest->glob;
  resolved.format = manifest->format;
  return resolved;
}

}  // namespace gwo::data
