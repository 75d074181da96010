#include "spec/parse_training.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/parse.h"

namespace gwo::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<RunSpec> Parse(const std::string& training) {
  return ParseRunSpec("data: {path: /tmp/x}\ntraining:\n" + training, "run.yaml");
}

std::string ErrorOf(const std::string& training) {
  return std::string(Parse(training).status().message());
}

TEST(ParseTrainingModes, ReadsEveryField) {
  absl::StatusOr<RunSpec> r = Parse(R"(  lm_weight: 0.5
  distill: {teacher: /ckpt/t.ckpt, weight: 2, temperature: 1.5}
  trainable:
    mode: lora
    lora: {rank: 4, alpha: 8, dropout: 0.1, targets: [c_attn, mlp.c_proj]}
    train: ["h.*.attn.attention.*"]
    freeze: [wpe.weight]
  optimizer: {name: natural, strength: 1, min_scale: 0.2, max_scale: 5}
  side_by_side: {attention: standard, optimizer: natural, prefix: "nat_"}
  metrics: {memory_lengths: [16, 32], fidelity_batches: 2}
  generate: {prompts: ["Once", "def f("], max_new_tokens: 5, temperature: 0.7, top_k: 10}
  icl: {shots: 2, queries: 3, train_on: demonstrations, loss: sequence}
)");
  ASSERT_TRUE(r.ok()) << r.status();
  const TrainingSpec& t = r->training;
  EXPECT_EQ(t.lm_weight, 0.5);
  EXPECT_EQ(t.distill.teacher, "/ckpt/t.ckpt");
  EXPECT_EQ(t.distill.weight, 2);
  EXPECT_EQ(t.distill.temperature, 1.5);
  EXPECT_EQ(t.distill.teacher_location.line, 4);
  EXPECT_EQ(t.trainable.mode, "lora");
  EXPECT_EQ(t.trainable.lora.rank, 4);
  EXPECT_EQ(t.trainable.lora.alpha, 8);
  EXPECT_EQ(t.trainable.lora.dropout, 0.1);
  EXPECT_THAT(t.trainable.lora.targets, ElementsAre("c_attn", "mlp.c_proj"));
  EXPECT_THAT(t.trainable.train, ElementsAre("h.*.attn.attention.*"));
  EXPECT_THAT(t.trainable.freeze, ElementsAre("wpe.weight"));
  EXPECT_EQ(t.optimizer.name, "natural");
  EXPECT_EQ(t.optimizer.natural_strength, 1);
  EXPECT_EQ(t.optimizer.natural_min_scale, 0.2);
  EXPECT_EQ(t.optimizer.natural_max_scale, 5);
  EXPECT_TRUE(t.side_by_side.enabled);
  EXPECT_EQ(t.side_by_side.optimizer.name, "natural");
  EXPECT_EQ(t.side_by_side.prefix, "nat_");
  EXPECT_THAT(t.metrics.memory_lengths, ElementsAre(16, 32));
  EXPECT_EQ(t.metrics.fidelity_batches, 2);
  EXPECT_THAT(t.generate.prompts, ElementsAre("Once", "def f("));
  EXPECT_EQ(t.generate.max_new_tokens, 5);
  EXPECT_EQ(t.generate.top_k, 10);
  EXPECT_TRUE(t.icl.enabled);
  EXPECT_EQ(t.icl.shots, 2);
  EXPECT_EQ(t.icl.queries, 3);
  EXPECT_EQ(t.icl.train_on, "demonstrations");
  EXPECT_EQ(t.icl.loss, "sequence");

  // Round trip: RunSpecToYaml -> ParseRunSpec gives the same spec (and the same text).
  const std::string yaml = RunSpecToYaml(*r);
  absl::StatusOr<RunSpec> back = ParseRunSpec(yaml, "run.yaml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(RunSpecToYaml(*back), yaml);
  EXPECT_EQ(back->training.distill.teacher, "/ckpt/t.ckpt");
  EXPECT_THAT(back->training.trainable.lora.targets, ElementsAre("c_attn", "mlp.c_proj"));
  EXPECT_THAT(back->training.metrics.memory_lengths, ElementsAre(16, 32));
  EXPECT_EQ(back->training.side_by_side.prefix, "nat_");
  EXPECT_TRUE(back->training.icl.enabled);
  EXPECT_EQ(back->training.icl.loss, "sequence");
}

TEST(ParseTrainingModes, IclTrainsOnDemonstrationsWithALabelLossByDefault) {
  absl::StatusOr<RunSpec> r = Parse("  distill: {teacher: /t, weight: 0}\n  icl: {shots: 3}\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->training.icl.train_on, "demonstrations");
  EXPECT_EQ(r->training.icl.loss, "label");
  r = Parse("  distill: {teacher: /t, weight: 0}\n  icl: {train_on: corpus}\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->training.icl.train_on, "corpus");
  absl::StatusOr<RunSpec> back = ParseRunSpec(RunSpecToYaml(*r), "run.yaml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << RunSpecToYaml(*r);
  EXPECT_EQ(back->training.icl.train_on, "corpus");
  EXPECT_EQ(RunSpecToYaml(*back), RunSpecToYaml(*r));
  EXPECT_THAT(ErrorOf("  distill: {teacher: /t}\n  icl: {train_on: corpus, loss: label}\n"),
              HasSubstr("training.icl.loss: is only used with train_on: demonstrations"));
  EXPECT_THAT(ErrorOf("  distill: {teacher: /t}\n  icl: {train_on: lm}\n"),
              HasSubstr("training.icl.train_on: expected one of demonstrations, corpus"));
  EXPECT_THAT(ErrorOf("  distill: {teacher: /t}\n  icl: {loss: answer}\n"),
              HasSubstr("training.icl.loss: expected one of label, sequence"));
}

TEST(ParseTrainingModes, TeacherFromRunOrVariantRoundTrips) {
  absl::StatusOr<RunSpec> r =
      Parse("  distill: {teacher: {from_run: 7, checkpoint: best, path: /o/best.ckpt}}\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->training.distill.teacher_from_run, 7);
  EXPECT_EQ(r->training.distill.teacher_checkpoint, "best");
  EXPECT_EQ(r->training.distill.teacher, "/o/best.ckpt");
  absl::StatusOr<RunSpec> back = ParseRunSpec(RunSpecToYaml(*r), "run.yaml");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->training.distill.teacher_from_run, 7);
  EXPECT_EQ(back->training.distill.teacher, "/o/best.ckpt");

  r = Parse("  distill: {teacher: {from_variant: base}}\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->training.distill.teacher_from_variant, "base");
  back = ParseRunSpec(RunSpecToYaml(*r), "run.yaml");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->training.distill.teacher_from_variant, "base");
  EXPECT_EQ(back->training.distill.teacher_checkpoint, "final");
}

TEST(ParseTrainingModes, DefaultsRoundTripAndOptimizerAsAScalar) {
  absl::StatusOr<RunSpec> r = Parse("  optimizer: natural\n  trainable: {mode: kv_only}\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->training.optimizer.name, "natural");
  EXPECT_EQ(r->training.trainable.mode, "kv_only");
  EXPECT_FALSE(r->training.side_by_side.enabled);
  const std::string yaml = RunSpecToYaml(*r);
  absl::StatusOr<RunSpec> back = ParseRunSpec(yaml, "run.yaml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(RunSpecToYaml(*back), yaml);
}

TEST(ParseTraining, PrecisionAndCudaGraphRoundTripWithAutoAndOnByDefault) {
  absl::StatusOr<RunSpec> defaults = Parse("  steps: 10\n");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->training.precision, "auto");
  EXPECT_TRUE(defaults->training.cuda_graph);
  for (const std::string precision : {"bf16", "fp16", "tf32", "fp32"}) {
    absl::StatusOr<RunSpec> r = Parse("  precision: " + precision + "\n  cuda_graph: false\n");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->training.precision, precision);
    EXPECT_FALSE(r->training.cuda_graph);
    absl::StatusOr<RunSpec> again = ParseRunSpec(RunSpecToYaml(*r), "again.yaml");
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->training.precision, precision);
    EXPECT_FALSE(again->training.cuda_graph);
  }
  const std::string error = ErrorOf("  precision: float8\n");
  EXPECT_THAT(error, HasSubstr("training.precision"));
  EXPECT_THAT(error, HasSubstr("fp16"));
}

TEST(ParseTrainingModes, BadValuesAreErrorsWithPositions) {
  EXPECT_THAT(ErrorOf("  trainable: {mode: half}\n"),
              HasSubstr("run.yaml:3:21: training.trainable.mode: expected one of full, lora, kv_only"));
  EXPECT_THAT(ErrorOf("  trainable: {mode: lora, lora: {rank: 0}}\n"),
              HasSubstr("training.trainable.lora.rank: expected an integer in [1, 65536], got 0"));
  EXPECT_THAT(ErrorOf("  trainable: {lora: {rank: 2}}\n"),
              HasSubstr("training.trainable.lora: is only used with mode: lora"));
  EXPECT_THAT(ErrorOf("  trainable: {train: [\"\"]}\n"),
              HasSubstr("training.trainable.train[0]: expected a non-empty string"));
  EXPECT_THAT(ErrorOf("  distill: {weight: 1}\n"),
              HasSubstr("run.yaml:3:12: training.distill.teacher: is required"));
  EXPECT_THAT(ErrorOf("  distill: {teacher: {from_run: 1, from_variant: a}}\n"),
              HasSubstr("training.distill.teacher: give either from_run or from_variant"));
  EXPECT_THAT(ErrorOf("  distill: {teacher: /t, temperature: 0}\n"),
              HasSubstr("training.distill.temperature: expected a number in (0, 1000]"));
  EXPECT_THAT(ErrorOf("  lm_weight: 0\n"), HasSubstr("training.lm_weight: the loss has no term"));
  EXPECT_THAT(ErrorOf("  optimizer: sgd\n"),
              HasSubstr("training.optimizer.name: expected one of adamw, natural"));
  EXPECT_THAT(ErrorOf("  side_by_side: {attention: nope}\n"),
              HasSubstr("training.side_by_side.attention: unknown attention kind \"nope\""));
  EXPECT_THAT(ErrorOf("  checkpoint_every: 5\n  side_by_side: {}\n"),
              HasSubstr("training.side_by_side: the second model is not checkpointed"));
  EXPECT_THAT(ErrorOf("  metrics: {memory_lengths: [0]}\n"),
              HasSubstr("training.metrics.memory_lengths[0]: expected an integer in [1, 1048576]"));
  EXPECT_THAT(ErrorOf("  generate: {prompts: hi, top_k: -1}\n"),
              HasSubstr("training.generate.top_k: expected an integer in [0, 16777216]"));
  EXPECT_THAT(ErrorOf("  icl: {shots: 2}\n"), HasSubstr("training.icl: needs distill.teacher"));
  EXPECT_THAT(ErrorOf("  metrics: {bogus: 1}\n"), HasSubstr("training.metrics.bogus: unknown key"));
}

TEST(ParseTrainingModes, VariantOverridesTheExperimentsTraining) {
  absl::StatusOr<ExperimentSpec> e = ParseExperimentSpec(R"(name: x
datasets: [{name: d, path: /a}]
training: {trainable: {mode: lora, lora: {rank: 2}}, distill: {teacher: {from_run: 3}}}
variants:
  - name: a
  - name: b
    training: {trainable: {mode: kv_only}, distill: {weight: 0}}
)",
                                                          "job.yaml");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->variants.size(), 2u);
  EXPECT_EQ(e->variants[0].training.trainable.mode, "lora");
  EXPECT_EQ(e->variants[0].training.trainable.lora.rank, 2);
  EXPECT_EQ(e->variants[1].training.trainable.mode, "kv_only");
  EXPECT_EQ(e->variants[1].training.distill.teacher_from_run, 3);
  EXPECT_EQ(e->variants[1].training.distill.weight, 0);
}

// A teacher stage resolved by the coordinator (server/stages.cc) keeps its
// provenance beside the path: from_variant and the teacher run's from_run. The run
// spec gwo-train reads must accept that and round-trip it.
TEST(TrainingModes, ResolvedStageTeacherRoundTrips) {
  RunSpec run;
  run.data.path = "/a";
  run.training.distill.teacher = "/w/runs/7/attempt-1/out/final.ckpt";
  run.training.distill.teacher_from_run = 7;
  run.training.distill.teacher_from_variant = "baseline";
  run.training.lm_weight = 0;
  const std::string yaml = RunSpecToYaml(run);
  absl::StatusOr<RunSpec> back = ParseRunSpec(yaml, "run.yaml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(back->training.distill.teacher, run.training.distill.teacher);
  EXPECT_EQ(back->training.distill.teacher_from_run, 7);
  EXPECT_EQ(back->training.distill.teacher_from_variant, "baseline");
  EXPECT_EQ(RunSpecToYaml(*back), yaml);
  // Without a path, both references at once are still ambiguous.
  absl::Status s = ParseExperimentSpec(R"(name: x
datasets: [{name: d, path: /a}]
variants:
  - name: a
  - name: b
    training: {distill: {teacher: {from_run: 3, from_variant: a}}}
)", "job.yaml").status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("give either from_run or from_variant, not both"));
}

}  // namespace
}  // namespace gwo::spec
