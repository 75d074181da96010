// Pre-tokenization for byte-level BPE: splits UTF-8 text into the pieces that GPT-2's
// and Qwen2's regular expressions match, without a regex engine. Each pattern is a
// hand-written scanner that reproduces Python `regex` semantics (leftmost alternative
// wins, greedy with backtracking) with Unicode classes \p{L} (Lu Ll Lt Lm Lo), \p{N}
// (Nd Nl No) and \s (White_Space) from ICU.
#ifndef GWO_WORKER_DATA_PRETOKENIZE_H_
#define GWO_WORKER_DATA_PRETOKENIZE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace gwo::data {

enum class PretokenizePattern {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
  // ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kQwen2,
};

// The regular expressions above, verbatim: the loaders compare a tokenizer.json's
// pattern with these.
extern const char kGpt2PatternRegex[];
extern const char kQwen2PatternRegex[];

// Calls on_piece(begin, end) for consecutive byte ranges that cover all of `text`,
// in order, none empty. Bytes that are not valid UTF-8 count as one character each of
// no class (like a symbol), so every byte string is split and nothing is lost.
void Pretokenize(PretokenizePattern pattern, std::string_view text,
                 absl::FunctionRef<void(size_t begin, size_t end)> on_piece);

// Character classes the patterns distinguish; exposed for tests.
enum class CharClass : uint8_t { kOther, kLetter, kNumber, kSpace, kNewline /* \r \n */ };
CharClass ClassOf(char32_t code_point);

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_PRETOKENIZE_H_
