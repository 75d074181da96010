#include "worker/models/safetensors.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/models/fixture_files.h"
#include "tests/worker/test_dir.h"

namespace gwo::models {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A file made by hand: the 8-byte length of `header`, `header`, then `data`.
std::string Raw(const std::string& header, const std::string& data, uint64_t length = UINT64_MAX) {
  if (length == UINT64_MAX) length = header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &length, 8);
  return out + header + data;
}

absl::Status ParseStatus(const std::string& bytes, const SafetensorsReadOptions& options = {}) {
  return SafetensorsFile::Parse(bytes, "t.safetensors", options).status();
}

// Two small tensors: a (2, 3) F32 and b (4) BF16, 24 + 8 = 32 bytes of data.
std::string ValidFile() {
  std::string a(24, '\0'), b(8, '\0');
  for (int i = 0; i < 24; ++i) a[i] = static_cast<char>(i);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(100 + i);
  absl::StatusOr<EncodedSafetensors> encoded = EncodeSafetensors(
      {{"b", Dtype::kBF16, {4}, b}, {"a", Dtype::kF32, {2, 3}, a}}, {{"note", "hello"}});
  EXPECT_TRUE(encoded.ok()) << encoded.status();
  std::string out = encoded->header;
  for (std::string_view piece : encoded->data) out += piece;
  return out;
}

TEST(Safetensors, EncodedFileParsesBackWithShapesDataAndMetadata) {
  const std::string bytes = ValidFile();
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Parse(bytes, "mem");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ((*file)->tensors().size(), 2u);
  const TensorInfo* a = (*file)->Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, Dtype::kF32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ((*file)->Data(*a)[5], 5);
  const TensorInfo* b = (*file)->Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, Dtype::kBF16);
  EXPECT_EQ((*file)->Data(*b), std::string("defghijk"));
  EXPECT_EQ((*file)->Find("c"), nullptr);
  EXPECT_EQ((*file)->metadata().at("note"), "hello");
  EXPECT_EQ((*file)->metadata().at("gwo_format"), "1");
  EXPECT_EQ((*file)->metadata().at("gwo_checksum").size(), 16u);
}

TEST(Safetensors, HeaderIsSortedSpacePaddedJsonWithDataInNameOrder) {
  const std::string bytes = ValidFile();
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  EXPECT_EQ(length % 8, 0u);
  const std::string header = bytes.substr(8, length);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_first_not_of(' ', header.rfind('}') + 1), std::string::npos);
  EXPECT_LT(header.find("\"__metadata__\""), header.find("\"a\""));
  EXPECT_LT(header.find("\"a\""), header.find("\"b\""));
  EXPECT_THAT(header,
              HasSubstr("\"a\":{\"data_offsets\":[0,24],\"dtype\":\"F32\",\"shape\":[2,3]}"));
  EXPECT_EQ(bytes[8 + length], 0);  // a's first byte comes first
}

TEST(Safetensors, WrittenFileIsMemoryMappedBackAndNoTemporaryFileRemains) {
  testing::TestDir dir;
  const std::string path = dir / "w.safetensors";
  const std::string data(12, 'x');
  ASSERT_TRUE(WriteSafetensors(path, {{"t", Dtype::kF16, {2, 3}, data}}, {}).ok());
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->Data(*(*file)->Find("t")), data);
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path()))
    ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(Safetensors, ReadsTheFilesHfTransformersWrote) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(testing::HfFixture("gpt2-tiny/model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  const TensorInfo* wte = (*file)->Find("transformer.wte.weight");
  ASSERT_NE(wte, nullptr);
  EXPECT_EQ(wte->shape, (std::vector<int64_t>{1000, 64}));
  EXPECT_TRUE(SafetensorsFile::Open(testing::HfFixture("qwen3-tiny/model.safetensors")).ok());
}

TEST(Safetensors, Int64IsRefusedUnlessAllowed) {
  const std::string path = testing::HfFixture("gpt2-tiny/logits.safetensors");
  const absl::Status refused = SafetensorsFile::Open(path).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(refused.message()),
              AllOf(StartsWith(path), HasSubstr("'input_ids'"), HasSubstr("I64")));
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(path, {.allow_int64 = true});
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->Find("input_ids")->shape, (std::vector<int64_t>{2, 16}));
}

TEST(Safetensors, MissingFileIsNotFound) {
  EXPECT_EQ(SafetensorsFile::Open("/nonexistent/x.safetensors").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(Safetensors, TruncatedFileIsDataLossNamingTheFile) {
  testing::TestDir dir;
  const std::string bytes = ValidFile();
  const std::string path = dir.Write("cut.safetensors", bytes.substr(0, bytes.size() - 4));
  const absl::Status status = SafetensorsFile::Open(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), AllOf(StartsWith(path), HasSubstr("truncated")));
  // Cut inside the header, and shorter than the length prefix.
  EXPECT_THAT(ParseStatus(bytes.substr(0, 20)).message(), HasSubstr("truncated"));
  EXPECT_THAT(ParseStatus(bytes.substr(0, 5)).message(), HasSubstr("shorter than"));
  const std::string empty = dir.Write("empty.safetensors", "");
  EXPECT_EQ(SafetensorsFile::Open(empty).status().code(), absl::StatusCode::kDataLoss);
}

TEST(Safetensors, OversizedHeaderLengthIsRefused) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const absl::Status status = ParseStatus(Raw(header, "abcd", uint64_t{1} << 62));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("exceeds the limit"));
  EXPECT_THAT(ParseStatus(Raw(header, "abcd", kMaxSafetensorsHeader + 1)).message(),
              HasSubstr("exceeds the limit"));
}

TEST(Safetensors, WrongDtypeNamesTheTensorAndTheDtype) {
  const absl::Status status =
      ParseStatus(Raw(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", "12345678"));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()),
              AllOf(StartsWith("t.safetensors: "), HasSubstr("'w'"), HasSubstr("F64")));
  EXPECT_THAT(
      ParseStatus(Raw(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", "1234")).message(),
      HasSubstr("dtype"));
}

TEST(Safetensors, BadOffsetsAndShapesAreRefused) {
  struct Case {
    std::string header, data, expected;
  };
  const Case cases[] = {
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "1234", "needs 8 bytes"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234", "past the end"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", "1234", "end before"},
      {R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "1234", "not a size"},
      {R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", "1234",
       "too many"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", "1234", "data_offsets"},
      {R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "1234", "shape"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       "12345678", "overlaps"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", "12345678",
       "belong to no tensor"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "12345678", "cover 4"},
      {R"({"a":[1,2]})", "", "not a JSON object"},
      {R"([1,2])", "", "not a JSON object"},
      {R"({"a":)", "", "not valid JSON"},
      {R"({"__metadata__":{"k":1}})", "", "not a string"},
  };
  for (const Case& c : cases) {
    const absl::Status status = ParseStatus(Raw(c.header, c.data));
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << c.header;
    EXPECT_THAT(status.message(), HasSubstr(c.expected)) << c.header;
  }
}

TEST(Safetensors, ChecksumMismatchIsDataLossAndNewerFormatIsRefused) {
  std::string bytes = ValidFile();
  bytes[bytes.size() - 1] ^= 1;
  const absl::Status status = ParseStatus(bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("checksum mismatch"));
  const absl::Status newer = ParseStatus(Raw(R"({"__metadata__":{"gwo_format":"2"}})", ""));
  EXPECT_EQ(newer.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Safetensors, EveryPrefixAndByteChangeIsRefusedOrStillAValidFile) {
  const std::string bytes = ValidFile();
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> cut = SafetensorsFile::Parse(bytes.substr(0, n), "cut");
    EXPECT_EQ(cut.status().code(), absl::StatusCode::kDataLoss) << n;
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
  const size_t data_start = 8 + header_len;
  std::mt19937 rng(7);
  int refused = 0, accepted = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string changed = bytes;
    const size_t at = rng() % changed.size();
    changed[at] = static_cast<char>(rng());
    if (changed == bytes) continue;
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Parse(changed, "changed");
    if (at >= data_start) {
      // The checksum covers every byte of the data section.
      EXPECT_EQ(file.status().code(), absl::StatusCode::kDataLoss) << "byte " << at;
      EXPECT_THAT(file.status().message(), HasSubstr("checksum mismatch")) << "byte " << at;
      ++refused;
      continue;
    }
    if (!file.ok()) {
      // A header that no longer holds is refused as bad data, never as anything else.
      EXPECT_THAT(file.status().code(), ::testing::AnyOf(absl::StatusCode::kDataLoss,
                                                         absl::StatusCode::kFailedPrecondition))
          << "byte " << at << ": " << file.status();
      ++refused;
      continue;
    }
    // A change the header survives (a metadata letter, a name): what was accepted is
    // still a consistent file whose tensors lie in the data section with their sizes.
    ++accepted;
    uint64_t next = 0;
    for (const TensorInfo* t : [&] {
           std::vector<const TensorInfo*> by_offset;
           for (const TensorInfo& x : (*file)->tensors()) by_offset.push_back(&x);
           std::sort(by_offset.begin(), by_offset.end(),
                     [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
           return by_offset;
         }()) {
      int64_t elements = 1;
      for (int64_t d : t->shape) elements *= d;
      EXPECT_EQ(t->begin, next) << "byte " << at;
      EXPECT_EQ(t->end - t->begin, static_cast<uint64_t>(elements * DtypeSize(t->dtype))) << "byte " << at;
      EXPECT_EQ((*file)->Data(*t).size(), t->end - t->begin) << "byte " << at;
      next = t->end;
    }
    EXPECT_EQ(next, bytes.size() - data_start) << "byte " << at;
  }
  EXPECT_GT(refused, 1000);
  EXPECT_GT(accepted, 0) << "some header bytes (metadata text) do not matter; the loop saw none";
}

TEST(Safetensors, EncodeRefusesDuplicateNamesAndWrongByteCounts) {
  EXPECT_THAT(
      EncodeSafetensors({{"a", Dtype::kF32, {1}, "1234"}, {"a", Dtype::kF32, {1}, "1234"}}, {})
          .status()
          .message(),
      HasSubstr("twice"));
  EXPECT_EQ(EncodeSafetensors({{"a", Dtype::kF32, {2}, "1234"}}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(EncodeSafetensors({{"__metadata__", Dtype::kF32, {1}, "1234"}}, {}).ok());
}

}  // namespace
}  // namespace gwo::models
