// The text side of streaming generation, free of LibTorch: turns the decoded text of
// a growing token sequence into chunks that are safe to send (valid UTF-8, never
// retracted) and finds stop strings, holding back text that may still become one.
#ifndef GWO_WORKER_GENERATE_TEXT_STREAM_H_
#define GWO_WORKER_GENERATE_TEXT_STREAM_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gwo::generate {

// `text` with every byte that cannot start or continue valid UTF-8 replaced by U+FFFD.
// When `hold_tail`, an incomplete but still completable sequence at the end is left
// out (and *used, when given, is the length of `text` consumed); otherwise it is
// replaced too. The result of a prefix is a prefix of the result of the whole text
// (as long as the prefix's held tail is not counted).
std::string SanitizeUtf8(std::string_view text, bool hold_tail, size_t* used = nullptr);

class TextStream {
 public:
  // `stops`: strings that end generation when they appear in the generated text;
  // empty strings are ignored.
  explicit TextStream(std::vector<std::string> stops);

  struct Update {
    std::string text;      // new text to send (may be empty)
    bool stopped = false;  // a stop string appeared; `text` ends just before it
  };

  // `decoded`: the decoded text of all tokens generated so far (it only grows, up to
  // its held UTF-8 tail). Returns what may be sent now: the valid UTF-8 not sent before,
  // minus the longest suffix that is a proper prefix of a stop string.
  Update Next(std::string_view decoded);

  // At the end of generation (not after a stop): everything not yet sent, with an
  // incomplete UTF-8 tail replaced by U+FFFD.
  std::string Finish(std::string_view decoded);

  // Everything sent so far.
  const std::string& sent() const { return sent_; }

 private:
  std::vector<std::string> stops_;
  std::string sent_;
};

}  // namespace gwo::generate

#endif  // GWO_WORKER_GENERATE_TEXT_STREAM_H_
