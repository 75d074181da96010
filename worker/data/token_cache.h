// The tokenized cache: each (corpus content, tokenizer, split parameters) is
// tokenized once into a token file that every later run memory-maps.
//
// Key: a text naming the tokenizer's fingerprint, the format (and JSON field), the
// val_fraction, max_bytes, and for every corpus file its split id, size and a 64-bit
// checksum of its *contents*, so an edited file is noticed even when its size and
// mtime are unchanged (at the cost of reading the corpus once per load: ~50 ms for the
// 45 MB spam recipe, far below tokenizing it). The file is named by the key's hash
// and stores the whole key text, compared on open.
//
// File "<dir>/<16 hex digits>.tok", little-endian (offsets in bytes):
//   0   char[8] magic "GWOTOKC\0"        56  u64 key hash (FNV-1a of the key text)
//   8   u32 format version (1)          64  u64 checksum of the token bytes
//   12  u32 header size (128)           72  u64 checksum of the metadata bytes
//   16  u64 training tokens             80  u64 key bytes (the metadata's first part)
//   24  u64 validation tokens           88  32 reserved bytes (zero)
//   32  u64 metadata bytes              120 u64 checksum of bytes 0..119
//   40  i64 corpus bytes (document text)
//   48  i32 vocabulary size
//   52  i32 end-of-text id (-1: none)
//   128 int32 tokens: training, then validation
//   then the metadata: the key text, then JSON {"train_docs": [...], "val_docs": [...]}
// A reader checks magic, version, header checksum, that the file size matches the
// counts (truncation), the key text, and (unless told not to) the token and metadata
// checksums; anything wrong makes the loader rebuild the file.
//
// Concurrency: preparers of the same key serialise on an flock'd "<file>.lock" (so
// the corpus is tokenized once, not once per run), and write through a uniquely named
// temporary file that is fsynced and renamed into place, so a crash or a racing
// process never leaves a partial file under the final name. Readers need no lock.
#ifndef GWO_WORKER_DATA_TOKEN_CACHE_H_
#define GWO_WORKER_DATA_TOKEN_CACHE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/data/file_io.h"
#include "worker/data/tokenizer.h"

namespace gwo::data {

struct TokenCacheOptions {
  std::string dir;              // token files; empty: <spec::CorporaDir()>/cache (created)
  bool verify_checksums = true; // checksum every token of a reused file (~1 GB/s)
};

// A tokenized corpus backed by a memory-mapped token file. Cheap to move; the
// spans stay valid as long as the object (or a copy) lives.
class TokenizedCorpus {
 public:
  std::span<const int32_t> train() const { return train_; }
  std::span<const int32_t> val() const { return val_; }
  int vocab_size() const { return vocab_size_; }
  int64_t bytes() const { return bytes_; }  // bytes of document text tokenized
  const std::vector<std::string>& train_docs() const { return train_docs_; }
  const std::vector<std::string>& val_docs() const { return val_docs_; }
  const std::string& path() const { return path_; }  // the token file
  // True when an existing valid token file was used; false when this call tokenized.
  bool reused() const { return reused_; }
  // Why an existing file was not used ("" when there was none or it was used).
  const std::string& rebuild_reason() const { return rebuild_reason_; }

 private:
  friend class TokenFileCodec;
  std::shared_ptr<const MappedFile> file_;
  std::span<const int32_t> train_;
  std::span<const int32_t> val_;
  int vocab_size_ = 0;
  int64_t bytes_ = 0;
  std::vector<std::string> train_docs_;
  std::vector<std::string> val_docs_;
  std::string path_;
  bool reused_ = false;
  std::string rebuild_reason_;
};

// The cache key text of `data` (a resolved spec: path set) for `tokenizer`; reads
// every corpus file. Errors: those of ListCorpusFiles; INTERNAL on read failures.
absl::StatusOr<std::string> TokenCacheKey(const spec::DataSpec& data, const Tokenizer& tokenizer);

// LoadCorpus through the cache: resolves the recipe (ResolveForLoading), computes the
// key, maps the token file when it is valid, else tokenizes (once across concurrent
// callers) and writes it; then CheckSplitSizes. The same documents, split and tokens
// as LoadCorpus(data, tokenizer, block_size).
// Errors: those of LoadCorpus; INTERNAL when the cache directory or file cannot be
// written or mapped.
absl::StatusOr<TokenizedCorpus> LoadTokenizedCorpus(const spec::DataSpec& data,
                                                    const Tokenizer& tokenizer, int block_size,
                                                    const TokenCacheOptions& options = {});

// What the header of a token file says, for listings (`gwo-corpora stats`); checks
// the header only. DATA_LOSS when it is not a valid token file header.
struct TokenFileInfo {
  int64_t train_tokens = 0;
  int64_t val_tokens = 0;
  int64_t corpus_bytes = 0;
  int vocab_size = 0;
  int64_t file_bytes = 0;
  bool size_matches = false;  // the file is as long as its header says
};
absl::StatusOr<TokenFileInfo> InspectTokenFile(const std::string& path);

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_TOKEN_CACHE_H_
