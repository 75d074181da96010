// Child processes: spawn with pipes, optionally as another user; wait, signal.
// Used by the coordinator (initdb/pg_ctl for embedded PostgreSQL) and the worker
// (one gwo-train child per attempt). POSIX only.
#ifndef GWO_COMMON_SUBPROCESS_H_
#define GWO_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gwo {

struct SpawnOptions {
  std::vector<std::string> argv;          // argv[0] is the program; PATH is searched
  std::vector<std::string> extra_env;     // "KEY=VALUE" added to the inherited environment
  std::string cwd;                        // empty: inherit
  // Run as this user (name) after fork; empty: as the caller. Requires root.
  std::string run_as_user;
  // Capture the child's stdout and stderr into one pipe (`Subprocess::output_fd`).
  // Otherwise they are inherited.
  bool capture_output = false;
  // Open a pipe the child writes to on its fd `events_fd_in_child`; read it via
  // `Subprocess::events_fd`. -1: no such pipe.
  int events_fd_in_child = -1;
  // Open a pipe to the child's stdin; write it via `Subprocess::input_fd` (blocking).
  // Otherwise stdin is inherited.
  bool stdin_pipe = false;
  // Put the child in a new process group so a signal reaches all it spawned.
  bool new_process_group = true;
};

// How a child ended.
struct ExitStatus {
  int exit_code = -1;   // >= 0 when it exited
  int signal = 0;       // > 0 when a signal killed it
  bool ok() const { return exit_code == 0; }
  std::string ToString() const;  // "exit code 1", "killed by signal 9 (Killed)"
};

class Subprocess {
 public:
  // Starts the child. INTERNAL with errno text when fork/pipe fail; a failed exec
  // makes the child exit with code 127 and a message on its stderr.
  static absl::StatusOr<Subprocess> Spawn(const SpawnOptions& options);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // Closes the pipes; does not kill or reap the child (call Wait first).
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // Read ends (non-blocking, close-on-exec) or -1. Owned by this object.
  int output_fd() const { return output_fd_; }
  int events_fd() const { return events_fd_; }
  // Write end of the child's stdin (blocking, close-on-exec) or -1. Owned by this object.
  int input_fd() const { return input_fd_; }
  // Closes input_fd (the child sees end of file).
  void CloseInput();

  // Sends `sig` to the child (its whole process group when it has one).
  void Signal(int sig) const;
  // Non-blocking: the status if the child has ended (and is now reaped).
  std::optional<ExitStatus> Poll();
  // Blocks until the child ends.
  ExitStatus Wait();

 private:
  Subprocess() = default;
  pid_t pid_ = -1;
  bool own_group_ = false;
  bool reaped_ = false;
  ExitStatus status_;
  int output_fd_ = -1;
  int events_fd_ = -1;
  int input_fd_ = -1;
};

// Runs a command to completion, capturing its combined output. The status is
// INTERNAL with the command, exit status and output when it does not exit 0, or
// DEADLINE_EXCEEDED (after SIGKILL) when it outlives `timeout`.
absl::StatusOr<std::string> RunCommand(const SpawnOptions& options, absl::Duration timeout);

}  // namespace gwo

#endif  // GWO_COMMON_SUBPROCESS_H_
