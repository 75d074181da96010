#include "worker/trainer/training_session.h"

#include <torch/torch.h>

#include <cmath>

#include "absl/strings/escaping.h"
#include "worker/trainer/evaluation.h"
#include "worker/trainer/generate.h"
#include "worker/trainer/icl.h"
#include "worker/trainer/icl_data.h"

namespace gwo::trainer {

absl::Status Session::FinalMeasurements() {
  const spec::TrainingSpec& training = spec.training;
  for (int length : training.metrics.memory_lengths) {
    if (length > spec.model.block_size) {
      Progress("inference memory at length %d skipped: above block_size %d", length, spec.model.block_size);
    }
  }
  for (const InferenceMemory& m : MeasureInference(model(), training.metrics.memory_lengths)) {
    Progress("inference at length %d: peak memory %.1f MiB, %.0f tok/s", m.length,
             static_cast<double>(m.peak_bytes) / (1 << 20), m.tokens_per_s);
    if (absl::Status s = RecordAll(*sink, loop.step, "",
                                   {{MetricName("", kInferPeakMemoryPrefix, std::to_string(m.length)), static_cast<double>(m.peak_bytes)},
                                    {MetricName("", kInferTokensPerSecondPrefix, std::to_string(m.length)), m.tokens_per_s}});
        !s.ok()) {
      return s;
    }
  }
  if (training.icl.enabled && teacher != nullptr) {
    absl::StatusOr<data::LabelledExamples> examples = data::LoadLabelledExamples(spec.data);
    if (!examples.ok()) return examples.status();
    absl::StatusOr<IclComparison> icl =
        CompareIclWithFineTuning(model(), *teacher, *data.tokenizer, *examples, training.icl);
    if (!icl.ok()) return icl.status();
    Progress("icl over %d queries: SimAOU %.4f SimAM %.4f Kendall tau %.4f; label accuracy ICL %.3f FT %.3f "
             "zero-shot %.3f",
             icl->queries, icl->sim_aou, icl->sim_am, icl->kendall_tau, icl->accuracy_icl, icl->accuracy_ft,
             icl->accuracy_zsl);
    if (absl::Status s = RecordAll(*sink, loop.step, "",
                                   {{kIclSimAou, icl->sim_aou}, {kIclSimAm, icl->sim_am},
                                    {kIclKendallTau, icl->kendall_tau}, {kIclAccuracyIcl, icl->accuracy_icl},
                                    {kIclAccuracyFt, icl->accuracy_ft}, {kIclAccuracyZsl, icl->accuracy_zsl}});
        !s.ok()) {
      return s;
    }
  }
  if (training.generate.prompts.empty()) return absl::OkStatus();
  const std::vector<Sample> samples = GenerateSamples(model(), *data.tokenizer, training.generate);
  for (size_t i = 0; i < samples.size(); ++i) {
    Progress("sample %d greedy: %s", i, absl::CEscape(samples[i].prompt + samples[i].greedy));
    Progress("sample %d sampled: %s", i, absl::CEscape(samples[i].prompt + samples[i].sampled));
  }
  const std::string path = (out / "samples.jsonl").string();
  if (absl::Status s = WriteSamples(path, samples, training.generate); !s.ok()) return s;
  Progress("samples written to %s", path);
  return absl::OkStatus();
}

}  // namespace gwo::trainer
