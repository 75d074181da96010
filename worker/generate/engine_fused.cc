// Engine's decode steps through the fused kernels (fused_decode.h): greedy batches of
// at most FusedDecoder::max_rows() requests advance fused_steps tokens per chunk, and
// the next chunk is enqueued before this one's tokens are streamed, so host work
// (detokenising, stop strings, events) overlaps the GPU. Tokens past a request's end
// are dropped; a chunk computed for an earlier batch is waited for and dropped.
#include <torch/torch.h>

#include "worker/generate/engine.h"

namespace gwo::generate {

bool Engine::UseFused() const {
  if (static_cast<int>(active_.size()) > fused_->max_rows()) return false;
  for (const auto& a : active_) {
    if (a->request.sampling.temperature > 0) return false;
  }
  return true;
}

void Engine::DrainFused() {
  while (fused_ && fused_->in_flight() > 0) fused_->Wait();
}

void Engine::DecodeFused() {
  const int N = static_cast<int>(active_.size());
  const int K = fused_->steps();
  if (fused_->in_flight() > 0 && fused_version_ != batch_version_) DrainFused();
  if (fused_->in_flight() == 0) {
    std::vector<int64_t> last, start;
    for (const auto& a : active_) {
      last.push_back(a->tokens.back());
      start.push_back(static_cast<int64_t>(a->tokens.size()) - 1);
    }
    fused_->Start(last, start);
    fused_version_ = batch_version_;
  }
  const std::vector<int32_t> tokens = fused_->Wait();  // (K, N)
  // Enqueue the next chunk now when every request will still be running after this
  // one, with room in the context, and no request waits to join or leave.
  bool more;
  {
    absl::MutexLock lock(&mu_);
    more = pending_.empty() && cancelled_.empty();
  }
  for (const auto& a : active_) {
    more = more && static_cast<int>(a->generated.size()) + K < a->request.max_tokens &&
           static_cast<int64_t>(a->tokens.size()) + 2 * K <= model_->block_size();
  }
  if (more) fused_->Continue();
  std::vector<bool> finished(N, false);
  for (int k = 0; k < K; ++k) {
    for (int i = 0; i < N; ++i) {
      if (!finished[i]) finished[i] = Accept(*active_[i], tokens[k * N + i]);
    }
  }
  // Descending, so that the row moved into a retired slot is never one still to retire.
  for (int i = N; i-- > 0;) {
    if (finished[i]) Retire(static_cast<size_t>(i), "");
  }
}

}  // namespace gwo::generate
