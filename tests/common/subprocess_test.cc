#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace gwo {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 5000) <= 0) break;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, n);
  }
  return out;
}

TEST(RunCommand, CapturesOutputOfSuccessfulCommand) {
  auto out = RunCommand({.argv = {"sh", "-c", "echo hello; echo oops >&2"}}, absl::Seconds(10));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hello\noops\n");
}

TEST(RunCommand, FailingCommandReportsExitCodeAndOutput) {
  auto out = RunCommand({.argv = {"sh", "-c", "echo broken; exit 3"}}, absl::Seconds(10));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(std::string(out.status().message()).find("exit code 3"), std::string::npos);
  EXPECT_NE(std::string(out.status().message()).find("broken"), std::string::npos);
}

TEST(RunCommand, MissingProgramExitsWith127) {
  auto out = RunCommand({.argv = {"/nonexistent/program"}}, absl::Seconds(10));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(std::string(out.status().message()).find("exit code 127"), std::string::npos);
  EXPECT_NE(std::string(out.status().message()).find("cannot execute"), std::string::npos);
}

TEST(RunCommand, TimeoutKillsTheChild) {
  auto out = RunCommand({.argv = {"sleep", "30"}}, absl::Milliseconds(200));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(Subprocess, EventsPipeCarriesChildWrites) {
  auto p = Subprocess::Spawn({.argv = {"sh", "-c", "echo event >&3; echo log"},
                              .capture_output = true,
                              .events_fd_in_child = 3});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(ReadAll(p->events_fd()), "event\n");
  EXPECT_EQ(ReadAll(p->output_fd()), "log\n");
  EXPECT_TRUE(p->Wait().ok());
}

// The child sees 0, 1, 2 and its events descriptor, nothing else: not a high
// descriptor the parent left inheritable, not the parent's end of its own pipes.
TEST(Subprocess, ChildInheritsOnlyTheDescriptorsItIsGiven) {
  const int high = fcntl(open("/dev/null", O_RDONLY), F_DUPFD, 1500);  // inheritable, above 1024
  ASSERT_GE(high, 1500);
  auto p = Subprocess::Spawn({.argv = {"sh", "-c", "ls /proc/self/fd >&3"},
                              .capture_output = true,
                              .events_fd_in_child = 3,
                              .stdin_pipe = true});
  close(high);
  ASSERT_TRUE(p.ok()) << p.status();
  // ls itself opens the directory it lists: one more, above 3.
  std::vector<std::string> fds = absl::StrSplit(ReadAll(p->events_fd()), '\n', absl::SkipEmpty());
  ASSERT_EQ(fds.size(), 5u) << absl::StrJoin(fds, " ");
  EXPECT_EQ(fds[0], "0");
  EXPECT_EQ(fds[1], "1");
  EXPECT_EQ(fds[2], "2");
  EXPECT_EQ(fds[3], "3");
  EXPECT_TRUE(p->Wait().ok());
  // The parent's ends are close-on-exec too: a later child of the parent cannot hold them.
  EXPECT_EQ(fcntl(p->events_fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_EQ(fcntl(p->input_fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST(Subprocess, SignalReachesTheWholeProcessGroup) {
  auto p = Subprocess::Spawn({.argv = {"sh", "-c", "sleep 30 & sleep 30; wait"}});
  ASSERT_TRUE(p.ok());
  usleep(100000);
  p->Signal(SIGTERM);
  ExitStatus s = p->Wait();
  EXPECT_EQ(s.signal, SIGTERM);
  EXPECT_EQ(s.ToString().rfind("killed by signal 15", 0), 0u);
}

TEST(Subprocess, PollReportsRunningThenExited) {
  auto p = Subprocess::Spawn({.argv = {"sh", "-c", "sleep 0.2; exit 4"}});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Poll().has_value());
  EXPECT_EQ(p->Wait().exit_code, 4);
  ASSERT_TRUE(p->Poll().has_value());
  EXPECT_EQ(p->Poll()->exit_code, 4);
}

}  // namespace
}  // namespace gwo
