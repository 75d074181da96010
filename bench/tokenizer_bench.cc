// gwo-tokenizer-bench: single-thread encode throughput of gwo's GPT-2 BPE tokenizer.
// Loads encoder.json + vocab.bpe, reads a text file, encodes the whole text as one
// call `--runs` times and prints one JSON line: median MB/s with the per-thread piece
// cache warm (after the first run) and cold (a fresh tokenizer, so an empty cache,
// for every run), the token count and an FNV-1a hash of the ids. --ids_out writes
// the ids, one per line, for bench/tokenizer_peers.py to compare.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/flags.h"
#include "worker/data/bpe_tokenizer.h"
#include "worker/data/fnv1a.h"

ABSL_FLAG(std::string, vocab_dir, "", "directory with encoder.json and vocab.bpe (required)");
ABSL_FLAG(std::string, text, "", "UTF-8 text file to encode (required)");
ABSL_FLAG(int, runs, 10, "timed runs of each kind; the median is reported");
ABSL_FLAG(std::string, ids_out, "", "if set, write the ids here, one per line");

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Seconds to encode `text` once.
double TimeEncode(const gwo::data::Tokenizer& t, const std::string& text, std::vector<int32_t>& ids) {
  ids.clear();
  const Clock::time_point start = Clock::now();
  t.EncodeAppend(text, ids);
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// `s` as a JSON string literal.
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  gwo::ParseFlags(argc, argv);
  const std::string dir = absl::GetFlag(FLAGS_vocab_dir);
  const std::string path = absl::GetFlag(FLAGS_text);
  const int runs = std::max(1, absl::GetFlag(FLAGS_runs));
  if (dir.empty() || path.empty()) {
    std::fprintf(stderr,
                 "usage: gwo-tokenizer-bench --vocab_dir=DIR --text=FILE [--runs=N] [--ids_out=FILE]\n");
    return 2;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto load = [&] {
    return gwo::data::BpeTokenizer::FromGpt2Files(dir + "/encoder.json", dir + "/vocab.bpe");
  };

  std::vector<int32_t> ids;
  std::vector<double> cold;
  for (int r = 0; r < runs; ++r) {
    auto tokenizer = load();  // a new instance starts with an empty cache
    if (!tokenizer.ok()) {
      std::fprintf(stderr, "%s\n", std::string(tokenizer.status().message()).c_str());
      return 1;
    }
    cold.push_back(TimeEncode(**tokenizer, text, ids));
  }
  auto tokenizer = load();
  TimeEncode(**tokenizer, text, ids);  // warms the cache
  std::vector<double> warm;
  for (int r = 0; r < runs; ++r) warm.push_back(TimeEncode(**tokenizer, text, ids));

  uint64_t hash = gwo::data::kFnv1a64Offset;
  for (const int32_t id : ids) hash = gwo::data::Fnv1a64Update(hash, absl::StrCat(id, ","));
  if (const std::string out = absl::GetFlag(FLAGS_ids_out); !out.empty()) {
    std::ofstream f(out);
    for (const int32_t id : ids) f << id << '\n';
  }
  const double mb = static_cast<double>(text.size()) / 1e6;
  std::printf("%s\n", absl::StrFormat("{\"tokenizer\": \"gwo\", \"text\": %s, \"bytes\": %d, \"tokens\": %d, "
                                      "\"runs\": %d, \"mb_per_s\": %.2f, \"mb_per_s_cold\": %.2f, "
                                      "\"ids_fnv1a\": \"%016x\"}",
                                      JsonString(path), text.size(), ids.size(), runs, mb / Median(warm),
                                      mb / Median(cold), hash)
                          .c_str());
  return 0;
}
