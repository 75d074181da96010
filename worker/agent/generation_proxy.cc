#include "worker/agent/generation_proxy.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "worker/generate/protocol.h"

namespace gwo::worker {
namespace {

gwo::v1::GenerationChunk ToChunk(const generate::ServeReply& r) {
  gwo::v1::GenerationChunk c;
  c.set_request_id(r.id);
  gwo::v1::GenerateResponse* out = c.mutable_response();
  out->set_text(r.event.text);
  for (int32_t t : r.event.tokens) out->add_tokens(t);
  out->set_done(r.event.done);
  if (r.event.done) {
    out->set_finish_reason(r.event.finish_reason);
    out->set_prompt_tokens(r.event.prompt_tokens);
    out->set_completion_tokens(r.event.completion_tokens);
    c.set_error_code(static_cast<int>(r.event.status.code()));
    c.set_error_message(std::string(r.event.status.message()));
  }
  return c;
}

}  // namespace

GenerationProxy::GenerationProxy(std::vector<std::string> argv, SendFn send)
    : argv_(std::move(argv)), send_(std::move(send)) {
  signal(SIGPIPE, SIG_IGN);  // a dead child's stdin must fail a write, not kill the worker
}

GenerationProxy::~GenerationProxy() {
  std::thread reader;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (child_) child_->CloseInput();
    reader.swap(reader_);
  }
  if (reader.joinable()) reader.join();
  absl::MutexLock lock(&mu_);
  if (child_) child_->Wait();
}

absl::Status GenerationProxy::EnsureChildLocked() {
  if (child_ && child_alive_) return absl::OkStatus();
  if (reader_.joinable()) {
    // The previous child's reader has ended (child_alive_ is false); reap both.
    std::thread old;
    old.swap(reader_);
    mu_.Unlock();
    old.join();
    mu_.Lock();
    if (child_ && child_alive_) return absl::OkStatus();  // another caller restarted it
  }
  if (child_) {
    const ExitStatus status = child_->Wait();
    LogWarning(absl::StrCat("generation server exited (", status.ToString(), "); restarting"));
    child_.reset();
  }
  SpawnOptions options;
  options.argv = argv_;
  options.stdin_pipe = true;
  options.events_fd_in_child = 1;  // the child's stdout: the reply lines
  options.extra_env.push_back("CUDA_DEVICE_ORDER=PCI_BUS_ID");  // GPU numbers as nvidia-smi gives them
  absl::StatusOr<Subprocess> child = Subprocess::Spawn(options);
  if (!child.ok()) return child.status();
  child_ = std::make_unique<Subprocess>(*std::move(child));
  child_alive_ = true;
  LogInfo(absl::StrCat("started generation server (pid ", child_->pid(), ")"));
  reader_ = std::thread([this, fd = child_->events_fd()] { ReadLoop(fd); });
  return absl::OkStatus();
}

absl::Status GenerationProxy::WriteLocked(const std::string& line) {
  const std::string data = line + "\n";
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(child_->input_fd(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(absl::StrCat("generation server: write failed: ", strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

void GenerationProxy::Start(const gwo::v1::StartGeneration& m) {
  const gwo::v1::GenerateRequest& r = m.request();
  generate::ServeCommand command;
  command.id = m.request_id();
  command.checkpoint = m.checkpoint_path();
  command.request.prompt = r.prompt();
  command.request.max_tokens = r.max_tokens() > 0 ? r.max_tokens() : 64;
  command.request.sampling = {.temperature = r.temperature(),
                              .top_k = r.top_k(),
                              .top_p = r.top_p() > 0 ? r.top_p() : 1.0,
                              .seed = r.seed()};
  command.request.stop.assign(r.stop().begin(), r.stop().end());
  command.request.ignore_eos = r.ignore_eos();
  absl::Status s;
  {
    absl::MutexLock lock(&mu_);
    s = stopping_ ? absl::UnavailableError("the worker is shutting down") : EnsureChildLocked();
    if (s.ok()) s = WriteLocked(generate::EncodeCommand(command));
    if (s.ok()) live_.insert(m.request_id());
  }
  if (!s.ok()) SendError(m.request_id(), absl::UnavailableError(s.message()));
}

void GenerationProxy::Cancel(uint64_t request_id) {
  absl::MutexLock lock(&mu_);
  if (!live_.count(request_id) || !child_ || !child_alive_) return;
  generate::ServeCommand command{.op = generate::ServeCommand::Op::kCancel, .id = request_id};
  (void)WriteLocked(generate::EncodeCommand(command));  // a dead child ends it anyway
}

void GenerationProxy::CancelAll() {
  absl::MutexLock lock(&mu_);
  if (!child_ || !child_alive_) return;
  for (uint64_t id : live_) {
    generate::ServeCommand command{.op = generate::ServeCommand::Op::kCancel, .id = id};
    if (!WriteLocked(generate::EncodeCommand(command)).ok()) break;
  }
}

void GenerationProxy::SendError(uint64_t request_id, const absl::Status& status) {
  generate::ServeReply r{.id = request_id};
  r.event = generate::GenerateEvent{.done = true, .finish_reason = "error", .status = status};
  gwo::v1::WorkerMessage m;
  *m.mutable_generation()->add_chunks() = ToChunk(r);
  send_(std::move(m));
}

void GenerationProxy::ReadLoop(int fd) {
  std::string buffer;
  char data[1 << 16];
  const absl::Time no_deadline = absl::InfiniteFuture();
  absl::Time kill_at = no_deadline;
  for (;;) {
    if (stopping_ && kill_at == no_deadline) kill_at = absl::Now() + absl::Seconds(10);
    if (absl::Now() > kill_at) {
      absl::MutexLock lock(&mu_);
      if (child_) child_->Signal(SIGKILL);
    }
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 200) == 0) continue;
    const ssize_t n = read(fd, data, sizeof(data));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;  // the child closed its stdout: it has exited
    buffer.append(data, static_cast<size_t>(n));
    gwo::v1::WorkerMessage m;
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string_view line(buffer.data() + start, nl - start);
      absl::StatusOr<generate::ServeReply> reply = generate::DecodeReply(line);
      if (!reply.ok()) {
        LogWarning(absl::StrCat("generation server: ", reply.status().message()));
        continue;
      }
      if (reply->ready) continue;
      if (reply->event.done) {
        absl::MutexLock lock(&mu_);
        live_.erase(reply->id);
      }
      *m.mutable_generation()->add_chunks() = ToChunk(*reply);
    }
    buffer.erase(0, start);
    if (m.generation().chunks_size() > 0) send_(std::move(m));
  }
  std::set<uint64_t> orphans;
  {
    absl::MutexLock lock(&mu_);
    child_alive_ = false;
    orphans.swap(live_);
  }
  for (uint64_t id : orphans) {
    SendError(id, absl::UnavailableError("the worker's generation server exited"));
  }
}

}  // namespace gwo::worker
