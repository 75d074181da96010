#include "common/metric_line.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace gwo {
namespace {

TEST(MetricLine, WritesNineDigitsAndNonFiniteAsNull) {
  EXPECT_EQ(FormatMetricJsonLine(3, "lr", 0.5), "{\"step\":3,\"name\":\"lr\",\"value\":0.5}\n");
  EXPECT_EQ(FormatMetricJsonLine(50, "val_loss", 2.0 / 3.0), "{\"step\":50,\"name\":\"val_loss\",\"value\":0.666666667}\n");
  EXPECT_EQ(FormatMetricJsonLine(3, "train_loss", std::nan("")), "{\"step\":3,\"name\":\"train_loss\",\"value\":null}\n");
  EXPECT_EQ(FormatMetricJsonLine(3, "x", std::numeric_limits<double>::infinity()),
            "{\"step\":3,\"name\":\"x\",\"value\":null}\n");
}

TEST(MetricLine, EscapesEveryNameAsJsonRequires) {
  EXPECT_EQ(FormatMetricJsonLine(1, "a\"b\\c\nd\te\x01", 1), "{\"step\":1,\"name\":\"a\\\"b\\\\c\\nd\\te\\u0001\",\"value\":1}\n");
  // Bytes that are not UTF-8 become U+FFFD rather than an invalid JSON file.
  EXPECT_EQ(FormatMetricJsonLine(1, "caf\xe9", 1), "{\"step\":1,\"name\":\"caf\xef\xbf\xbd\",\"value\":1}\n");
}

TEST(MetricLine, ReadsBackWhatItWrites) {
  for (const char* name : {"train_loss", "a\"b\\c\nd", "infer_tokens_per_s_len4096"}) {
    for (double value : {0.0, -1.5e-12, 123456789.0, 2.0 / 3.0}) {
      std::optional<MetricLine> m = ParseMetricJsonLine(FormatMetricJsonLine(7, name, value));
      ASSERT_TRUE(m.has_value()) << name;
      EXPECT_EQ(m->step, 7);
      EXPECT_EQ(m->name, name);
      EXPECT_NEAR(m->value, value, std::abs(value) * 1e-8);
    }
  }
  std::optional<MetricLine> null = ParseMetricJsonLine("{\"step\":2,\"name\":\"x\",\"value\":null}");
  ASSERT_TRUE(null.has_value());
  EXPECT_TRUE(std::isnan(null->value));
  // Key order and spacing are JSON's business, not the reader's.
  ASSERT_TRUE(ParseMetricJsonLine(" { \"value\": 1e3, \"name\": \"x\", \"step\": 4 }\n").has_value());
  EXPECT_EQ(ParseMetricJsonLine("{\"value\":1e3,\"name\":\"x\",\"step\":4}")->value, 1000);
}

TEST(MetricLine, RefusesWhatIsNotAMetricPoint) {
  for (const char* bad : {"", "{", "{\"step\":1,\"name\":\"x\",\"value\":1",  // torn by a crash
                          "[1, \"x\", 2]", "{\"step\":-1,\"name\":\"x\",\"value\":1}",
                          "{\"step\":1.5,\"name\":\"x\",\"value\":1}", "{\"step\":1,\"name\":\"\",\"value\":1}",
                          "{\"step\":1,\"name\":2,\"value\":1}", "{\"step\":1,\"name\":\"x\",\"value\":\"1\"}",
                          "{\"step\":1,\"name\":\"x\"}", "{\"step\":1,\"name\":\"x\",\"value\":1} trailing"}) {
    EXPECT_FALSE(ParseMetricJsonLine(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace gwo

namespace gwo {
namespace {

TEST(MetricEventLine, TabSeparatedNineDigitsAndReadBack) {
  EXPECT_EQ(FormatMetricEventLine(50, "val_loss", 2.0 / 3.0), "metric\t50\tval_loss\t0.666666667\n");
  std::optional<MetricLine> m = ParseMetricEventLine("metric\t50\tval_loss\t0.666666667");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->step, 50);
  EXPECT_EQ(m->name, "val_loss");
  EXPECT_DOUBLE_EQ(m->value, 0.666666667);
  EXPECT_TRUE(std::isnan(ParseMetricEventLine("metric\t3\tloss\tnan")->value));
  EXPECT_TRUE(std::isinf(ParseMetricEventLine("metric\t3\tloss\t-inf")->value));
  for (const char* bad : {"metric\t-1\tloss\t1", "metric\t1\tloss\t1x", "metric\t1\t\t1", "log\t1\tloss\t1",
                          "metric\t1\tloss", "metric\t1\tloss\t1\textra", "metric\t1.5\tloss\t1", ""}) {
    EXPECT_FALSE(ParseMetricEventLine(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace gwo
