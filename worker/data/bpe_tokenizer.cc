#include "worker/data/bpe_tokenizer.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "unicode/bytestream.h"
#include "unicode/normalizer2.h"
#include "unicode/stringpiece.h"

namespace gwo::data {
namespace {

// Ids above this are refused: they would make the decode table absurdly large.
constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;
// Pieces longer than this are not cached (rarely repeated; keeps the cache small).
constexpr size_t kMaxCachedPieceBytes = 256;
// A thread's cache is cleared once it holds this many pieces or ids (~100 MB).
constexpr size_t kMaxCachedPieces = size_t{1} << 21;
constexpr size_t kMaxCachedIds = size_t{1} << 24;

std::atomic<uint64_t> next_instance{1};

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the others
// (controls, space, 0x7F-0xA0, 0xAD) for U+0100 upwards in byte order.
struct ByteAlphabet {
  char32_t of_byte[256];
  int16_t byte_of[0x144];  // code point -> byte, -1 if none

  ByteAlphabet() {
    std::fill(std::begin(byte_of), std::end(byte_of), int16_t{-1});
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      of_byte[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      byte_of[of_byte[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& Alphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

void AppendUtf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The raw bytes a byte-level token stands for. Characters outside the byte alphabet
// (possible in added tokens) are kept as their UTF-8.
std::string FromByteLevel(const std::string& token) {
  const ByteAlphabet& alphabet = Alphabet();
  std::string bytes;
  bytes.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    const auto b0 = static_cast<uint8_t>(token[i]);
    size_t len = 1;
    char32_t cp = b0;
    if (b0 >= 0xC0 && b0 < 0xE0 && i + 1 < token.size()) {
      len = 2;
      cp = ((b0 & 0x1F) << 6) | (static_cast<uint8_t>(token[i + 1]) & 0x3F);
    } else if (b0 >= 0xE0) {
      len = b0 >= 0xF0 ? 4 : 3;
      cp = 0x110000;  // not in the alphabet: copied as it is
    }
    if (cp < 0x144 && alphabet.byte_of[cp] >= 0) {
      bytes.push_back(static_cast<char>(alphabet.byte_of[cp]));
    } else {
      bytes.append(token, i, std::min(len, token.size() - i));
    }
    i += len;
  }
  return bytes;
}

bool IsAscii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<uint8_t>(c) >= 0x80) return false;
  }
  return true;
}

// 1 + the largest id; INVALID_ARGUMENT for an empty vocabulary or an id out of range.
absl::StatusOr<int> VocabSize(const BpeVocabulary& vocabulary, const std::string& source) {
  if (vocabulary.tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the vocabulary is empty"));
  }
  int64_t max_id = -1;
  for (const auto* list : {&vocabulary.tokens, &vocabulary.added_tokens}) {
    for (const auto& [token, id] : *list) {
      if (id < 0 || id > kMaxTokenId) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": token \"", token, "\" has id ", id, ", outside [0, ", kMaxTokenId, "]"));
      }
      max_id = std::max<int64_t>(max_id, id);
    }
  }
  return static_cast<int>(max_id + 1);
}

// The bytes each id decodes to: a token's raw bytes, an added token's content.
absl::StatusOr<std::vector<std::string>> TokenBytes(const BpeVocabulary& vocabulary, int vocab_size,
                                                    const std::string& source) {
  std::vector<std::string> bytes_of(vocab_size);
  std::vector<bool> seen(vocab_size);
  for (const auto& [token, id] : vocabulary.tokens) {
    if (seen[id]) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": id ", id, " is given to two tokens"));
    }
    seen[id] = true;
    bytes_of[id] = FromByteLevel(token);
  }
  for (const auto& [content, id] : vocabulary.added_tokens) bytes_of[id] = content;
  return bytes_of;
}

}  // namespace

struct BpeTokenizer::WordCache {
  uint64_t owner = 0;
  // piece bytes -> count << 32 | (count == 1 ? the id : offset of the ids in `ids`)
  PieceMap<uint64_t> pieces;
  std::vector<int32_t> ids;
  std::vector<int32_t> symbols;
  MergeScratch scratch;
};

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Create(const BpeVocabulary& vocabulary,
                                                                   std::string fingerprint,
                                                                   const std::string& source) {
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  t->instance_ = next_instance.fetch_add(1);
  t->pattern_ = vocabulary.pattern;
  t->nfc_ = vocabulary.nfc;
  t->fingerprint_ = std::move(fingerprint);
  GWO_ASSIGN_OR_RETURN(t->vocab_size_, VocabSize(vocabulary, source));
  t->token_ids_.reserve(vocabulary.tokens.size());
  for (const auto& [token, id] : vocabulary.tokens) {
    if (!t->token_ids_.emplace(token, id).second) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": token \"", token, "\" appears twice"));
    }
  }

  // Decode table: every id's bytes, concatenated.
  GWO_ASSIGN_OR_RETURN(const std::vector<std::string> bytes_of,
                       TokenBytes(vocabulary, t->vocab_size_, source));
  t->decoded_offsets_.reserve(bytes_of.size() + 1);
  for (const std::string& b : bytes_of) {
    t->decoded_offsets_.push_back(static_cast<uint32_t>(t->decoded_.size()));
    t->decoded_ += b;
  }
  t->decoded_offsets_.push_back(static_cast<uint32_t>(t->decoded_.size()));

  // Every byte must have its one-character token.
  for (int b = 0; b < 256; ++b) {
    std::string token;
    AppendUtf8(Alphabet().of_byte[b], token);
    const auto it = t->token_ids_.find(token);
    if (it == t->token_ids_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": the vocabulary has no token \"", token,
                                                     "\" for byte ", b, ", so it is not byte-level"));
    }
    t->byte_ids_[b] = it->second;
  }

  for (size_t rank = 0; rank < vocabulary.merges.size(); ++rank) {
    const auto& [left, right] = vocabulary.merges[rank];
    const std::string merged = left + right;
    int32_t ids[3];
    const std::string* parts[3] = {&left, &right, &merged};
    for (int k = 0; k < 3; ++k) {
      const auto it = t->token_ids_.find(*parts[k]);
      if (it == t->token_ids_.end()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": merge ", rank + 1, " \"", left, " ", right,
                                                       "\" refers to \"", *parts[k],
                                                       "\", which is not in the vocabulary"));
      }
      ids[k] = it->second;
    }
    t->merges_.Add(ids[0], ids[1], static_cast<uint32_t>(rank), ids[2]);
  }

  for (const auto& [content, id] : vocabulary.added_tokens) {
    if (content == "<|endoftext|>") t->end_of_text_ = id;
  }
  if (const auto it = t->token_ids_.find("<|endoftext|>"); !t->end_of_text_ && it != t->token_ids_.end()) {
    t->end_of_text_ = it->second;
  }

  // Pieces that are one token: every token under ignore_merges, else those whose
  // bytes BPE merges back into the token itself (most of a vocabulary; not all).
  MergeScratch scratch;
  std::vector<int32_t> symbols;
  t->whole_pieces_.reserve(vocabulary.tokens.size());
  for (const auto& [token, id] : vocabulary.tokens) {
    const std::string& bytes = bytes_of[id];
    if (bytes.size() < 2) continue;  // single bytes go through byte_ids_
    if (!vocabulary.ignore_merges) {
      symbols.resize(bytes.size());
      for (size_t i = 0; i < bytes.size(); ++i) symbols[i] = t->byte_ids_[static_cast<uint8_t>(bytes[i])];
      MergeWord(t->merges_, symbols, scratch);
      if (symbols.size() != 1 || symbols[0] != id) continue;
    }
    t->whole_pieces_.emplace(bytes, id);
  }
  return t;
}

std::optional<int32_t> BpeTokenizer::TokenId(const std::string& token) const {
  const auto it = token_ids_.find(token);
  if (it == token_ids_.end()) return std::nullopt;
  return it->second;
}

BpeTokenizer::WordCache& BpeTokenizer::ThreadCache() const {
  thread_local WordCache cache;
  if (cache.owner != instance_) {
    cache.pieces.clear();
    cache.ids.clear();
    cache.owner = instance_;
  }
  return cache;
}

void BpeTokenizer::EncodePiece(std::string_view piece, WordCache& cache, std::vector<int32_t>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_ids_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  const absl::string_view key(piece.data(), piece.size());
  if (const auto it = whole_pieces_.find(key); it != whole_pieces_.end()) {
    out.push_back(it->second);
    return;
  }
  if (const auto it = cache.pieces.find(key); it != cache.pieces.end()) {
    const uint64_t count = it->second >> 32;
    const auto payload = static_cast<uint32_t>(it->second);
    if (count == 1) {
      out.push_back(static_cast<int32_t>(payload));
    } else {
      const int32_t* ids = cache.ids.data() + payload;
      out.insert(out.end(), ids, ids + count);
    }
    return;
  }
  std::vector<int32_t>& symbols = cache.symbols;
  symbols.resize(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) symbols[i] = byte_ids_[static_cast<uint8_t>(piece[i])];
  MergeWord(merges_, symbols, cache.scratch);
  out.insert(out.end(), symbols.begin(), symbols.end());
  if (piece.size() > kMaxCachedPieceBytes) return;
  if (cache.pieces.size() >= kMaxCachedPieces || cache.ids.size() + symbols.size() > kMaxCachedIds) {
    cache.pieces.clear();
    cache.ids.clear();
  }
  const uint64_t count = static_cast<uint64_t>(symbols.size()) << 32;
  if (symbols.size() == 1) {
    cache.pieces.emplace(key, count | static_cast<uint32_t>(symbols[0]));
  } else {
    cache.pieces.emplace(key, count | cache.ids.size());
    cache.ids.insert(cache.ids.end(), symbols.begin(), symbols.end());
  }
}

void BpeTokenizer::EncodeAppend(std::string_view text, std::vector<int32_t>& out) const {
  std::string normalized;
  // (ICU takes int32 lengths: texts of 2 GiB or more are left as they are.)
  if (nfc_ && text.size() <= INT32_MAX && !IsAscii(text)) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
    const icu::StringPiece input(text.data(), static_cast<int32_t>(text.size()));
    if (U_SUCCESS(status) && !nfc->isNormalizedUTF8(input, status) && U_SUCCESS(status)) {
      icu::StringByteSink<std::string> sink(&normalized);
      nfc->normalizeUTF8(0, input, sink, nullptr, status);
      if (U_SUCCESS(status)) text = normalized;
    }
  }
  WordCache& cache = ThreadCache();
  Pretokenize(pattern_, text,
              [&](size_t begin, size_t end) { EncodePiece(text.substr(begin, end - begin), cache, out); });
}

std::string BpeTokenizer::Decode(std::span<const int32_t> ids) const {
  std::string text;
  const auto n = static_cast<int64_t>(decoded_offsets_.size()) - 1;
  for (const int32_t id : ids) {
    if (id < 0 || id >= n) continue;
    text.append(decoded_, decoded_offsets_[id], decoded_offsets_[id + 1] - decoded_offsets_[id]);
  }
  return text;
}

}  // namespace gwo::data
