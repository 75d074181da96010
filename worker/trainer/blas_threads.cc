#include "worker/trainer/blas_threads.h"

#include <dlfcn.h>

namespace gwo::trainer {

bool SetBlasThreads(int threads) {
  // Looked up at run time: which BLAS libblas.so.3 resolves to is the machine's choice.
  using Setter = void (*)(int);
  auto set = reinterpret_cast<Setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set == nullptr) return false;
  set(threads);
  return true;
}

}  // namespace gwo::trainer
