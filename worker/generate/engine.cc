#include "worker/generate/engine.h"

#include <torch/torch.h>

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "worker/generate/text_stream.h"

namespace gwo::generate {

struct Engine::Active {
  uint64_t id = 0;
  GenerateRequest request;
  EventSink sink;
  std::vector<int32_t> tokens;     // prompt, then every generated token
  size_t prompt_len = 0;
  std::vector<int32_t> generated;  // tokens[prompt_len:]
  std::vector<int32_t> unsent;     // generated tokens not yet reported in an event
  std::string unsent_text;         // their text, when Accept was told to defer
  std::mt19937_64 rng;
  TextStream text{{}};
  std::string finish;  // "stop" once it stopped by itself (end-of-text or a stop string)
  bool stop_string = false;  // it stopped at a stop string: nothing is left to flush
};

Engine::Engine(std::shared_ptr<models::CausalLm> model, std::unique_ptr<data::Tokenizer> tokenizer,
               spec::RunSpec spec, EngineOptions options)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      spec_(std::move(spec)),
      options_(options) {
  model_->to(options_.device, options_.dtype);
  model_->eval();
  cached_ = options_.use_kv_cache && models::SupportsKvCache(spec_.attention.kind);
  if (cached_) {
    cache_storage_ = std::make_unique<models::KvCache>(models::AllocateKvCache(
        model_->spec(), options_.max_batch, model_->block_size(),
        torch::TensorOptions().dtype(options_.dtype).device(options_.device)));
    cache_ = cache_storage_.get();
    bucket_prefill_ = options_.prefill_buckets < 0 ? options_.device.is_cuda() : options_.prefill_buckets > 0;
    if (bucket_prefill_ && options_.device.is_cuda()) WarmPrefillShapes();
    if (options_.device.is_cuda() && options_.cuda_graphs && DecodeGraphs::Available()) {
      graphs_ = std::make_unique<DecodeGraphs>(*model_, *cache_);
    }
    if (options_.device.is_cuda() && options_.fused_decode && FusedDecoder::Available() &&
        FusedDecoder::Unsupported(*model_, *cache_).empty()) {
      fused_ = std::make_unique<FusedDecoder>(*model_, *cache_, options_.fused_steps,
                                              options_.fused_tensor_core_rows);
    }
  }
  thread_ = std::thread([this] { Loop(); });
}

// One prefill forward per row bucket at 16 tokens (the shape of short prompts), on
// the still empty cache, so that the first requests do not pay for new shapes.
void Engine::WarmPrefillShapes() {
  c10::InferenceMode inference;
  const int64_t rows = std::min<int64_t>(cache_->rows(), options_.max_batch);
  const int64_t T = std::min<int64_t>(16, cache_->max_len());
  for (int64_t b = 1; b <= rows; b *= 2) {
    const models::CacheStep step =
        models::MakeCacheStep(*cache_, 0, std::vector<int64_t>(b, 0), T, /*window=*/0, options_.device);
    models::ForwardCached(*model_, torch::zeros({b, T}, torch::kLong).to(options_.device), step);
  }
}

Engine::~Engine() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

absl::Status Engine::Submit(uint64_t id, GenerateRequest request, EventSink sink) {
  const SamplingParams& s = request.sampling;
  if (request.max_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens must be at least 1, got ", request.max_tokens));
  }
  if (!(s.top_p > 0 && s.top_p <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p must be in (0, 1], got ", s.top_p));
  }
  if (s.top_k < 0) {
    return absl::InvalidArgumentError(absl::StrCat("top_k must be >= 0, got ", s.top_k));
  }
  std::vector<int32_t> ids = tokenizer_->Encode(request.prompt);
  if (ids.empty()) {
    if (!tokenizer_->end_of_text()) {
      return absl::InvalidArgumentError(
          "the prompt is empty and the run's tokenizer has no end-of-text token to start from");
    }
    ids.push_back(*tokenizer_->end_of_text());
  }
  if (static_cast<int64_t>(ids.size()) >= model_->block_size()) {
    return absl::InvalidArgumentError(absl::StrCat("the prompt has ", ids.size(),
                                                   " tokens; the model's context (block_size) is ",
                                                   model_->block_size(), " tokens"));
  }
  absl::MutexLock lock(&mu_);
  if (std::find(live_ids_.begin(), live_ids_.end(), id) != live_ids_.end()) {
    return absl::AlreadyExistsError(absl::StrCat("request ", id, " is already running"));
  }
  live_ids_.push_back(id);
  pending_.push_back(Pending{id, std::move(request), std::move(ids), std::move(sink)});
  return absl::OkStatus();
}

void Engine::Cancel(uint64_t id) {
  absl::MutexLock lock(&mu_);
  cancelled_.push_back(id);
}

void Engine::Pause() {
  absl::MutexLock lock(&mu_);
  paused_ = true;
}

void Engine::Resume() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
}

int Engine::live() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(live_ids_.size());
}

void Engine::Loop() {
  c10::InferenceMode inference;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stop_ ||
               (!paused_ && (!pending_.empty() || !cancelled_.empty() || !active_.empty()));
      };
      mu_.Await(absl::Condition(&ready));
      if (stop_) break;
    }
    try {
      Round();
    } catch (const std::exception& e) {
      // A LibTorch failure (e.g. out of memory) ends the requests of this round; the
      // engine stays usable for the next ones.
      const absl::Status status = absl::InternalError(absl::StrCat("generation failed: ", e.what()));
      while (!active_.empty()) Retire(active_.size() - 1, "error", status);
    }
  }
  try {
    DrainFused();
  } catch (const std::exception&) {
    // The engine is going away; nothing reads those tokens.
  }
  while (!active_.empty()) Retire(active_.size() - 1, "cancelled");
  std::deque<Pending> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(pending_);
    live_ids_.clear();
  }
  for (Pending& p : left) {
    GenerateEvent done{.done = true, .finish_reason = "cancelled"};
    done.prompt_tokens = static_cast<int>(p.prompt_ids.size());
    p.sink(done);
  }
}

void Engine::Round() {
  std::vector<uint64_t> cancelled;
  std::vector<Pending> admitted, dropped;
  {
    absl::MutexLock lock(&mu_);
    cancelled.swap(cancelled_);
    auto is_cancelled = [&](uint64_t id) {
      return std::find(cancelled.begin(), cancelled.end(), id) != cancelled.end();
    };
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (is_cancelled(it->id)) {
        dropped.push_back(std::move(*it));
        std::erase(live_ids_, dropped.back().id);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    while (!pending_.empty() &&
           static_cast<int>(active_.size() + admitted.size()) < options_.max_batch) {
      admitted.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
  }
  for (Pending& p : dropped) {
    GenerateEvent done{.done = true, .finish_reason = "cancelled"};
    done.prompt_tokens = static_cast<int>(p.prompt_ids.size());
    p.sink(done);
  }
  for (size_t i = active_.size(); i-- > 0;) {
    if (std::find(cancelled.begin(), cancelled.end(), active_[i]->id) != cancelled.end()) {
      Retire(i, "cancelled");
    }
  }
  for (Pending& p : admitted) {
    auto a = std::make_unique<Active>();
    a->id = p.id;
    a->sink = std::move(p.sink);
    a->tokens = std::move(p.prompt_ids);
    a->prompt_len = a->tokens.size();
    a->rng.seed(p.request.sampling.seed);
    a->text = TextStream(p.request.stop);
    a->request = std::move(p.request);
    active_.push_back(std::move(a));
    ++batch_version_;
  }
  Prefill(active_.size() - admitted.size());
  if (!active_.empty()) DecodeStep();
}

torch::Tensor Engine::RecomputeLogits(const Active& a) {
  const torch::Tensor idx =
      torch::tensor(a.tokens, torch::kInt).to(torch::kLong).view({1, -1}).to(options_.device);
  return model_->forward(idx).select(1, idx.size(1) - 1).squeeze(0);  // (V)
}

void Engine::Prefill(size_t first) {
  const size_t end = active_.size();
  if (first >= end) return;
  std::vector<torch::Tensor> parts;  // each (rows, V)
  if (cached_) {
    // Consecutive rows per forward while rows * (longest prompt) stays in budget.
    for (size_t b0 = first; b0 < end;) {
      size_t b1 = b0 + 1;
      int64_t longest = static_cast<int64_t>(active_[b0]->tokens.size());
      while (b1 < end && static_cast<int64_t>(b1 - b0) < kPrefillRows) {
        const int64_t t =
            std::max(longest, static_cast<int64_t>(active_[b1]->tokens.size()));
        if (static_cast<int64_t>(b1 - b0 + 1) * t > kPrefillTokens) break;
        longest = t;
        ++b1;
      }
      parts.push_back(PrefillCached(b0, b1));
      b0 = b1;
    }
  } else {
    for (size_t i = first; i < end; ++i) parts.push_back(RecomputeLogits(*active_[i]).unsqueeze(0));
  }
  const torch::Tensor logits = parts.size() == 1 ? parts[0] : torch::cat(parts);  // (n, V)
  std::vector<SamplingParams> params;
  std::vector<std::mt19937_64*> rngs;
  for (size_t i = first; i < end; ++i) {
    params.push_back(active_[i]->request.sampling);
    rngs.push_back(&active_[i]->rng);
  }
  const std::vector<int32_t> tokens = SampleTokens(logits, params, rngs);
  std::vector<size_t> finished;
  for (size_t i = first; i < end; ++i) {
    if (Accept(*active_[i], tokens[i - first])) finished.push_back(i);
  }
  // Descending, so that the row moved into a retired slot is never one still to retire.
  for (auto it = finished.rbegin(); it != finished.rend(); ++it) Retire(*it, "");
}

torch::Tensor Engine::PrefillCached(size_t first, size_t end) {
  const int64_t B = static_cast<int64_t>(end - first);
  int64_t T = 0;
  for (size_t i = first; i < end; ++i) {
    T = std::max(T, static_cast<int64_t>(active_[i]->tokens.size()));
  }
  // Every prompt right-padded with token 0 to T, all starting at position 0. The
  // padding of row b computes keys and values at positions P_b..T-1 of its cache row;
  // they are never read: a query at position p attends only to keys <= p (CacheMask),
  // so no real prompt token sees them, and each later decode step writes the key and
  // value of its own position into the cache before attending (CachedAttention's
  // index_copy_ precedes the attention; the CUDA graphs replay that same code, and the
  // fused kernels write the cache before their attention over keys 0..pos), so the
  // padding at P_b is overwritten by the first decode step and any further position
  // is overwritten before a query reaches it. A reused cache row holds a previous
  // request's keys past its prompt the same way.
  //
  // With bucketed shapes the forward also covers rows up to a power of two (rows past
  // `end` are free, or belong to requests whose own prefill follows and overwrites
  // them) and tokens up to a multiple of 16, so that the GPU sees few distinct shapes.
  int64_t Bp = B, Tp = T;
  if (bucket_prefill_) {
    Tp = std::min<int64_t>((T + 15) / 16 * 16, cache_->max_len());
    int64_t b = 1;
    while (b < B) b *= 2;
    if (static_cast<int64_t>(first) + b <= cache_->rows()) Bp = b;
  }
  std::vector<int64_t> idx_host(Bp * Tp, 0);
  for (size_t i = first; i < end; ++i) {
    const std::vector<int32_t>& tokens = active_[i]->tokens;
    std::copy(tokens.begin(), tokens.end(), idx_host.begin() + static_cast<int64_t>(i - first) * Tp);
  }
  const models::CacheStep step =
      models::MakeCacheStep(*cache_, static_cast<int64_t>(first), std::vector<int64_t>(Bp, 0), Tp,
                            /*window=*/0, options_.device);
  const torch::Tensor idx = torch::tensor(idx_host).view({Bp, Tp}).to(options_.device);
  const torch::Tensor all = models::ForwardCached(*model_, idx, step).narrow(0, 0, B);  // (B, Tp, V)
  // Row b's logits at its own last prompt token, P_b - 1.
  std::vector<int64_t> last_host;
  for (size_t i = first; i < end; ++i) {
    last_host.push_back(static_cast<int64_t>(active_[i]->tokens.size()) - 1);
  }
  const torch::Tensor last = torch::tensor(last_host).view({B, 1, 1}).to(options_.device);
  return all.gather(1, last.expand({B, 1, all.size(2)})).squeeze(1);  // (B, V)
}

void Engine::DecodeStep() {
  if (fused_ && UseFused()) {
    DecodeFused();
    return;
  }
  DrainFused();
  const int64_t N = static_cast<int64_t>(active_.size());
  std::vector<SamplingParams> params;
  std::vector<std::mt19937_64*> rngs;
  for (const auto& a : active_) {
    params.push_back(a->request.sampling);
    rngs.push_back(&a->rng);
  }
  torch::Tensor logits;  // (N, V)
  if (cached_) {
    std::vector<int64_t> last, start;
    for (const auto& a : active_) {
      last.push_back(a->tokens.back());
      start.push_back(static_cast<int64_t>(a->tokens.size()) - 1);
    }
    if (graphs_) {
      logits = graphs_->Step(last, start);  // (N, V)
    } else {
      const models::CacheStep step =
        models::MakeCacheStep(*cache_, 0, start, 1, /*window=*/0, options_.device);
      const torch::Tensor idx = torch::tensor(last).view({N, 1}).to(options_.device);
      logits = models::ForwardCached(*model_, idx, step).select(1, 0);  // (N, V)
    }
  } else {
    std::vector<torch::Tensor> rows;
    for (const auto& a : active_) rows.push_back(RecomputeLogits(*a));
    logits = torch::stack(rows);
  }
  const std::vector<int32_t> tokens = SampleTokens(logits, params, rngs);
  std::vector<size_t> finished;
  for (int64_t i = 0; i < N; ++i) {
    if (Accept(*active_[i], tokens[i])) finished.push_back(static_cast<size_t>(i));
  }
  // Descending, so that the row moved into a retired slot is never one still to retire.
  for (auto it = finished.rbegin(); it != finished.rend(); ++it) Retire(*it, "");
}

// Decode steps through the fused kernels (fused_decode.h): greedy batches of at most
// FusedDecoder::max_rows() requests advance fused_steps tokens per chunk, and the next
// chunk is enqueued before this one's tokens are streamed, so host work (detokenising,
// stop strings, events) overlaps the GPU. Tokens past a request's end are dropped; a
// chunk computed for an earlier batch is waited for and dropped.
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
  // One event per request for the chunk's tokens, not one per token: 8x fewer messages
  // on the way to the client (serve protocol, worker stream, Generate stream).
  std::vector<bool> finished(N, false);
  for (int k = 0; k < K; ++k) {
    for (int i = 0; i < N; ++i) {
      if (!finished[i]) finished[i] = Accept(*active_[i], tokens[k * N + i], /*defer=*/true);
    }
  }
  for (int i = 0; i < N; ++i) {
    if (!finished[i]) Flush(*active_[i]);
  }
  // Descending, so that the row moved into a retired slot is never one still to retire.
  for (int i = N; i-- > 0;) {
    if (finished[i]) Retire(static_cast<size_t>(i), "");
  }
}

void Engine::Flush(Active& a) {
  if (a.unsent_text.empty()) return;
  a.sink(GenerateEvent{.text = std::move(a.unsent_text), .tokens = std::move(a.unsent)});
  a.unsent_text.clear();
  a.unsent.clear();
}

bool Engine::Accept(Active& a, int32_t token, bool defer) {
  const std::optional<int32_t> eot = tokenizer_->end_of_text();
  if (eot && token == *eot && !a.request.ignore_eos) {
    a.finish = "stop";
    return true;
  }
  a.tokens.push_back(token);
  a.generated.push_back(token);
  a.unsent.push_back(token);
  const TextStream::Update update = a.text.Next(tokenizer_->Decode(a.generated));
  a.unsent_text += update.text;
  if (update.stopped) {
    a.finish = "stop";
    a.stop_string = true;
    Flush(a);
    return true;
  }
  if (!defer) Flush(a);
  return static_cast<int>(a.generated.size()) >= a.request.max_tokens ||
         static_cast<int64_t>(a.tokens.size()) > model_->block_size();
}

void Engine::Retire(size_t index, const std::string& reason, absl::Status status) {
  Active& a = *active_[index];
  GenerateEvent done{.done = true, .finish_reason = reason, .status = std::move(status)};
  done.text = std::move(a.unsent_text);  // deferred by Accept
  if (reason.empty()) {  // finished on its own
    done.finish_reason = a.finish.empty() ? "length" : a.finish;
    if (!a.stop_string) done.text += a.text.Finish(tokenizer_->Decode(a.generated));
  }
  done.tokens = std::move(a.unsent);
  done.prompt_tokens = static_cast<int>(a.prompt_len);
  done.completion_tokens = static_cast<int>(a.generated.size());
  {
    // Before the sink: whoever hears the end sees the request gone from live().
    absl::MutexLock lock(&mu_);
    std::erase(live_ids_, a.id);
  }
  a.sink(done);
  const size_t last = active_.size() - 1;
  if (index != last) {
    if (cached_) {
      for (size_t l = 0; l < cache_->k.size(); ++l) {
        cache_->k[l][index].copy_(cache_->k[l][last]);
        cache_->v[l][index].copy_(cache_->v[l][last]);
      }
    }
    active_[index] = std::move(active_[last]);
  }
  active_.pop_back();
  ++batch_version_;
}

}  // namespace gwo::generate
