#include "worker/agent/spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "worker/trainer/file_io.h"

namespace gwo::worker {
namespace {

// Acknowledged records kept in reports.log before it is rewritten without them.
constexpr int64_t kRewriteAfter = 2000;

std::string Errno(const std::string& what) { return absl::StrCat(what, ": ", std::strerror(errno)); }

std::string Record(const gwo::v1::WorkerMessage& m) {
  const std::string body = m.SerializeAsString();
  const uint32_t n = static_cast<uint32_t>(body.size());
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + body;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create spool directory ", dir, ": ", ec.message()));
  int64_t acked = 0;
  absl::StatusOr<std::string> acked_text = trainer::ReadFileToString(dir + "/acked");
  if (acked_text.ok()) {
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*acked_text), &acked)) {
      return absl::InternalError(absl::StrCat(dir, "/acked: not a number"));
    }
  } else if (!absl::IsNotFound(acked_text.status())) {
    return acked_text.status();
  }
  const std::string log_path = dir + "/reports.log";
  absl::StatusOr<std::string> bytes = trainer::ReadFileToString(log_path);
  if (!bytes.ok() && !absl::IsNotFound(bytes.status())) return bytes.status();
  const std::string data = bytes.ok() ? *bytes : std::string();

  const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(Errno(absl::StrCat("cannot open ", log_path)));
  std::unique_ptr<Spool> spool(new Spool(dir, fd));
  spool->acked_ = acked;
  spool->next_seq_ = acked + 1;
  size_t pos = 0;
  while (pos + 4 <= data.size()) {
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(static_cast<unsigned char>(data[pos + i])) << (8 * i);
    gwo::v1::WorkerMessage m;
    if (pos + 4 + n > data.size() || !m.ParseFromArray(data.data() + pos + 4, static_cast<int>(n))) break;
    pos += 4 + n;
    spool->next_seq_ = std::max(spool->next_seq_, m.seq() + 1);
    if (m.seq() <= acked) {
      ++spool->acked_in_file_;
    } else {
      spool->pending_.push_back(std::move(m));
    }
  }
  if (pos < data.size()) {
    LogWarning(absl::StrCat("spool ", log_path, ": dropping a torn record at byte ", pos, " (a crash mid-write)"));
    if (ftruncate(fd, static_cast<off_t>(pos)) != 0) return absl::InternalError(Errno("cannot truncate the spool"));
  }
  if (!spool->pending_.empty()) {
    LogInfo(absl::StrCat("spool ", dir, ": ", spool->pending_.size(), " report(s) not yet acknowledged (seq ",
                         spool->pending_.front().seq(), "..", spool->pending_.back().seq(), ")"));
  }
  return spool;
}

Spool::~Spool() { close(fd_); }

absl::Status Spool::Append(gwo::v1::WorkerMessage* m) {
  m->set_seq(next_seq_++);
  pending_.push_back(*m);
  const std::string record = Record(*m);
  if (absl::Status s = trainer::WriteAll(fd_, record); !s.ok()) return s;
  if (fdatasync(fd_) != 0) return absl::InternalError(Errno("cannot sync the spool"));
  return absl::OkStatus();
}

absl::Status Spool::Ack(int64_t seq) {
  if (seq <= acked_) return absl::OkStatus();
  acked_ = seq;
  while (!pending_.empty() && pending_.front().seq() <= seq) {
    pending_.pop_front();
    ++acked_in_file_;
  }
  // The acknowledgement first: if the log change below is lost, a restart skips
  // what it holds up to `acked`.
  if (absl::Status s = trainer::WriteFileAtomically(dir_ + "/acked", absl::StrCat(acked_, "\n")); !s.ok()) {
    return s;
  }
  if (pending_.empty()) {
    if (ftruncate(fd_, 0) != 0) return absl::InternalError(Errno("cannot empty the spool"));
    acked_in_file_ = 0;
    return absl::OkStatus();
  }
  if (acked_in_file_ >= kRewriteAfter) return Rewrite();
  return absl::OkStatus();
}

absl::Status Spool::Rewrite() {
  std::string bytes;
  for (const gwo::v1::WorkerMessage& m : pending_) bytes += Record(m);
  const std::string log_path = dir_ + "/reports.log";
  if (absl::Status s = trainer::WriteFileAtomically(log_path, bytes); !s.ok()) return s;
  const int fd = open(log_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(Errno(absl::StrCat("cannot reopen ", log_path)));
  close(fd_);
  fd_ = fd;
  acked_in_file_ = 0;
  return absl::OkStatus();
}

}  // namespace gwo::worker
