#include "common/subprocess.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace gwo {
namespace {

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

void SetNonBlockingCloexec(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
}

// Writes a message to fd 2 from the child after fork, without allocating.
void ChildFail(const char* what, const char* arg) {
  const char* err = strerror(errno);
  for (const char* s : {"gwo: ", what, " ", arg, ": ", err, "\n"}) {
    ssize_t ignored = write(2, s, strlen(s));
    (void)ignored;
  }
  _exit(127);
}

// After fork: makes `fd` available to the program as `target`, open across exec.
// (dup2 onto itself would leave close-on-exec set.)
void KeepAs(int fd, int target) {
  if (fd == target) {
    fcntl(fd, F_SETFD, 0);
  } else {
    dup2(fd, target);
  }
}

// Closes every descriptor >= 3 except `keep` (-1: none), after fork: close_range,
// or a loop up to the descriptor limit where the kernel lacks it.
void CloseDescriptorsFrom3Except(int keep) {
  auto close_span = [](unsigned first, unsigned last) {
    if (first > last) return;
    if (close_range(first, last, 0) == 0) return;
    struct rlimit limit;
    const unsigned end = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                             ? static_cast<unsigned>(std::min<rlim_t>(limit.rlim_cur, 1u << 20))
                             : 1u << 16;
    for (unsigned fd = first; fd <= last && fd < end; ++fd) close(static_cast<int>(fd));
  };
  if (keep < 3) {
    close_span(3, ~0U);
  } else {
    close_span(3, static_cast<unsigned>(keep) - 1);
    close_span(static_cast<unsigned>(keep) + 1, ~0U);
  }
}

ExitStatus FromWaitStatus(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) s.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) s.signal = WTERMSIG(status);
  return s;
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (signal > 0) return absl::StrCat("killed by signal ", signal, " (", strsignal(signal), ")");
  return absl::StrCat("exit code ", exit_code);
}

absl::StatusOr<Subprocess> Subprocess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");

  // Everything the child needs is prepared before fork: the child only calls
  // async-signal-safe functions.
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& e : options.extra_env) env_storage.push_back(e);
  uid_t uid = 0;
  gid_t gid = 0;
  const bool switch_user = !options.run_as_user.empty();
  if (switch_user) {
    struct passwd* pw = getpwnam(options.run_as_user.c_str());
    if (pw == nullptr) return absl::NotFoundError(absl::StrCat("no such user: ", options.run_as_user));
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    env_storage.push_back(absl::StrCat("HOME=", pw->pw_dir));
    env_storage.push_back(absl::StrCat("USER=", options.run_as_user));
  }
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  // Close-on-exec from birth: a process another thread starts meanwhile inherits none
  // of them. dup2 in the child clears the flag on the copies it keeps.
  int out_pipe[2] = {-1, -1};
  int ev_pipe[2] = {-1, -1};
  int in_pipe[2] = {-1, -1};
  auto close_pipes = [&] {
    for (int* p : {in_pipe, out_pipe, ev_pipe}) {
      for (int k = 0; k < 2; ++k) {
        if (p[k] >= 0) close(p[k]);
        p[k] = -1;
      }
    }
  };
  if ((options.stdin_pipe && pipe2(in_pipe, O_CLOEXEC) != 0) ||
      (options.capture_output && pipe2(out_pipe, O_CLOEXEC) != 0) ||
      (options.events_fd_in_child >= 0 && pipe2(ev_pipe, O_CLOEXEC) != 0)) {
    absl::Status error = ErrnoError("pipe");
    close_pipes();
    return error;
  }

  pid_t pid = fork();
  if (pid < 0) {
    absl::Status error = ErrnoError("fork");
    close_pipes();
    return error;
  }
  if (pid == 0) {
    if (options.new_process_group) setpgid(0, 0);
    // Default signal dispositions and mask for the child.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    if (options.stdin_pipe) KeepAs(in_pipe[0], 0);
    if (options.capture_output) {
      KeepAs(out_pipe[1], 1);
      KeepAs(out_pipe[1], 2);
    }
    if (options.events_fd_in_child >= 0) KeepAs(ev_pipe[1], options.events_fd_in_child);
    // Close every other descriptor, however high, so the child holds no pipes of
    // siblings and no sockets of the worker.
    CloseDescriptorsFrom3Except(options.events_fd_in_child);
    if (switch_user) {
      if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        ChildFail("cannot switch to user", options.run_as_user.c_str());
      }
    }
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) ChildFail("chdir", options.cwd.c_str());
    execvpe(argv[0], argv.data(), envp.data());
    ChildFail("cannot execute", argv[0]);
  }

  Subprocess p;
  p.pid_ = pid;
  p.own_group_ = options.new_process_group;
  if (options.new_process_group) setpgid(pid, pid);  // avoid racing the child's own call
  if (options.capture_output) {
    close(out_pipe[1]);
    p.output_fd_ = out_pipe[0];
    SetNonBlockingCloexec(p.output_fd_);
  }
  if (options.events_fd_in_child >= 0) {
    close(ev_pipe[1]);
    p.events_fd_ = ev_pipe[0];
    SetNonBlockingCloexec(p.events_fd_);
  }
  if (options.stdin_pipe) {
    close(in_pipe[0]);
    p.input_fd_ = in_pipe[1];
    fcntl(p.input_fd_, F_SETFD, FD_CLOEXEC);
  }
  return p;
}

Subprocess::Subprocess(Subprocess&& other) noexcept { *this = std::move(other); }

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    if (output_fd_ >= 0) close(output_fd_);
    if (events_fd_ >= 0) close(events_fd_);
    if (input_fd_ >= 0) close(input_fd_);
    pid_ = other.pid_;
    own_group_ = other.own_group_;
    reaped_ = other.reaped_;
    status_ = other.status_;
    output_fd_ = other.output_fd_;
    events_fd_ = other.events_fd_;
    input_fd_ = other.input_fd_;
    other.input_fd_ = -1;
    other.pid_ = -1;
    other.output_fd_ = -1;
    other.events_fd_ = -1;
  }
  return *this;
}

Subprocess::~Subprocess() {
  if (output_fd_ >= 0) close(output_fd_);
  if (events_fd_ >= 0) close(events_fd_);
  CloseInput();
}

void Subprocess::CloseInput() {
  if (input_fd_ >= 0) close(input_fd_);
  input_fd_ = -1;
}

void Subprocess::Signal(int sig) const {
  if (pid_ <= 0 || reaped_) return;
  if (own_group_) {
    kill(-pid_, sig);
  } else {
    kill(pid_, sig);
  }
}

std::optional<ExitStatus> Subprocess::Poll() {
  if (reaped_) return status_;
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = FromWaitStatus(status);
    return status_;
  }
  return std::nullopt;
}

ExitStatus Subprocess::Wait() {
  if (reaped_ || pid_ <= 0) return status_;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  status_ = FromWaitStatus(status);
  return status_;
}

absl::StatusOr<std::string> RunCommand(const SpawnOptions& options, absl::Duration timeout) {
  SpawnOptions o = options;
  o.capture_output = true;
  absl::StatusOr<Subprocess> p = Subprocess::Spawn(o);
  if (!p.ok()) return p.status();
  std::string output;
  const absl::Time deadline = absl::Now() + timeout;
  bool eof = false;
  while (!eof) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd pfd{p->output_fd(), POLLIN, 0};
    int n = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    char buf[4096];
    for (;;) {
      ssize_t got = read(p->output_fd(), buf, sizeof(buf));
      if (got > 0) {
        output.append(buf, got);
        continue;
      }
      if (got == 0) eof = true;
      break;
    }
  }
  const std::string command = absl::StrJoin(options.argv, " ");
  if (!eof) {
    p->Signal(SIGKILL);
    p->Wait();
    return absl::DeadlineExceededError(
        absl::StrCat("`", command, "` did not finish within ", absl::FormatDuration(timeout), "; output:\n", output));
  }
  ExitStatus status = p->Wait();
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("`", command, "` failed (", status.ToString(), "):\n", output));
  }
  return output;
}

}  // namespace gwo
