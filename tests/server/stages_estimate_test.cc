// EstimateGpuMemoryBytes: the GPU memory a run asks for when its spec names none.
// It must stay a lower bound of what runs really use, or a run waits for a GPU that
// no worker has.
#include <gtest/gtest.h>

#include "server/stages.h"
#include "spec/run_spec.h"

namespace gwo::server {
namespace {

constexpr double kGiB = double(int64_t{1} << 30);

spec::RunSpec Gpt2Small(int block_size, int batch_size) {
  spec::RunSpec run;
  run.model.arch = "gpt2";
  run.model.n_layer = 12;
  run.model.n_head = 12;
  run.model.n_embd = 768;
  run.model.block_size = block_size;
  run.data.tokenizer = "gpt2";
  run.training.batch_size = batch_size;
  return run;
}

// Measured on an H100 (bench/results/gpu-examples-h100.md): GPT-2 124M at 4096 tokens x
// batch 4 with a frozen teacher peaked at 33 GiB in a training step; the estimate may
// not exceed what an 80 GB GPU holds, and it must grow with the batch.
TEST(EstimateGpuMemory, Gpt2At4096TokensFitsAnEightyGigabyteGpu) {
  const double four = EstimateGpuMemoryBytes(Gpt2Small(4096, 4)) / kGiB;
  EXPECT_GT(four, 5.0);
  EXPECT_LT(four, 33.0);
  EXPECT_GT(EstimateGpuMemoryBytes(Gpt2Small(4096, 8)), EstimateGpuMemoryBytes(Gpt2Small(4096, 4)));
}

TEST(EstimateGpuMemory, CountsWeightsOptimizerStateAndTheCudaContext) {
  // 124M parameters at 16 bytes (weights, gradients, two AdamW moments) ~ 1.9 GiB, plus 1 GiB.
  const double tiny_batch = EstimateGpuMemoryBytes(Gpt2Small(64, 1)) / kGiB;
  EXPECT_GT(tiny_batch, 2.8);
  EXPECT_LT(tiny_batch, 3.5);
}

}  // namespace
}  // namespace gwo::server
