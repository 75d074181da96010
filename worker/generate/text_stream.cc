#include "worker/generate/text_stream.h"

#include <algorithm>
#include <utility>

namespace gwo::generate {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the UTF-8 sequence that lead byte `c` starts, or 0 when `c` cannot
// start one (a continuation byte, or 0xC0, 0xC1, 0xF5..0xFF).
int SequenceLength(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

// Whether `c` may be byte `i` (>= 1) of a sequence led by `lead` (excludes overlong
// forms, surrogates and code points above U+10FFFF).
bool ValidContinuation(unsigned char lead, int i, unsigned char c) {
  if ((c & 0xC0) != 0x80) return false;
  if (i != 1) return true;
  if (lead == 0xE0) return c >= 0xA0;
  if (lead == 0xED) return c <= 0x9F;
  if (lead == 0xF0) return c >= 0x90;
  if (lead == 0xF4) return c <= 0x8F;
  return true;
}

}  // namespace

std::string SanitizeUtf8(std::string_view text, bool hold_tail, size_t* used) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const int n = SequenceLength(lead);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    int ok = 1;
    while (ok < n && i + ok < text.size() &&
           ValidContinuation(lead, ok, static_cast<unsigned char>(text[i + ok]))) {
      ++ok;
    }
    if (ok == n) {
      out.append(text.substr(i, n));
      i += n;
    } else if (i + ok == text.size() && hold_tail) {
      break;  // may still be completed by the next token
    } else {
      out += kReplacement;  // broken sequence: replace its lead, retry from the next byte
      ++i;
    }
  }
  if (used != nullptr) *used = i;
  return out;
}

TextStream::TextStream(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

TextStream::Update TextStream::Next(std::string_view decoded) {
  const std::string text = SanitizeUtf8(decoded, /*hold_tail=*/true);
  Update update;
  // The earliest stop string; it may straddle what was sent and what is new, but
  // never lies wholly inside what was sent (that would have stopped earlier).
  size_t stop_at = std::string::npos;
  for (const std::string& stop : stops_) {
    const size_t from = sent_.size() >= stop.size() ? sent_.size() - stop.size() + 1 : 0;
    const size_t at = text.find(stop, from);
    if (at != std::string::npos) stop_at = std::min(stop_at, at);
  }
  if (stop_at != std::string::npos) {
    update.stopped = true;
    if (stop_at > sent_.size()) update.text = text.substr(sent_.size(), stop_at - sent_.size());
    sent_ += update.text;
    return update;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& stop : stops_) {
    for (size_t n = std::min(stop.size() - 1, text.size()); n > hold; --n) {
      if (text.compare(text.size() - n, n, stop, 0, n) == 0) {
        hold = n;
        break;
      }
    }
  }
  const size_t end = text.size() - hold;
  if (end > sent_.size()) update.text = text.substr(sent_.size(), end - sent_.size());
  sent_ += update.text;
  return update;
}

std::string TextStream::Finish(std::string_view decoded) {
  const std::string text = SanitizeUtf8(decoded, /*hold_tail=*/false);
  std::string rest = text.size() > sent_.size() ? text.substr(sent_.size()) : std::string();
  sent_ += rest;
  return rest;
}

}  // namespace gwo::generate
