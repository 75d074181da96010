// LibTorch's CPU matmuls go through the system BLAS (OpenBLAS once deploy/install-deps.sh
// has run), which keeps its own thread pool that torch::set_num_threads does not
// reach in Debian's build. Two runs sharing a 2-core worker would then fight over
// the cores, so the trainer caps that pool too.
#ifndef GWO_WORKER_TRAINER_BLAS_THREADS_H_
#define GWO_WORKER_TRAINER_BLAS_THREADS_H_

namespace gwo::trainer {

// Sets the BLAS library's thread count when it exposes a setter (OpenBLAS);
// otherwise does nothing. Returns whether a setter was found.
bool SetBlasThreads(int threads);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_BLAS_THREADS_H_
