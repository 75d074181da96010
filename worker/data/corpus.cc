#include "worker/data/corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/byte_tokenizer.h"
#include "worker/data/corpus_files.h"
#include "worker/data/fnv1a.h"

namespace gwo::data {
namespace {

namespace fs = std::filesystem;

struct Document {
  std::string relative_path;
  std::string bytes;
  uint64_t hash = 0;
};

// Reads at most `limit` bytes of `path` (limit < 0: all of it).
absl::StatusOr<std::string> ReadUpTo(const std::string& path, int64_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot open corpus file '", path, "'"));
  std::string bytes;
  char buffer[1 << 16];
  while (limit < 0 || static_cast<int64_t>(bytes.size()) < limit) {
    int64_t want = sizeof(buffer);
    if (limit >= 0) want = std::min<int64_t>(want, limit - static_cast<int64_t>(bytes.size()));
    in.read(buffer, want);
    bytes.append(buffer, static_cast<size_t>(in.gcount()));
    if (in.gcount() < want) break;
  }
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read corpus file '", path, "'"));
  return bytes;
}

double UnitInterval(uint64_t hash) { return static_cast<double>(hash >> 11) * 0x1.0p-53; }

absl::Status CheckSplitSize(const spec::DataSpec& data, const char* split, size_t tokens,
                            int block_size) {
  if (static_cast<int64_t>(tokens) >= static_cast<int64_t>(block_size) + 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the ", split, " split of corpus '", data.name, "' (", data.path, ") has ",
                   tokens, " tokens, fewer than block_size + 1 = ", block_size + 1,
                   "; use more data (max_bytes, glob) or a different val_fraction"));
}

}  // namespace

bool IsValidationDocument(std::string_view relative_path, double val_fraction) {
  return UnitInterval(Fnv1a64(relative_path)) < val_fraction;
}

absl::StatusOr<Corpus> LoadCorpus(const spec::DataSpec& data, int block_size) {
  if (data.tokenizer != "byte") {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer '", data.tokenizer, "' is not supported by gwo-train (known: byte)"));
  }
  absl::StatusOr<std::vector<std::string>> files = ListCorpusFiles(data.path, data.glob);
  if (!files.ok()) return files.status();

  const bool single_file = files->size() == 1 && fs::is_regular_file(data.path);
  std::vector<Document> docs;
  int64_t total = 0;
  for (const std::string& file : *files) {
    const int64_t limit = data.max_bytes > 0 ? data.max_bytes - total : -1;
    if (limit == 0) break;
    absl::StatusOr<std::string> bytes = ReadUpTo(file, limit);
    if (!bytes.ok()) return bytes.status();
    if (bytes->empty()) continue;
    total += static_cast<int64_t>(bytes->size());
    Document doc;
    doc.relative_path = single_file ? fs::path(file).filename().generic_string()
                                    : fs::path(file).lexically_relative(data.path).generic_string();
    doc.hash = Fnv1a64(doc.relative_path);
    doc.bytes = *std::move(bytes);
    docs.push_back(std::move(doc));
  }
  if (docs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("corpus '", data.name, "' (", data.path, ") is empty: no bytes to train on"));
  }

  Corpus corpus;
  const ByteTokenizer tokenizer;
  corpus.vocab_size = tokenizer.vocab_size();
  corpus.bytes = total;
  if (docs.size() == 1) {
    const std::string& bytes = docs[0].bytes;
    const auto cut =
        static_cast<size_t>(static_cast<double>(bytes.size()) * (1.0 - data.val_fraction));
    tokenizer.EncodeAppend(std::string_view(bytes).substr(0, cut), corpus.train);
    tokenizer.EncodeAppend(std::string_view(bytes).substr(cut), corpus.val);
    corpus.train_docs = corpus.val_docs = {docs[0].relative_path};
  } else {
    std::vector<bool> is_val(docs.size());
    for (size_t i = 0; i < docs.size(); ++i) {
      is_val[i] = IsValidationDocument(docs[i].relative_path, data.val_fraction);
    }
    // Guarantee one document on each side, chosen by hash so the choice is stable.
    auto by_hash = [](const Document& a, const Document& b) { return a.hash < b.hash; };
    if (std::none_of(is_val.begin(), is_val.end(), [](bool v) { return v; })) {
      is_val[std::min_element(docs.begin(), docs.end(), by_hash) - docs.begin()] = true;
    }
    if (std::all_of(is_val.begin(), is_val.end(), [](bool v) { return v; })) {
      is_val[std::max_element(docs.begin(), docs.end(), by_hash) - docs.begin()] = false;
    }
    for (size_t i = 0; i < docs.size(); ++i) {
      tokenizer.EncodeAppend(docs[i].bytes, is_val[i] ? corpus.val : corpus.train);
      (is_val[i] ? corpus.val_docs : corpus.train_docs).push_back(docs[i].relative_path);
    }
  }
  if (absl::Status s = CheckSplitSize(data, "training", corpus.train.size(), block_size); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckSplitSize(data, "validation", corpus.val.size(), block_size); !s.ok()) {
    return s;
  }
  return corpus;
}

}  // namespace gwo::data
