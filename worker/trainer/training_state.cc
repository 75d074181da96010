#include "worker/trainer/training_state.h"

#include <ATen/Context.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <mutex>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gwo::trainer {
namespace {

// The default generator of `device`'s type (CUDA: of its index, 0 when unset).
at::Generator DefaultGenerator(const torch::Device& device) {
  if (device.is_cuda()) {
    return at::globalContext().defaultGenerator(
        torch::Device(torch::kCUDA, device.has_index() ? device.index() : 0));
  }
  return at::globalContext().defaultGenerator(torch::Device(torch::kCPU));
}

torch::Tensor GeneratorState(const torch::Device& device) {
  at::Generator generator = DefaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());  // as at::manual_seed does
  return generator.get_state();
}

void SetGeneratorState(const torch::Device& device, const torch::Tensor& state) {
  at::Generator generator = DefaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state.cpu());
}

// Reads IValue `key` into `value` via `convert`; false when absent.
template <typename T, typename Convert>
bool ReadValue(torch::serialize::InputArchive& archive, const char* key, Convert convert,
               T& value) {
  c10::IValue ivalue;
  if (!archive.try_read(key, ivalue)) return false;
  value = convert(ivalue);
  return true;
}

absl::StatusOr<LoopState> Restore(torch::serialize::InputArchive& archive,
                                  torch::optim::Optimizer& optimizer, const torch::Device& device) {
  LoopState loop;
  const auto to_int = [](const c10::IValue& v) { return v.toInt(); };
  const auto to_double = [](const c10::IValue& v) { return v.toDouble(); };
  const auto to_string = [](const c10::IValue& v) { return v.toStringRef(); };
  const auto to_bool = [](const c10::IValue& v) { return v.toBool(); };
  torch::serialize::InputArchive optimizer_archive;
  torch::Tensor rng_cpu;
  if (!ReadValue(archive, "step", to_int, loop.step) ||
      !ReadValue(archive, "lr", to_double, loop.lr) ||
      !ReadValue(archive, "sampler", to_string, loop.sampler) ||
      !ReadValue(archive, "best_val_loss", to_double, loop.best_val_loss) ||
      !ReadValue(archive, "last_val_loss", to_double, loop.last_val_loss) ||
      !ReadValue(archive, "eval_pending", to_bool, loop.eval_pending) ||
      !ReadValue(archive, "device", to_string, loop.device) ||
      !archive.try_read("optimizer", optimizer_archive) || !archive.try_read("rng_cpu", rng_cpu)) {
    return absl::DataLossError("training state is incomplete");
  }
  ReadValue(archive, "loss_scale", to_double, loop.loss_scale);  // optional: fp16 only
  ReadValue(archive, "loss_scale_growth", to_int, loop.loss_scale_growth);
  optimizer.load(optimizer_archive);
  SetGeneratorState(torch::Device(torch::kCPU), rng_cpu);
  if (device.is_cuda()) {
    torch::Tensor rng_cuda;
    if (archive.try_read("rng_cuda", rng_cuda)) SetGeneratorState(device, rng_cuda);
  }
  return loop;
}

}  // namespace

std::string SerializeTrainingState(const LoopState& loop, const torch::optim::Optimizer& optimizer,
                                   const torch::Device& device) {
  torch::serialize::OutputArchive archive;
  archive.write("step", c10::IValue(loop.step));
  archive.write("lr", c10::IValue(loop.lr));
  archive.write("sampler", c10::IValue(loop.sampler));
  archive.write("best_val_loss", c10::IValue(loop.best_val_loss));
  archive.write("last_val_loss", c10::IValue(loop.last_val_loss));
  archive.write("eval_pending", c10::IValue(loop.eval_pending));
  archive.write("device", c10::IValue(loop.device));
  if (loop.loss_scale > 0) {
    archive.write("loss_scale", c10::IValue(loop.loss_scale));
    archive.write("loss_scale_growth", c10::IValue(loop.loss_scale_growth));
  }
  torch::serialize::OutputArchive optimizer_archive(archive.compilation_unit());
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("rng_cpu", GeneratorState(torch::Device(torch::kCPU)), /*is_buffer=*/true);
  if (device.is_cuda()) archive.write("rng_cuda", GeneratorState(device), /*is_buffer=*/true);
  std::ostringstream out;
  archive.save_to(out);
  return std::move(out).str();
}

absl::StatusOr<LoopState> RestoreTrainingState(std::string_view bytes,
                                               torch::optim::Optimizer& optimizer,
                                               const torch::Device& device) {
  // As LoadModuleState: bytes from a file must give an error, not an exception.
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes.data(), bytes.size(), device);
    return Restore(archive, optimizer, device);
  } catch (const c10::Error& e) {
    return absl::DataLossError(
        absl::StrCat("training state is unreadable: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("training state is unreadable: ", e.what()));
  }
}

}  // namespace gwo::trainer
