// The dual-form experiment's data (worker/trainer/icl_data.h): the choice of
// demonstrations and queries, their formatting, and the label-only loss mask.
#include "worker/trainer/icl_data.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/data/tokenizer.h"

namespace gwo::trainer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<data::Tokenizer> Bytes() { return *data::LoadTokenizer("byte", ""); }

std::string Decode(const data::Tokenizer& t, const std::vector<int32_t>& ids, int64_t begin, int64_t end) {
  return t.Decode(std::span<const int32_t>(ids).subspan(static_cast<size_t>(begin), static_cast<size_t>(end - begin)));
}

std::vector<data::LabelledExample> Labelled(std::initializer_list<std::pair<const char*, const char*>> items) {
  std::vector<data::LabelledExample> out;
  for (const auto& [text, label] : items) out.push_back({"id", text, label});
  return out;
}

TEST(RoundRobinByLabel, TakesEachLabelInTurnInOrderOfFirstAppearance) {
  const auto e = Labelled({{"a1", "a"}, {"a2", "a"}, {"a3", "a"}, {"b1", "b"}, {"b2", "b"}, {"c1", "c"}});
  EXPECT_THAT(RoundRobinByLabel(e, 4), ElementsAre(0, 3, 5, 1));
  EXPECT_THAT(RoundRobinByLabel(e, 100), ElementsAre(0, 3, 5, 1, 4, 2));  // labels that run out are passed over
  EXPECT_TRUE(RoundRobinByLabel(e, 0).empty());
}

TEST(BuildIclTask, FormatsDemonstrationsAndQueriesLikeThePrompt) {
  const auto t = Bytes();
  data::LabelledExamples e;
  e.train = Labelled({{"cheap pills", "spam"}, {"lunch?", "ham"}, {"win now", "spam"}});
  e.val = Labelled({{"hi bob", "ham"}, {"free $$$", "spam"}, {"odd", "other"}});
  absl::StatusOr<IclTask> task = BuildIclTask(*t, e, {.enabled = true, .shots = 2, .queries = 3}, 256);
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_THAT(task->labels, ElementsAre("ham", "spam"));
  ASSERT_EQ(task->answers.size(), 2u);
  EXPECT_EQ(t->Decode(task->answers[1]), " spam");
  ASSERT_EQ(task->demonstrations.size(), 2u);  // round-robin: a spam, then a ham
  const FormattedExample& d0 = task->demonstrations[0];
  EXPECT_EQ(t->Decode(d0.tokens), "cheap pills\nLabel: spam\n\n");
  EXPECT_EQ(Decode(*t, d0.tokens, d0.answer_begin, d0.answer_end), " spam");
  EXPECT_EQ(d0.label, "spam");
  EXPECT_EQ(t->Decode(task->demonstrations[1].tokens), "lunch?\nLabel: ham\n\n");
  EXPECT_EQ(t->Decode(task->context), "cheap pills\nLabel: spam\n\nlunch?\nLabel: ham\n\n");
  ASSERT_EQ(task->queries.size(), 3u);
  EXPECT_EQ(t->Decode(task->queries[0].tokens), "hi bob\nLabel:");
  EXPECT_EQ(task->queries[0].answer_begin, task->queries[0].answer_end);
  EXPECT_THAT(task->query_labels, ElementsAre(0, 1, -1));  // "other" is not a training label
}

TEST(BuildIclTask, CutsTextsToTheirBudgetKeepingTheirStart) {
  const auto t = Bytes();
  data::LabelledExamples e;
  const std::string long_text(500, 'x');
  e.train = Labelled({{"abcdefghijklmnopqrstuvwxyz", "ham"}, {"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "spam"}});
  e.val = Labelled({{"0123456789012345678901234567890123456789012345678901234567890123456789", "ham"}});
  // block 128: queries get 64 tokens, demonstrations (128 - 64 - 5) / 2 = 29 each.
  absl::StatusOr<IclTask> task = BuildIclTask(*t, e, {.shots = 2, .queries = 1}, 128);
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(t->Decode(task->demonstrations[0].tokens), "abcdefghijklmnop\nLabel: ham\n\n");
  EXPECT_EQ(t->Decode(task->demonstrations[1].tokens), "ABCDEFGHIJKLMNO\nLabel: spam\n\n");
  EXPECT_EQ(task->demonstrations[0].tokens.size(), 29u);
  EXPECT_EQ(task->demonstrations[1].tokens.size(), 29u);
  EXPECT_EQ(t->Decode(task->queries[0].tokens), "012345678901234567890123456789012345678901234567890123456\nLabel:");
  // The ICL prompt and the longest answer fit the block.
  EXPECT_LE(task->context.size() + task->queries[0].tokens.size() + 5, 128u);
}

TEST(BuildIclTask, ErrorsNameWhatIsMissing) {
  const auto t = Bytes();
  data::LabelledExamples e;
  e.train = Labelled({{"a", "ham"}, {"b", "spam"}});
  e.val = Labelled({{"c", "ham"}});
  EXPECT_THAT(std::string(BuildIclTask(*t, e, {.shots = 3}, 256).status().message()),
              HasSubstr("training.icl.shots is 3 but the corpus has 2 training examples"));
  EXPECT_THAT(std::string(BuildIclTask(*t, e, {.shots = 2}, 32).status().message()),
              HasSubstr("block_size 32 leaves"));
  e.val.clear();
  EXPECT_THAT(std::string(BuildIclTask(*t, e, {.shots = 2}, 256).status().message()),
              HasSubstr("no validation examples"));
}

TEST(DemonstrationBatch, LabelOnlyLossKeepsJustTheAnswerTargets) {
  const auto t = Bytes();
  data::LabelledExamples e;
  e.train = Labelled({{"abc", "spam"}, {"d", "ham"}});
  e.val = Labelled({{"q", "ham"}});
  absl::StatusOr<IclTask> task = BuildIclTask(*t, e, {.shots = 2}, 256);
  ASSERT_TRUE(task.ok()) << task.status();
  const FormattedExample& a = task->demonstrations[0];  // "abc\nLabel: spam\n\n" (17 tokens)
  const FormattedExample& b = task->demonstrations[1];  // "d\nLabel: ham\n\n" (14 tokens)
  ASSERT_EQ(a.tokens.size(), 17u);
  ASSERT_EQ(b.tokens.size(), 14u);

  const MaskedBatch label = DemonstrationBatch(task->demonstrations, /*label_only=*/true);
  EXPECT_EQ(label.rows, 2);
  EXPECT_EQ(label.cols, 16);
  ASSERT_EQ(label.inputs.size(), 32u);
  ASSERT_EQ(label.targets.size(), 32u);
  std::string row0_targets, row1_targets;
  for (int64_t j = 0; j < label.cols; ++j) {
    EXPECT_EQ(label.inputs[j], j < 17 ? a.tokens[j] : 0);
    EXPECT_EQ(label.inputs[16 + j], j < 14 ? b.tokens[j] : 0) << j;  // right-padded with 0
    const bool answer_a = j + 1 >= a.answer_begin && j + 1 < a.answer_end;
    const bool answer_b = j + 1 >= b.answer_begin && j + 1 < b.answer_end;
    EXPECT_EQ(label.targets[j], answer_a ? a.tokens[j + 1] : kIgnoreTarget) << j;
    EXPECT_EQ(label.targets[16 + j], answer_b ? b.tokens[j + 1] : kIgnoreTarget) << j;
    if (label.targets[j] != kIgnoreTarget) row0_targets += static_cast<char>(label.targets[j]);
    if (label.targets[16 + j] != kIgnoreTarget) row1_targets += static_cast<char>(label.targets[16 + j]);
  }
  EXPECT_EQ(row0_targets, " spam");  // predicted from "...Label:" onwards
  EXPECT_EQ(row1_targets, " ham");

  const MaskedBatch all = DemonstrationBatch(task->demonstrations, /*label_only=*/false);
  int kept0 = 0, kept1 = 0;
  for (int64_t j = 0; j < all.cols; ++j) {
    kept0 += all.targets[j] != kIgnoreTarget;
    kept1 += all.targets[16 + j] != kIgnoreTarget;
    if (j + 1 < 17) EXPECT_EQ(all.targets[j], a.tokens[j + 1]);
  }
  EXPECT_EQ(kept0, 16);  // every next token of the row
  EXPECT_EQ(kept1, 13);  // none past its end
}

}  // namespace
}  // namespace gwo::trainer
