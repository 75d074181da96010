// The attention options of a spec: per-kind parsing, errors with file:line:col,
// inheritance into variants, and the RunSpecToYaml round trip.
#include "spec/parse_attention.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/attention_kinds.h"
#include "spec/parse.h"

namespace gwo::spec {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<ExperimentSpec> Parse(const std::string& attention_and_variants) {
  return ParseExperimentSpec("name: x\ndatasets: [{name: d, path: /tmp}]\n" + attention_and_variants,
                             "job.yaml");
}

std::string ErrorOf(const std::string& yaml) { return std::string(Parse(yaml).status().message()); }

TEST(ParseAttention, ReadsTheOptionsOfEachKind) {
  auto spec = Parse(
      "attention: {kind: nsa, block: 8, stride: 4, selected_blocks: 2, window: 32}\n"
      "variants:\n"
      "  - name: nsa\n"
      "  - name: sw\n"
      "    attention: {kind: sliding_window, window: 16, sink_tokens: 2}\n"
      "  - name: mix\n"
      "    attention: {kind: mask_mixture, windows: [4, 8], stride: 0, sink_tokens: 1, per: layer}\n"
      "  - name: fact\n"
      "    attention: {kind: factorized, rank: 8, gate_init: -1.5}\n"
      "  - name: lm\n"
      "    attention: {kind: learned_mask, block: 4, top_k: 2, relaxation: soft}\n"
      "  - name: perf\n"
      "    attention: {kind: performer, features: 128, redraw_interval: 100}\n"
      "  - name: lin\n"
      "    attention: {kind: linear, normalize: none}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const auto& v = spec->variants;
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(v[0].attention.kind, "nsa");
  EXPECT_EQ(v[0].attention.nsa.block, 8);
  EXPECT_EQ(v[0].attention.nsa.stride, 4);
  EXPECT_EQ(v[0].attention.nsa.selected_blocks, 2);
  EXPECT_EQ(v[0].attention.nsa.window, 32);
  EXPECT_EQ(v[1].attention.sliding_window.window, 16);
  EXPECT_EQ(v[1].attention.sliding_window.sink_tokens, 2);
  EXPECT_EQ(v[2].attention.mask_mixture.windows, (std::vector<int>{4, 8}));
  EXPECT_EQ(v[2].attention.mask_mixture.stride, 0);
  EXPECT_EQ(v[2].attention.mask_mixture.per, "layer");
  EXPECT_EQ(v[3].attention.factorized.rank, 8);
  EXPECT_DOUBLE_EQ(v[3].attention.factorized.gate_init, -1.5);
  EXPECT_EQ(v[4].attention.learned_mask.top_k, 2);
  EXPECT_EQ(v[4].attention.learned_mask.relaxation, "soft");
  EXPECT_EQ(v[5].attention.performer.features, 128);
  EXPECT_EQ(v[5].attention.performer.redraw_interval, 100);
  EXPECT_EQ(v[6].attention.linear.normalize, "none");
}

TEST(ParseAttention, VariantsInheritTheSameKindsOptionsAndStartOtherKindsFromDefaults) {
  auto spec = Parse(
      "attention: {kind: sliding_window, window: 16}\n"
      "variants:\n"
      "  - name: same\n"
      "    attention: {sink_tokens: 4}\n"
      "  - name: other\n"
      "    attention: {kind: nsa}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->variants[0].attention.kind, "sliding_window");
  EXPECT_EQ(spec->variants[0].attention.sliding_window.window, 16);
  EXPECT_EQ(spec->variants[0].attention.sliding_window.sink_tokens, 4);
  EXPECT_EQ(spec->variants[1].attention.kind, "nsa");
  EXPECT_EQ(spec->variants[1].attention.nsa.window, NsaOptions{}.window);
}

TEST(ParseAttention, BadValuesNameFileLineColumnAndWhatWasExpected) {
  EXPECT_THAT(ErrorOf("attention:\n  kind: sliding_window\n  window: 0\n"),
              HasSubstr("job.yaml:5:11: attention.window: expected an integer >= 1, got 0"));
  EXPECT_THAT(ErrorOf("attention: {kind: sliding_window, window: wide}\n"),
              HasSubstr("attention.window: expected an integer, got \"wide\""));
  EXPECT_THAT(ErrorOf("attention: {kind: performer, features: 0}\n"),
              HasSubstr("attention.features: expected an integer in [1, 65536], got 0"));
  EXPECT_THAT(ErrorOf("attention: {kind: learned_mask, relaxation: gumbel}\n"),
              HasSubstr("attention.relaxation: expected one of straight_through, soft; got \"gumbel\""));
  EXPECT_THAT(ErrorOf("attention: {kind: mask_mixture, per: token}\n"),
              HasSubstr("attention.per: expected one of head, layer"));
  EXPECT_THAT(ErrorOf("attention: {kind: mask_mixture, windows: []}\n"),
              HasSubstr("attention.windows: expected a non-empty list of integers >= 1"));
  EXPECT_THAT(ErrorOf("attention: {kind: mask_mixture, windows: [4, 0, x]}\n"),
              HasSubstr("attention.windows[1]: expected an integer >= 1, got 0"));
  EXPECT_THAT(ErrorOf("attention: {kind: mask_mixture, windows: [4, x]}\n"),
              HasSubstr("attention.windows[1]: expected an integer >= 1, got \"x\""));
  EXPECT_THAT(ErrorOf("attention: {kind: mask_mixture, windows: [4, 4]}\n"),
              HasSubstr("attention.windows[1]: duplicate value 4"));
  EXPECT_THAT(ErrorOf("attention: {kind: nsa, block: 4, stride: 8}\n"),
              HasSubstr("attention.stride: expected an integer <= attention block (4)"));
  EXPECT_THAT(ErrorOf("attention: {kind: factorized, gate_init: 99}\n"),
              HasSubstr("attention.gate_init: expected a number in [-30, 30], got 99"));
  EXPECT_THAT(ErrorOf("attention: {kind: linear, normalize: softmax}\n"),
              HasSubstr("attention.normalize: expected one of count, none"));
}

TEST(ParseAttention, OptionsOfAnotherKindAreRejected) {
  EXPECT_THAT(ErrorOf("attention: {kind: performer, window: 8}\n"),
              HasSubstr("job.yaml:3:30: attention.window: not an option of attention kind "
                        "\"performer\" (its options: features, redraw_interval)"));
  EXPECT_THAT(ErrorOf("attention: {window: 8}\n"),
              HasSubstr("attention.window: not an option of attention kind \"standard\" (it takes none)"));
  EXPECT_THAT(ErrorOf("attention: {kind: natural, features: 8}\n"),
              HasSubstr("not an option of attention kind \"natural\""));
  // In a variant, against the kind it inherits.
  EXPECT_THAT(ErrorOf("attention: {kind: nsa}\nvariants: [{name: a, attention: {top_k: 2}}]\n"),
              HasSubstr("variants[0].attention.top_k: not an option of attention kind \"nsa\""));
  EXPECT_THAT(ErrorOf("attention: {kind: nsa, telepathy: 1}\n"),
              HasSubstr("attention.telepathy: unknown key"));
  // An unknown kind is reported once, not its options.
  const std::string unknown = ErrorOf("attention: {kind: magic, window: 3}\n");
  EXPECT_THAT(unknown, HasSubstr("unknown attention kind \"magic\""));
  EXPECT_THAT(unknown, Not(HasSubstr("not an option")));
}

TEST(ParseAttention, EveryKindHasAnOptionsRowOrNone) {
  for (absl::string_view kind : AttentionKinds()) {
    const bool without = kind == "standard" || kind == "natural";
    EXPECT_EQ(AttentionOptionKeys(kind).empty(), without) << kind;
  }
}

TEST(ParseAttention, EveryKindRoundTripsThroughRunSpecYaml) {
  RunSpec r;
  r.data.path = "/tmp/x";
  r.attention.factorized = {.rank = 3, .gate_init = -0.25};
  r.attention.sliding_window = {.window = 5, .sink_tokens = 2};
  r.attention.mask_mixture = {.windows = {3, 9}, .stride = 2, .sink_tokens = 0, .per = "layer"};
  r.attention.learned_mask = {.block = 4, .top_k = 3, .relaxation = "soft"};
  r.attention.performer = {.features = 33, .redraw_interval = 7};
  r.attention.nsa = {.block = 8, .stride = 2, .selected_blocks = 5, .window = 11};
  r.attention.linear = {.normalize = "none"};
  for (absl::string_view kind : AttentionKinds()) {
    r.attention.kind = std::string(kind);
    const std::string yaml = RunSpecToYaml(r);
    auto back = ParseRunSpec(yaml, "run.yaml");
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
    EXPECT_EQ(RunSpecToYaml(*back), yaml);
    const AttentionSpec& a = back->attention;
    EXPECT_EQ(a.kind, kind);
    if (kind == "factorized") {
      EXPECT_EQ(a.factorized.rank, 3);
      EXPECT_EQ(a.factorized.gate_init, -0.25);
    } else if (kind == "sliding_window") {
      EXPECT_EQ(a.sliding_window.window, 5);
      EXPECT_EQ(a.sliding_window.sink_tokens, 2);
    } else if (kind == "mask_mixture") {
      EXPECT_EQ(a.mask_mixture.windows, (std::vector<int>{3, 9}));
      EXPECT_EQ(a.mask_mixture.stride, 2);
      EXPECT_EQ(a.mask_mixture.sink_tokens, 0);
      EXPECT_EQ(a.mask_mixture.per, "layer");
    } else if (kind == "learned_mask") {
      EXPECT_EQ(a.learned_mask.block, 4);
      EXPECT_EQ(a.learned_mask.top_k, 3);
      EXPECT_EQ(a.learned_mask.relaxation, "soft");
    } else if (kind == "performer") {
      EXPECT_EQ(a.performer.features, 33);
      EXPECT_EQ(a.performer.redraw_interval, 7);
    } else if (kind == "nsa") {
      EXPECT_EQ(a.nsa.block, 8);
      EXPECT_EQ(a.nsa.stride, 2);
      EXPECT_EQ(a.nsa.selected_blocks, 5);
      EXPECT_EQ(a.nsa.window, 11);
    } else if (kind == "linear") {
      EXPECT_EQ(a.linear.normalize, "none");
    }
  }
}

}  // namespace
}  // namespace gwo::spec
