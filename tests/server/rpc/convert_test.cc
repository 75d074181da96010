// The registering worker's strings end up in the workers table as data.
#include "server/rpc/convert.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace gwo::server {
namespace {

TEST(DevicesJson, WorkerStringsAreEscapedNotSpliced) {
  gwo::v1::RegisterWorker r;
  auto* d = r.add_devices();
  d->set_kind("cuda\",\"index\":99}],\"x\":[{\"kind\":\"evil");
  d->set_index(1);
  d->set_memory_bytes(int64_t{80} << 30);
  r.add_devices()->set_kind("cpu\n\x01");
  const nlohmann::json parsed = nlohmann::json::parse(DevicesJson(r));  // throws if it is not JSON
  ASSERT_TRUE(parsed.is_array());
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0]["kind"], d->kind());
  EXPECT_EQ(parsed[0]["index"], 1);
  EXPECT_EQ(parsed[0]["memory_bytes"], int64_t{80} << 30);
  EXPECT_EQ(parsed[1]["kind"], "cpu\n\x01");
  EXPECT_EQ(DevicesOf(r)[0].kind, d->kind());
  EXPECT_EQ(DevicesOf(r)[1].index, 0);
}

TEST(DevicesJson, NoDevicesIsAnEmptyArray) { EXPECT_EQ(DevicesJson(gwo::v1::RegisterWorker()), "[]"); }

}  // namespace
}  // namespace gwo::server
