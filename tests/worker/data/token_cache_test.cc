#include "worker/data/token_cache.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/data/fake_tokenizer.h"
#include "tests/worker/test_dir.h"
#include "worker/data/corpus.h"

namespace gwo::data {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;

constexpr int kDocs = 12;

spec::DataSpec WriteCorpus(const gwo::testing::TestDir& dir) {
  for (int i = 0; i < kDocs; ++i) {
    dir.Write(absl::StrCat("c/doc", i / 10, i % 10, ".txt"), std::string(30 + i, static_cast<char>('a' + i)));
  }
  spec::DataSpec data;
  data.name = "c";
  data.path = dir / "c";
  data.glob = "*.txt";
  data.val_fraction = 0.3;
  return data;
}

TokenCacheOptions Options(const gwo::testing::TestDir& dir) {
  TokenCacheOptions o;
  o.dir = dir / "cache";
  return o;
}

std::vector<std::string> CacheFiles(const gwo::testing::TestDir& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "cache")) {
    if (e.path().extension() != ".lock") names.push_back(e.path().filename().string());
  }
  return names;
}

void ExpectSameAsLoadCorpus(const TokenizedCorpus& cached, const spec::DataSpec& data) {
  const gwo::testing::FakeEotTokenizer tokenizer;
  absl::StatusOr<Corpus> direct = LoadCorpus(data, tokenizer, 4);
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_EQ(std::vector<int32_t>(cached.train().begin(), cached.train().end()), direct->train);
  EXPECT_EQ(std::vector<int32_t>(cached.val().begin(), cached.val().end()), direct->val);
  EXPECT_EQ(cached.train_docs(), direct->train_docs);
  EXPECT_EQ(cached.val_docs(), direct->val_docs);
  EXPECT_EQ(cached.bytes(), direct->bytes);
  EXPECT_EQ(cached.vocab_size(), 257);
}

TEST(LoadTokenizedCorpus, FirstLoadTokenizesLaterLoadsMapTheFile) {
  const gwo::testing::TestDir dir;
  const spec::DataSpec data = WriteCorpus(dir);
  const gwo::testing::FakeEotTokenizer first_tokenizer;
  absl::StatusOr<TokenizedCorpus> first = LoadTokenizedCorpus(data, first_tokenizer, 4, Options(dir));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->reused());
  EXPECT_EQ(first_tokenizer.calls(), kDocs);
  ExpectSameAsLoadCorpus(*first, data);
  EXPECT_THAT(first->train(), Contains(gwo::testing::FakeEotTokenizer::kEot));

  const gwo::testing::FakeEotTokenizer second_tokenizer;
  absl::StatusOr<TokenizedCorpus> second = LoadTokenizedCorpus(data, second_tokenizer, 4, Options(dir));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->reused());
  EXPECT_EQ(second_tokenizer.calls(), 0);
  EXPECT_EQ(second->path(), first->path());
  ExpectSameAsLoadCorpus(*second, data);
  EXPECT_EQ(CacheFiles(dir).size(), 1u);

  absl::StatusOr<TokenFileInfo> info = InspectTokenFile(first->path());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->train_tokens, static_cast<int64_t>(first->train().size()));
  EXPECT_TRUE(info->size_matches);
}

TEST(LoadTokenizedCorpus, EditedContentWithSameSizeAndMtimeIsAMiss) {
  const gwo::testing::TestDir dir;
  const spec::DataSpec data = WriteCorpus(dir);
  const gwo::testing::FakeEotTokenizer tokenizer;
  absl::StatusOr<TokenizedCorpus> before = LoadTokenizedCorpus(data, tokenizer, 4, Options(dir));
  ASSERT_TRUE(before.ok()) << before.status();
  const std::string file = dir / "c/doc03.txt";
  const fs::file_time_type mtime = fs::last_write_time(file);
  dir.Write("c/doc03.txt", std::string(33, 'Z'));
  fs::last_write_time(file, mtime);
  absl::StatusOr<TokenizedCorpus> after = LoadTokenizedCorpus(data, tokenizer, 4, Options(dir));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_FALSE(after->reused());
  EXPECT_NE(after->path(), before->path());
  ExpectSameAsLoadCorpus(*after, data);
}

TEST(LoadTokenizedCorpus, SplitParametersAndTokenizerAreInTheKey) {
  const gwo::testing::TestDir dir;
  spec::DataSpec data = WriteCorpus(dir);
  const gwo::testing::FakeEotTokenizer tokenizer;
  absl::StatusOr<std::string> key = TokenCacheKey(data, tokenizer);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(*key, HasSubstr("fake-eot-v1"));
  spec::DataSpec other = data;
  other.val_fraction = 0.5;
  EXPECT_NE(*TokenCacheKey(other, tokenizer), *key);
  other = data;
  other.max_bytes = 100;
  EXPECT_NE(*TokenCacheKey(other, tokenizer), *key);
  // The corpus may move: its location is not part of the key.
  fs::rename(dir / "c", dir / "moved");
  other = data;
  other.path = dir / "moved";
  EXPECT_EQ(*TokenCacheKey(other, tokenizer), *key);
}

TEST(LoadTokenizedCorpus, TruncatedFileIsDetectedAndRebuilt) {
  const gwo::testing::TestDir dir;
  const spec::DataSpec data = WriteCorpus(dir);
  const gwo::testing::FakeEotTokenizer tokenizer;
  absl::StatusOr<TokenizedCorpus> built = LoadTokenizedCorpus(data, tokenizer, 4, Options(dir));
  ASSERT_TRUE(built.ok()) << built.status();
  const std::string path = built->path();
  const auto size = fs::file_size(path);
  built = absl::UnknownError("released");  // unmap before truncating
  fs::resize_file(path, size / 2);
  EXPECT_FALSE(InspectTokenFile(path)->size_matches);

  absl::StatusOr<TokenizedCorpus> rebuilt = LoadTokenizedCorpus(data, tokenizer, 4, Options(dir));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_FALSE(rebuilt->reused());
  EXPECT_THAT(rebuilt->rebuild_reason(), HasSubstr("truncated"));
  EXPECT_EQ(fs::file_size(path), size);
  ExpectSameAsLoadCorpus(*rebuilt, data);
}

TEST(LoadTokenizedCorpus, FlippedTokenByteIsDetectedAndRebuilt) {
  const gwo::testing::TestDir dir;
  const spec::DataSpec data = WriteCorpus(dir);
  const gwo::testing::FakeEotTokenizer tokenizer;
  std::string path;
  {
    absl::StatusOr<TokenizedCorpus> built = LoadTokenizedCorpus(data, tokenizer, 4, Options(dir));
    ASSERT_TRUE(built.ok()) << built.status();
    path = built->path();
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(128 + 4 * 3);
    f.put('\x7f');
  }
  absl::StatusOr<TokenizedCorpus> rebuilt = LoadTokenizedCorpus(data, tokenizer, 4, Options(dir));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_FALSE(rebuilt->reused());
  EXPECT_THAT(rebuilt->rebuild_reason(), HasSubstr("checksum"));
  ExpectSameAsLoadCorpus(*rebuilt, data);
}

TEST(LoadTokenizedCorpus, ConcurrentThreadsTokenizeOnceAndShareOneValidFile) {
  const gwo::testing::TestDir dir;
  const spec::DataSpec data = WriteCorpus(dir);
  const gwo::testing::FakeEotTokenizer slow(std::chrono::milliseconds(5));
  std::vector<absl::StatusOr<TokenizedCorpus>> results(4, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = LoadTokenizedCorpus(data, slow, 4, Options(dir)); });
  }
  for (std::thread& t : threads) t.join();
  int built = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    built += r->reused() ? 0 : 1;
    ExpectSameAsLoadCorpus(*r, data);
  }
  EXPECT_EQ(built, 1);
  EXPECT_EQ(slow.calls(), kDocs);
  EXPECT_EQ(CacheFiles(dir).size(), 1u);  // no temporary file left behind
}

TEST(LoadTokenizedCorpus, ConcurrentProcessesProduceOneValidFile) {
  const gwo::testing::TestDir dir;
  const spec::DataSpec data = WriteCorpus(dir);
  std::vector<pid_t> children;
  for (int i = 0; i < 3; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const gwo::testing::FakeEotTokenizer slow(std::chrono::milliseconds(5));
      absl::StatusOr<TokenizedCorpus> r = LoadTokenizedCorpus(data, slow, 4, Options(dir));
      ::_exit(r.ok() && !r->train().empty() ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(CacheFiles(dir).size(), 1u);
  const gwo::testing::FakeEotTokenizer tokenizer;
  absl::StatusOr<TokenizedCorpus> reused = LoadTokenizedCorpus(data, tokenizer, 4, Options(dir));
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_TRUE(reused->reused());
  ExpectSameAsLoadCorpus(*reused, data);
}

TEST(LoadTokenizedCorpus, SplitShorterThanAWindowIsInvalidArgumentEvenWhenCached) {
  const gwo::testing::TestDir dir;
  const spec::DataSpec data = WriteCorpus(dir);
  const gwo::testing::FakeEotTokenizer tokenizer;
  ASSERT_TRUE(LoadTokenizedCorpus(data, tokenizer, 4, Options(dir)).ok());
  absl::StatusOr<TokenizedCorpus> r = LoadTokenizedCorpus(data, tokenizer, 100000, Options(dir));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gwo::data
