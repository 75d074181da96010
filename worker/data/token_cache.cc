#include "worker/data/token_cache.h"

#include <bit>
#include <cstring>
#include <filesystem>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "worker/data/corpus.h"
#include "worker/data/corpus_files.h"
#include "worker/data/fnv1a.h"
#include "worker/data/readers.h"

namespace gwo::data {

static_assert(std::endian::native == std::endian::little, "token files are little-endian");

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kMagic[8] = {'G', 'W', 'O', 'T', 'O', 'K', 'C', '\0'};
constexpr uint32_t kVersion = 1;  // the file layout
// Bump when what ReadDocuments, SplitByDocument or TokenizeDocuments produce for the
// same input changes (e.g. DetagText's spacing), so older token files are not reused.
constexpr int kPipelineVersion = 1;
constexpr size_t kHeaderBytes = 128;
constexpr size_t kHeaderChecksumAt = 120;

// FNV-1a over 64-bit words (then the tail bytes): the checksum of token files and
// corpus contents, ~8x faster than the byte-wise hash. Update may be called on
// pieces of any size; the result is that of one call on their concatenation.
class Checksum {
 public:
  Checksum& Update(const char* data, size_t size) {
    while (pending_size_ > 0 && size > 0) {
      pending_[pending_size_++] = *data++;
      --size;
      if (pending_size_ == 8) {
        Mix(pending_);
        pending_size_ = 0;
      }
    }
    for (; size >= 8; data += 8, size -= 8) Mix(data);
    std::memcpy(pending_ + pending_size_, data, size);
    pending_size_ += size;
    return *this;
  }
  uint64_t Finish() const { return Fnv1a64Update(h_, std::string_view(pending_, pending_size_)); }

 private:
  void Mix(const char* word8) {
    uint64_t word;
    std::memcpy(&word, word8, 8);
    h_ = (h_ ^ word) * 1099511628211ull;
  }
  uint64_t h_ = kFnv1a64Offset;
  char pending_[8] = {};
  size_t pending_size_ = 0;
};

uint64_t Checksum64(const char* data, size_t size) { return Checksum().Update(data, size).Finish(); }

struct Header {
  uint64_t train_tokens = 0;
  uint64_t val_tokens = 0;
  uint64_t meta_bytes = 0;
  int64_t corpus_bytes = 0;
  int32_t vocab_size = 0;
  int32_t eot = -1;
  uint64_t key_hash = 0;
  uint64_t tokens_checksum = 0;
  uint64_t meta_checksum = 0;
  uint64_t key_bytes = 0;  // the metadata starts with the key text, then JSON

  uint64_t FileBytes() const { return kHeaderBytes + 4 * (train_tokens + val_tokens) + meta_bytes; }
};

template <typename T>
void Put(char* at, T value) {
  std::memcpy(at, &value, sizeof(T));
}
template <typename T>
T Get(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

std::string EncodeHeader(const Header& h) {
  std::string bytes(kHeaderBytes, '\0');
  char* p = bytes.data();
  std::memcpy(p, kMagic, 8);
  Put<uint32_t>(p + 8, kVersion);
  Put<uint32_t>(p + 12, kHeaderBytes);
  Put<uint64_t>(p + 16, h.train_tokens);
  Put<uint64_t>(p + 24, h.val_tokens);
  Put<uint64_t>(p + 32, h.meta_bytes);
  Put<int64_t>(p + 40, h.corpus_bytes);
  Put<int32_t>(p + 48, h.vocab_size);
  Put<int32_t>(p + 52, h.eot);
  Put<uint64_t>(p + 56, h.key_hash);
  Put<uint64_t>(p + 64, h.tokens_checksum);
  Put<uint64_t>(p + 72, h.meta_checksum);
  Put<uint64_t>(p + 80, h.key_bytes);
  Put<uint64_t>(p + kHeaderChecksumAt, Checksum64(p, kHeaderChecksumAt));
  return bytes;
}

// The header of a file of `size` bytes; DATA_LOSS naming what is wrong.
absl::StatusOr<Header> DecodeHeader(const char* p, size_t size) {
  if (size < kHeaderBytes) {
    return absl::DataLossError(absl::StrCat("truncated: ", size, " bytes, shorter than a header"));
  }
  if (std::memcmp(p, kMagic, 8) != 0) return absl::DataLossError("not a gwo token file (bad magic)");
  if (Get<uint32_t>(p + 8) != kVersion || Get<uint32_t>(p + 12) != kHeaderBytes) {
    return absl::DataLossError(absl::StrCat("format version ", Get<uint32_t>(p + 8),
                                            ", expected ", kVersion));
  }
  if (Get<uint64_t>(p + kHeaderChecksumAt) != Checksum64(p, kHeaderChecksumAt)) {
    return absl::DataLossError("header checksum mismatch");
  }
  Header h;
  h.train_tokens = Get<uint64_t>(p + 16);
  h.val_tokens = Get<uint64_t>(p + 24);
  h.meta_bytes = Get<uint64_t>(p + 32);
  h.corpus_bytes = Get<int64_t>(p + 40);
  h.vocab_size = Get<int32_t>(p + 48);
  h.eot = Get<int32_t>(p + 52);
  h.key_hash = Get<uint64_t>(p + 56);
  h.tokens_checksum = Get<uint64_t>(p + 64);
  h.meta_checksum = Get<uint64_t>(p + 72);
  h.key_bytes = Get<uint64_t>(p + 80);
  // Counts are bounded by the file size before any arithmetic can overflow.
  if (h.train_tokens > size / 4 || h.val_tokens > size / 4 || h.meta_bytes > size ||
      h.key_bytes > h.meta_bytes) {
    return absl::DataLossError("truncated: the counts exceed the file size");
  }
  if (h.FileBytes() != size) {
    return absl::DataLossError(absl::StrCat("truncated or padded: ", size, " bytes, the header says ",
                                            h.FileBytes()));
  }
  return h;
}

std::string KeyHashHex(const std::string& key) { return absl::StrFormat("%016x", Fnv1a64(key)); }

}  // namespace

// Reads and writes token files (a class so TokenizedCorpus can befriend it).
class TokenFileCodec {
 public:
  static absl::Status Write(const std::string& path, const std::string& key, const Corpus& corpus,
                            const Tokenizer& tokenizer) {
    // The key verbatim (it may hold any bytes), then the document ids as JSON.
    const Json docs = {{"train_docs", corpus.train_docs}, {"val_docs", corpus.val_docs}};
    const std::string meta_text = key + docs.dump(-1, ' ', false, Json::error_handler_t::replace);
    const std::string_view train(reinterpret_cast<const char*>(corpus.train.data()),
                                 corpus.train.size() * 4);
    const std::string_view val(reinterpret_cast<const char*>(corpus.val.data()), corpus.val.size() * 4);
    Header h;
    h.train_tokens = corpus.train.size();
    h.val_tokens = corpus.val.size();
    h.meta_bytes = meta_text.size();
    h.corpus_bytes = corpus.bytes;
    h.vocab_size = corpus.vocab_size;
    h.eot = tokenizer.end_of_text().value_or(-1);
    h.key_hash = Fnv1a64(key);
    h.key_bytes = key.size();
    // One checksum over train then val, as they lie in the file.
    h.tokens_checksum = Checksum().Update(train.data(), train.size()).Update(val.data(), val.size()).Finish();
    h.meta_checksum = Checksum64(meta_text.data(), meta_text.size());

    absl::StatusOr<std::unique_ptr<AtomicFile>> file = AtomicFile::Create(path);
    if (!file.ok()) return file.status();
    const std::string header = EncodeHeader(h);
    for (const std::string_view part : {std::string_view(header), train, val, std::string_view(meta_text)}) {
      if (absl::Status s = (*file)->Append(part); !s.ok()) return s;
    }
    return (*file)->Commit();
  }

  // The corpus in `path`; NOT_FOUND when missing, DATA_LOSS when damaged or holding
  // another key.
  static absl::StatusOr<TokenizedCorpus> Open(const std::string& path, const std::string& key,
                                              bool verify) {
    absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
    if (!mapped.ok()) return mapped.status();
    std::shared_ptr<const MappedFile> file = *std::move(mapped);
    const char* p = file->data();
    absl::StatusOr<Header> h = DecodeHeader(p, file->size());
    if (!h.ok()) return h.status();
    const char* tokens = p + kHeaderBytes;
    const size_t token_bytes = 4 * (h->train_tokens + h->val_tokens);
    const char* meta_at = tokens + token_bytes;
    if (h->key_hash != Fnv1a64(key)) return absl::DataLossError("holds another key");
    if (h->meta_checksum != Checksum64(meta_at, h->meta_bytes)) {
      return absl::DataLossError("metadata checksum mismatch");
    }
    if (verify && h->tokens_checksum != Checksum64(tokens, token_bytes)) {
      return absl::DataLossError("token checksum mismatch");
    }
    if (std::string_view(meta_at, h->key_bytes) != key) return absl::DataLossError("holds another key");
    const Json docs = Json::parse(meta_at + h->key_bytes, meta_at + h->meta_bytes, nullptr, false);
    const auto is_id_list = [&](const char* side) {
      if (!docs.is_object() || !docs.contains(side) || !docs[side].is_array()) return false;
      for (const Json& id : docs[side]) {
        if (!id.is_string()) return false;
      }
      return true;
    };
    if (!is_id_list("train_docs") || !is_id_list("val_docs")) {
      return absl::DataLossError("metadata lacks the document lists");
    }
    TokenizedCorpus corpus;
    corpus.file_ = file;
    const auto* ids = reinterpret_cast<const int32_t*>(tokens);  // 128-byte aligned in the map
    corpus.train_ = std::span<const int32_t>(ids, h->train_tokens);
    corpus.val_ = std::span<const int32_t>(ids + h->train_tokens, h->val_tokens);
    corpus.vocab_size_ = h->vocab_size;
    corpus.bytes_ = h->corpus_bytes;
    corpus.train_docs_ = docs["train_docs"].get<std::vector<std::string>>();
    corpus.val_docs_ = docs["val_docs"].get<std::vector<std::string>>();
    corpus.path_ = path;
    return corpus;
  }

  static void MarkBuilt(TokenizedCorpus& corpus, bool reused, std::string reason) {
    corpus.reused_ = reused;
    corpus.rebuild_reason_ = std::move(reason);
  }
};

absl::StatusOr<std::string> TokenCacheKey(const spec::DataSpec& data, const Tokenizer& tokenizer) {
  absl::StatusOr<std::vector<std::string>> files = ListCorpusFiles(data.path, data.glob);
  if (!files.ok()) return files.status();
  std::error_code ec;
  const bool path_is_file = fs::is_regular_file(data.path, ec);
  const bool jsonl = data.format == "jsonl" || data.format == "labelled_jsonl";
  std::string key = absl::StrCat("gwo token cache ", kVersion, "\npipeline: ", kPipelineVersion,
                                 "\ntokenizer: ", tokenizer.fingerprint(),
                                 "\nformat: ", data.format, "\n");
  if (jsonl) absl::StrAppend(&key, "field: ", data.field, "\n");
  absl::StrAppend(&key, absl::StrFormat("val_fraction: %.17g\n", data.val_fraction),
                  "max_bytes: ", data.max_bytes, "\n");
  // Written only when set, so that the keys of existing caches stay what they were.
  // (The label field then decides which documents are read.)
  if (data.max_bytes_per_label > 0) {
    absl::StrAppend(&key, "max_bytes_per_label: ", data.max_bytes_per_label, "\nlabel_field: ", data.label_field, "\n");
  }
  absl::StrAppend(&key, "files:\n");
  for (const std::string& file : *files) {
    absl::StatusOr<std::string> content = ReadFileUpTo(file, -1);
    if (!content.ok()) return content.status();
    const std::string id = path_is_file ? fs::path(file).filename().generic_string()
                                        : fs::path(file).lexically_relative(data.path).generic_string();
    absl::StrAppend(&key, id, "\t", content->size(), "\t",
                    absl::StrFormat("%016x", Checksum64(content->data(), content->size())), "\n");
  }
  return key;
}

absl::StatusOr<TokenizedCorpus> LoadTokenizedCorpus(const spec::DataSpec& spec_data,
                                                    const Tokenizer& tokenizer, int block_size,
                                                    const TokenCacheOptions& options) {
  absl::StatusOr<spec::DataSpec> data = ResolveForLoading(spec_data);
  if (!data.ok()) return data.status();
  absl::StatusOr<std::string> key = TokenCacheKey(*data, tokenizer);
  if (!key.ok()) return key.status();

  const std::string dir =
      options.dir.empty() ? (fs::path(spec::CorporaDir()) / "cache").string() : options.dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create token cache directory '", dir, "': ", ec.message()));
  const std::string path = (fs::path(dir) / (KeyHashHex(*key) + ".tok")).string();

  const auto finish = [&](absl::StatusOr<TokenizedCorpus> corpus, bool reused,
                          std::string reason) -> absl::StatusOr<TokenizedCorpus> {
    if (!corpus.ok()) return corpus.status();
    TokenFileCodec::MarkBuilt(*corpus, reused, std::move(reason));
    if (absl::Status s = CheckSplitSizes(*data, static_cast<int64_t>(corpus->train().size()),
                                         static_cast<int64_t>(corpus->val().size()), block_size);
        !s.ok()) {
      return s;
    }
    return corpus;
  };

  absl::StatusOr<TokenizedCorpus> existing = TokenFileCodec::Open(path, *key, options.verify_checksums);
  if (existing.ok()) return finish(std::move(existing), true, "");
  if (!absl::IsNotFound(existing.status()) && !absl::IsDataLoss(existing.status())) {
    return existing.status();
  }

  // Build, once across concurrent preparers: whoever holds the lock first tokenizes;
  // the others find its file when they get the lock.
  absl::StatusOr<std::unique_ptr<FileLock>> lock = FileLock::Acquire(path + ".lock");
  if (!lock.ok()) return lock.status();
  existing = TokenFileCodec::Open(path, *key, options.verify_checksums);
  if (existing.ok()) return finish(std::move(existing), true, "");
  std::string reason =
      absl::IsNotFound(existing.status()) ? "" : std::string(existing.status().message());

  absl::StatusOr<DocumentSet> documents = ReadDocuments(*data);
  if (!documents.ok()) return documents.status();
  absl::StatusOr<Corpus> corpus = TokenizeDocuments(*data, *documents, tokenizer);
  if (!corpus.ok()) return corpus.status();
  if (absl::Status s = TokenFileCodec::Write(path, *key, *corpus, tokenizer); !s.ok()) return s;
  return finish(TokenFileCodec::Open(path, *key, /*verify=*/false), false, std::move(reason));
}

absl::StatusOr<TokenFileInfo> InspectTokenFile(const std::string& path) {
  absl::StatusOr<std::string> head = ReadFileUpTo(path, kHeaderBytes);
  if (!head.ok()) return head.status();
  std::error_code ec;
  const auto size = static_cast<int64_t>(fs::file_size(path, ec));
  if (ec) return absl::InternalError(absl::StrCat("cannot stat '", path, "': ", ec.message()));
  if (head->size() < kHeaderBytes) {
    return absl::DataLossError(absl::StrCat(path, ": truncated: shorter than a header"));
  }
  // DecodeHeader checks the size too; inspect reports a wrong size instead of failing.
  Header h;
  const char* p = head->data();
  if (std::memcmp(p, kMagic, 8) != 0 || Get<uint32_t>(p + 8) != kVersion ||
      Get<uint64_t>(p + kHeaderChecksumAt) != Checksum64(p, kHeaderChecksumAt)) {
    return absl::DataLossError(absl::StrCat(path, ": not a valid gwo token file header"));
  }
  h.train_tokens = Get<uint64_t>(p + 16);
  h.val_tokens = Get<uint64_t>(p + 24);
  h.meta_bytes = Get<uint64_t>(p + 32);
  TokenFileInfo info;
  info.train_tokens = static_cast<int64_t>(h.train_tokens);
  info.val_tokens = static_cast<int64_t>(h.val_tokens);
  info.corpus_bytes = Get<int64_t>(p + 40);
  info.vocab_size = Get<int32_t>(p + 48);
  info.file_bytes = size;
  info.size_matches = h.train_tokens < (1ull << 60) && h.val_tokens < (1ull << 60) &&
                      h.FileBytes() == static_cast<uint64_t>(size);
  return info;
}

}  // namespace gwo::data
