#include "worker/trainer/checkpoint_format.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/data/fnv1a.h"

namespace gwo::trainer {
namespace {

using ::testing::HasSubstr;

const CheckpointContents kContents{
    .spec_yaml = "seed: 1\n", .model_bytes = std::string("w\0ts", 4), .state_bytes = "adam"};

// A file of format version 1 (no training state), as gwo-train wrote before resume.
std::string VersionOneFile(const std::string& spec, const std::string& model) {
  std::string file(kCheckpointMagic);
  auto put = [&file](uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) file.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  };
  put(1, 4);
  put(spec.size(), 8);
  file += spec;
  put(model.size(), 8);
  file += model;
  put(data::Fnv1a64(file), 8);
  return file;
}

TEST(CheckpointFormat, RoundTrips) {
  const std::string file = EncodeCheckpoint(kContents);
  EXPECT_EQ(file.substr(0, 8), std::string("GWOCKPT\0", 8));
  absl::StatusOr<CheckpointContents> decoded = DecodeCheckpoint(file, "f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->spec_yaml, kContents.spec_yaml);
  EXPECT_EQ(decoded->model_bytes, kContents.model_bytes);
  EXPECT_EQ(decoded->state_bytes, kContents.state_bytes);
}

TEST(CheckpointFormat, VersionOneIsReadAsWeightsOnly) {
  absl::StatusOr<CheckpointContents> decoded = DecodeCheckpoint(VersionOneFile("s: 1\n", "w"), "f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->spec_yaml, "s: 1\n");
  EXPECT_EQ(decoded->model_bytes, "w");
  EXPECT_EQ(decoded->state_bytes, "");
}

TEST(CheckpointFormat, EveryTruncationIsRefused) {
  const std::string file = EncodeCheckpoint(kContents);
  for (size_t n = 0; n < file.size(); ++n) {
    const absl::StatusOr<CheckpointContents> decoded = DecodeCheckpoint(file.substr(0, n), "f");
    EXPECT_FALSE(decoded.ok()) << n;
  }
}

TEST(CheckpointFormat, EveryBitFlipIsRefused) {
  const std::string file = EncodeCheckpoint(kContents);
  for (size_t i = 0; i < file.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = file;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_FALSE(DecodeCheckpoint(bad, "f").ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(CheckpointFormat, WrongMagicSaysNotACheckpoint) {
  std::string file = EncodeCheckpoint(kContents);
  file[0] = 'X';
  EXPECT_THAT(DecodeCheckpoint(file, "f").status().message(), HasSubstr("not a gwo checkpoint"));
  EXPECT_THAT(DecodeCheckpoint("PK\x03\x04 a zip file", "f").status().message(),
              HasSubstr("not a gwo checkpoint"));
}

TEST(CheckpointFormat, NewerVersionIsFailedPrecondition) {
  std::string file = EncodeCheckpoint(kContents);
  file[8] = 3;  // version, little-endian
  EXPECT_EQ(DecodeCheckpoint(file, "f").status().code(), absl::StatusCode::kFailedPrecondition);
  file[8] = 0;
  EXPECT_EQ(DecodeCheckpoint(file, "f").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CheckpointFormat, TrailingBytesAreRefused) {
  EXPECT_FALSE(DecodeCheckpoint(EncodeCheckpoint(kContents) + "x", "f").ok());
}

}  // namespace
}  // namespace gwo::trainer
