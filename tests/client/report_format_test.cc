// The report formatters on a hand-built response.
#include "client/report_format.h"

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace gwo::client {
namespace {

using ::testing::HasSubstr;

gwo::v1::Stat MakeStat(int n, double mean, double std) {
  gwo::v1::Stat s;
  s.set_n(n);
  s.set_mean(mean);
  s.set_std(std);
  return s;
}

void AddCell(gwo::v1::ReportRow* row, const std::string& metric, gwo::v1::MetricDirection d, gwo::v1::Stat value,
             const gwo::v1::Stat* impr = nullptr) {
  auto* c = row->add_cells();
  c->set_metric(metric);
  c->set_direction(d);
  *c->mutable_value() = value;
  if (impr != nullptr) {
    c->set_has_improvement(true);
    *c->mutable_improvement_pct() = *impr;
  }
}

gwo::v1::GetReportResponse Sample() {
  gwo::v1::GetReportResponse r;
  r.set_experiment_id(7);
  r.set_experiment_name("gwo-vs-lora");
  r.set_baseline_variant("lora");
  r.add_datasets("brown");
  r.add_variants("lora");
  r.add_variants("gwo");
  r.add_metrics("params_trainable");
  r.add_metrics("val_ppl");
  r.set_sign_convention("positive is better");
  r.set_total_runs(6);
  r.set_counted_runs(6);
  auto* base = r.add_rows();
  base->set_dataset("brown");
  base->set_variant("lora");
  base->set_baseline(true);
  for (int s : {1, 2, 3}) base->add_seeds(s);
  AddCell(base, "params_trainable", gwo::v1::METRIC_DIRECTION_NEUTRAL, MakeStat(3, 294912, 0));
  AddCell(base, "val_ppl", gwo::v1::METRIC_DIRECTION_LOWER_IS_BETTER, MakeStat(3, 31.4159, 0.5));
  auto* gwo = r.add_rows();
  gwo->set_dataset("brown");
  gwo->set_variant("gwo");
  for (int s : {1, 2, 3}) gwo->add_seeds(s);
  AddCell(gwo, "params_trainable", gwo::v1::METRIC_DIRECTION_NEUTRAL, MakeStat(3, 1.5e6, 0));
  gwo::v1::Stat impr = MakeStat(3, 4.256, 1.1);
  AddCell(gwo, "val_ppl", gwo::v1::METRIC_DIRECTION_LOWER_IS_BETTER, MakeStat(2, 30.08, 0.25), &impr);
  return r;
}

TEST(FormatTest, NumbersShowFourSignificantDigits) {
  EXPECT_EQ(FormatMeanStd(MakeStat(3, 31.4159, 0.5)), "31.42 ± 0.50");
  EXPECT_EQ(FormatMeanStd(MakeStat(3, 0.012345, 0.001)), "0.01235 ± 0.00100");
  EXPECT_EQ(FormatMeanStd(MakeStat(1, 2.5, 0)), "2.500");
  EXPECT_EQ(FormatMeanStd(MakeStat(0, 0, 0)), "-");
  EXPECT_EQ(FormatMeanStd(MakeStat(1, 2.5e-8, 0)), "2.500e-08");
  EXPECT_EQ(FormatMeanStd(MakeStat(3, -3.25e-6, 1e-7)), "-3.250e-06 ± 1.000e-07");
  EXPECT_EQ(FormatMeanStd(MakeStat(1, 0, 0)), "0.0000");
  EXPECT_EQ(FormatImprovement(MakeStat(3, 4.256, 1.1)), "+4.26 ± 1.10 %");
  EXPECT_EQ(FormatImprovement(MakeStat(2, -3, 0.5)), "-3.00 ± 0.50 %");
  EXPECT_EQ(FormatCount(294912), "295K");
  EXPECT_EQ(FormatCount(1.5e6), "1.5M");
  EXPECT_EQ(FormatCount(12), "12");
}

TEST(FormatTest, TextIsAlignedWithParamsAndImprovementColumns) {
  std::string text = FormatReport(Sample(), "text").value();
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ASSERT_GE(lines.size(), 5u);
  EXPECT_THAT(lines[0], HasSubstr("exp-7 gwo-vs-lora: 6 of 6 runs counted; baseline variant: lora"));
  const std::string& header = lines[2];
  EXPECT_THAT(header, HasSubstr("PARAMS"));
  EXPECT_THAT(header, HasSubstr("val_ppl impr %"));
  EXPECT_THAT(header, ::testing::Not(HasSubstr("params_trainable")));
  EXPECT_THAT(lines[3], HasSubstr("lora (baseline)"));
  EXPECT_THAT(lines[3], HasSubstr("295K"));
  EXPECT_THAT(lines[4], HasSubstr("30.08 ± 0.25 (n=2)"));
  EXPECT_THAT(lines[4], HasSubstr("+4.26 ± 1.10 %"));
  // Aligned: the improvement column starts at the same offset in header and row.
  EXPECT_EQ(header.find("val_ppl impr %"), lines[4].find("+4.26"));
  EXPECT_THAT(text, HasSubstr("sample std (n-1)"));
  EXPECT_THAT(text, HasSubstr("sign: positive is better"));
}

TEST(FormatTest, MarkdownIsAPipeTable) {
  std::string md = FormatReport(Sample(), "markdown").value();
  EXPECT_THAT(md, HasSubstr("| DATASET | VARIANT | SEEDS | PARAMS | val_ppl | val_ppl impr % |\n"));
  EXPECT_THAT(md, HasSubstr("|---|---|---:|---:|---:|---:|\n"));
  EXPECT_THAT(md, HasSubstr("| brown | gwo | 3 | 1.5M | 30.08 ± 0.25 (n=2) | +4.26 ± 1.10 % |\n"));
}

TEST(FormatTest, CsvHasMeanStdAndImprovementPerMetric) {
  std::string csv = FormatReport(Sample(), "csv").value();
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "dataset,variant,baseline,seeds,params_trainable_mean,params_trainable_std,params_trainable_n,"
            "params_trainable_impr_pct_mean,params_trainable_impr_pct_std,val_ppl_mean,val_ppl_std,val_ppl_n,"
            "val_ppl_impr_pct_mean,val_ppl_impr_pct_std");
  EXPECT_EQ(lines[1], "brown,lora,true,1 2 3,294912,0,3,,,31.4159,0.5,3,,");
  EXPECT_EQ(lines[2], "brown,gwo,false,1 2 3,1500000,0,3,,,30.08,0.25,2,4.256,1.1");
}

TEST(FormatTest, JsonParsesBackToTheSameMessage) {
  std::string json = FormatReport(Sample(), "json").value();
  EXPECT_THAT(json, HasSubstr("\"baseline_variant\": \"lora\""));
  gwo::v1::GetReportResponse back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok());
  EXPECT_EQ(back.SerializeAsString(), Sample().SerializeAsString());
}

TEST(FormatTest, UnknownFormatIsRefusedWithTheChoices) {
  auto r = FormatReport(Sample(), "xml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("expected text, markdown, csv or json"));
}

}  // namespace
}  // namespace gwo::client
