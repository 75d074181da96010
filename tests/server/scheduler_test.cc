#include "server/scheduler.h"

#include "gtest/gtest.h"

namespace gwo::server {
namespace {

struct Case {
  const char* name;
  std::vector<WorkerCapacity> workers;
  std::vector<int64_t> expected;
};

class PlanSlotOrderTest : public ::testing::TestWithParam<Case> {};

TEST_P(PlanSlotOrderTest, GivesExpectedOrder) {
  EXPECT_EQ(PlanSlotOrder(GetParam().workers), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PlanSlotOrderTest,
    ::testing::Values(
        Case{"NoWorkersGetNothing", {}, {}},
        Case{"FullWorkerGetsNothing", {{1, 2, 2}}, {}},
        Case{"OneWorkerGetsEachFreeSlot", {{1, 3, 1}}, {1, 1}},
        Case{"WorkersTakeTurns", {{1, 2, 0}, {2, 2, 0}}, {1, 2, 1, 2}},
        Case{"MostFreeSlotsGoesFirst", {{1, 2, 1}, {2, 3, 0}}, {2, 1, 2, 2}},
        Case{"TiesBreakByWorkerId", {{7, 1, 0}, {3, 1, 0}}, {3, 7}},
        Case{"OverfullWorkerIsSkipped", {{1, 1, 3}, {2, 1, 0}}, {2}}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace gwo::server
