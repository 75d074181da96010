// A byte tokenizer with an end-of-text id (256), for tests of the corpus pipeline
// that must not depend on the BPE vocabulary files. Counts its EncodeAppend calls.
#ifndef GWO_TESTS_WORKER_DATA_FAKE_TOKENIZER_H_
#define GWO_TESTS_WORKER_DATA_FAKE_TOKENIZER_H_

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "worker/data/tokenizer.h"

namespace gwo::testing {

class FakeEotTokenizer final : public data::Tokenizer {
 public:
  static constexpr int32_t kEot = 256;
  // `delay`: slept in each EncodeAppend, to widen race windows in tests.
  explicit FakeEotTokenizer(std::chrono::milliseconds delay = std::chrono::milliseconds(0))
      : delay_(delay) {}

  int vocab_size() const override { return 257; }
  void EncodeAppend(std::string_view text, std::vector<int32_t>& out) const override {
    calls_.fetch_add(1);
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    for (const char c : text) out.push_back(static_cast<unsigned char>(c));
  }
  std::string Decode(std::span<const int32_t> ids) const override {
    std::string text;
    for (const int32_t id : ids) {
      if (id == kEot) {
        text += "<|endoftext|>";
      } else {
        text.push_back(static_cast<char>(id));
      }
    }
    return text;
  }
  std::optional<int32_t> end_of_text() const override { return kEot; }
  std::string fingerprint() const override { return "fake-eot-v1"; }
  int calls() const { return calls_.load(); }

 private:
  std::chrono::milliseconds delay_;
  mutable std::atomic<int> calls_{0};
};

}  // namespace gwo::testing

#endif  // GWO_TESTS_WORKER_DATA_FAKE_TOKENIZER_H_
