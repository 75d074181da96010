#include "server/store/embedded_postgres.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "server/store/pg_connection.h"

namespace gwo::server {
namespace {

constexpr char kPostgresRoot[] = "/usr/lib/postgresql";
constexpr absl::Duration kInitdbTimeout = absl::Minutes(2);
constexpr absl::Duration kPgCtlTimeout = absl::Seconds(90);  // pg_ctl itself waits up to 60 s

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::Status ErrnoError(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

absl::Status UnusableDir(const std::string& dir) {
  return absl::FailedPreconditionError(absl::StrCat("cannot create the PostgreSQL data directory ", dir, ": ",
                                                    strerror(errno), "; choose a writable data directory"));
}

// `bin_dir` if given, else the newest /usr/lib/postgresql/<version>/bin with initdb.
absl::StatusOr<std::string> FindBinDir(const std::string& bin_dir) {
  const auto usable = [](const std::string& dir) {
    return IsFile(dir + "/initdb") && IsFile(dir + "/pg_ctl") && IsFile(dir + "/postgres");
  };
  if (!bin_dir.empty()) {
    if (usable(bin_dir)) return bin_dir;
    return absl::FailedPreconditionError(
        absl::StrCat("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in ", bin_dir));
  }
  std::string best;
  int best_version = -1;
  if (DIR* d = opendir(kPostgresRoot)) {
    while (dirent* e = readdir(d)) {
      int version = 0;
      const std::string dir = absl::StrCat(kPostgresRoot, "/", e->d_name, "/bin");
      if (absl::SimpleAtoi(e->d_name, &version) && version > best_version && usable(dir)) {
        best_version = version;
        best = dir;
      }
    }
    closedir(d);
  }
  if (best.empty()) {
    return absl::FailedPreconditionError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; run deploy/install-deps.sh");
  }
  return best;
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, "/", part);
    if (mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) return UnusableDir(prefix);
  }
  return absl::OkStatus();
}

// FAILED_PRECONDITION naming the first directory on `path` that `user` cannot enter.
absl::Status CheckTraversable(const std::string& path, const passwd& user) {
  int ngroups = 64;
  std::vector<gid_t> groups(ngroups);
  if (getgrouplist(user.pw_name, user.pw_gid, groups.data(), &ngroups) < 0) {
    groups.resize(ngroups);
    getgrouplist(user.pw_name, user.pw_gid, groups.data(), &ngroups);
  }
  groups.resize(std::max(ngroups, 0));
  std::string prefix;
  std::vector<std::string> dirs = {"/"};
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, "/", part);
    dirs.push_back(prefix);
  }
  for (const std::string& dir : dirs) {
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return ErrnoError(absl::StrCat("stat ", dir));
    bool ok;  // POSIX: only the owner bits apply to the owner, the group bits to members
    if (st.st_uid == user.pw_uid) {
      ok = (st.st_mode & S_IXUSR) != 0;
    } else if (std::find(groups.begin(), groups.end(), st.st_gid) != groups.end()) {
      ok = (st.st_mode & S_IXGRP) != 0;
    } else {
      ok = (st.st_mode & S_IXOTH) != 0;
    }
    if (!ok) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the embedded PostgreSQL runs as user \"", user.pw_name, "\", which cannot enter ", dir, " (mode ",
          absl::StrFormat("%04o", st.st_mode & 07777), ") on the way to the data directory ", path,
          "; use a data directory such as /var/lib/gwo or /tmp/gwo, or make ", dir, " traversable (chmod o+x)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return ErrnoError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    absl::Status st = ErrnoError("bind 127.0.0.1:0");
    close(fd);
    return st;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string LastLines(const std::string& text, int n) {
  std::vector<absl::string_view> lines = absl::StrSplit(absl::StripTrailingAsciiWhitespace(text), '\n');
  const size_t from = lines.size() > static_cast<size_t>(n) ? lines.size() - n : 0;
  return absl::StrJoin(lines.begin() + from, lines.end(), "\n");
}

// The postmaster's pid from postmaster.pid, or 0.
pid_t PostmasterPid(const std::string& cluster_dir) {
  std::string first = ReadFile(cluster_dir + "/postmaster.pid");
  first = first.substr(0, first.find('\n'));
  int pid = 0;
  return absl::SimpleAtoi(first, &pid) ? pid : 0;
}

bool IsLivePostgres(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  return absl::StartsWith(ReadFile(absl::StrCat("/proc/", pid, "/comm")), "postgres");
}

// Runs a PostgreSQL tool as `user` (empty: as this process), from "/" so that the
// user need not be able to enter our working directory.
absl::Status RunTool(std::vector<std::string> argv, const std::string& user, absl::Duration timeout) {
  SpawnOptions options;
  options.argv = std::move(argv);
  options.cwd = "/";
  options.run_as_user = user;
  return RunCommand(options, timeout).status();
}

// 32 random bytes as hex: the password of the cluster's only role.
absl::StatusOr<std::string> NewPassword() {
  unsigned char bytes[32];
  std::ifstream random("/dev/urandom", std::ios::binary);
  if (!random.read(reinterpret_cast<char*>(bytes), sizeof(bytes))) {
    return absl::InternalError("cannot read /dev/urandom for the database password");
  }
  std::string hex;
  for (unsigned char b : bytes) absl::StrAppendFormat(&hex, "%02x", b);
  return hex;
}

// Writes `text` to `path` readable by its owner alone (0600), replacing what was there.
absl::Status WritePrivateFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(absl::StrCat("create ", tmp));
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (!written || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
    absl::Status st = ErrnoError(absl::StrCat("write ", tmp));
    close(fd);
    unlink(tmp.c_str());
    return st;
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError(absl::StrCat("rename ", tmp));
  return absl::OkStatus();
}

// Loopback TCP, password (SCRAM) only; the server has no Unix socket.
constexpr char kHba[] =
    "# Written by gwo on every start: role gwo, with the password in ../postgres.password, over\n"
    "# loopback TCP. Edits here are overwritten.\n"
    "host all gwo 127.0.0.1/32 scram-sha-256\n"
    "host all gwo ::1/128 scram-sha-256\n";

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> EmbeddedPostgres::Start(const EmbeddedPostgresOptions& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("EmbeddedPostgres needs a data directory");
  std::unique_ptr<EmbeddedPostgres> pg(new EmbeddedPostgres());
  pg->options_ = options;
  GWO_ASSIGN_OR_RETURN(pg->bin_dir_, FindBinDir(options.bin_dir));

  std::string data_dir = options.data_dir;
  if (data_dir[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) return ErrnoError("getcwd");
    data_dir = absl::StrCat(cwd, "/", data_dir);
  }
  data_dir = std::string(absl::StripSuffix(data_dir, "/"));
  pg->cluster_dir_ = data_dir + "/postgres";
  GWO_RETURN_IF_ERROR(MakeDirs(data_dir, 0755));
  if (mkdir(pg->cluster_dir_.c_str(), 0700) != 0 && errno != EEXIST) return UnusableDir(pg->cluster_dir_);

  // PostgreSQL refuses to run as root: as root, the cluster belongs to another user.
  if (geteuid() == 0) {
    std::string user = options.run_as_user;
    if (user.empty()) user = getpwnam("postgres") != nullptr ? "postgres" : "nobody";
    const passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("user \"", user, "\" to run the embedded PostgreSQL as does not exist"));
    }
    GWO_RETURN_IF_ERROR(CheckTraversable(data_dir, *pw));  // the cluster folder becomes theirs
    struct stat st;
    if (stat(pg->cluster_dir_.c_str(), &st) != 0) return ErrnoError(absl::StrCat("stat ", pg->cluster_dir_));
    if (st.st_uid != pw->pw_uid) {
      // Left by a run as another user: hand over every file, not just the folder.
      GWO_RETURN_IF_ERROR(RunTool({"chown", "-R", absl::StrCat(pw->pw_uid, ":", pw->pw_gid), pg->cluster_dir_},
                                  /*user=*/"", absl::Minutes(1)));
    }
    pg->options_.run_as_user = user;
  } else {
    pg->options_.run_as_user.clear();
  }

  // The role's password lives beside the cluster, readable by this process's user
  // alone; nobody else on the host can connect without it.
  const std::string password_file = data_dir + "/postgres.password";
  bool upgrade_trust = false;
  if (!IsFile(pg->cluster_dir_ + "/PG_VERSION")) {
    LogInfo(absl::StrCat("creating a PostgreSQL cluster in ", pg->cluster_dir_));
    GWO_ASSIGN_OR_RETURN(pg->password_, NewPassword());
    GWO_RETURN_IF_ERROR(WritePrivateFile(password_file, pg->password_ + "\n"));
    // initdb reads the password from a file of its own user, removed right after.
    const std::string pwfile = pg->cluster_dir_ + ".initdb-password";
    GWO_RETURN_IF_ERROR(WritePrivateFile(pwfile, pg->password_ + "\n"));
    if (!pg->options_.run_as_user.empty()) {
      const passwd* pw = getpwnam(pg->options_.run_as_user.c_str());
      if (pw == nullptr || chown(pwfile.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        unlink(pwfile.c_str());
        return ErrnoError(absl::StrCat("chown ", pwfile));
      }
    }
    std::vector<std::string> argv = {pg->bin_dir_ + "/initdb", "-D", pg->cluster_dir_, "-U", "gwo",
                                     "--auth=scram-sha-256", "--pwfile=" + pwfile, "-E", "UTF8", "--no-locale",
                                     "--no-instructions"};
    if (!options.durable) argv.push_back("--no-sync");
    absl::Status created = RunTool(argv, pg->options_.run_as_user, kInitdbTimeout);
    unlink(pwfile.c_str());
    GWO_RETURN_IF_ERROR(created);
  } else if (IsFile(password_file)) {
    pg->password_ = std::string(absl::StripAsciiWhitespace(ReadFile(password_file)));
    if (pg->password_.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          password_file, " is empty or unreadable (it belongs to the user who created the cluster); restore it, "
          "run as that user, or remove ", pg->cluster_dir_, " to start from an empty database"));
    }
  } else if (!absl::StrContains(ReadFile(pg->cluster_dir_ + "/pg_hba.conf"), "trust")) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the PostgreSQL cluster in ", pg->cluster_dir_, " asks for a password, but ", password_file,
        " is missing; restore it, or remove ", pg->cluster_dir_, " to start from an empty database"));
  } else {
    // A cluster from before passwords (trust on loopback) is given one, data kept. The
    // password is kept in <file>.new until the role has it, so an interrupted upgrade
    // is finished by the next start with the same password.
    upgrade_trust = true;
    const std::string pending = password_file + ".new";
    pg->password_ = std::string(absl::StripAsciiWhitespace(ReadFile(pending)));
    if (pg->password_.empty()) {
      GWO_ASSIGN_OR_RETURN(pg->password_, NewPassword());
      GWO_RETURN_IF_ERROR(WritePrivateFile(pending, pg->password_ + "\n"));
    }
  }
  pg->password_file_ = password_file;

  // A postmaster.pid left by a crash: a server still running on this cluster (its
  // owner died) is stopped; a dead pid's file is removed.
  const pid_t old_pid = PostmasterPid(pg->cluster_dir_);
  if (IsLivePostgres(old_pid)) {
    LogWarning(absl::StrCat("stopping a PostgreSQL server (pid ", old_pid, ") left running on ", pg->cluster_dir_));
    pg->running_ = true;
    GWO_RETURN_IF_ERROR(pg->Stop());
  } else if (old_pid > 0) {
    unlink((pg->cluster_dir_ + "/postmaster.pid").c_str());
  }

  // A port picked here may be taken before the server binds it: try another.
  const int tries = options.port == 0 ? 3 : 1;
  absl::Status st;
  for (int i = 0; i < tries; ++i) {
    if (options.port != 0) {
      pg->port_ = options.port;
    } else {
      GWO_ASSIGN_OR_RETURN(pg->port_, PickFreePort());
    }
    st = pg->StartServer(upgrade_trust);
    if (st.ok() || !absl::StrContains(st.message(), "already in use")) break;
  }
  GWO_RETURN_IF_ERROR(st);
  if (upgrade_trust) {
    LogInfo(absl::StrCat("the embedded PostgreSQL now asks for the password in ", password_file,
                         " (it accepted any local connection before)"));
  }
  pg->url_ = pg->UrlFor("gwo");
  return pg;
}

std::string EmbeddedPostgres::UrlFor(const std::string& database) const {
  return absl::StrCat("host=127.0.0.1 port=", port_, " user=gwo password=", password_, " dbname=", database);
}

absl::Status EmbeddedPostgres::StartServer(bool trusting) {
  const std::string log = cluster_dir_ + "/server.log";
  const size_t log_size_before = ReadFile(log).size();
  // gwo's rules, written on every start so that no edit or older gwo leaves the
  // cluster open; `trusting` keeps the cluster's own (trust, from an older gwo) for
  // the one start that sets the password.
  if (!trusting) {
    const std::string hba = cluster_dir_ + "/pg_hba.conf";
    GWO_RETURN_IF_ERROR(WritePrivateFile(hba, kHba));
    if (!options_.run_as_user.empty()) {
      const passwd* pw = getpwnam(options_.run_as_user.c_str());
      if (pw == nullptr || chown(hba.c_str(), pw->pw_uid, pw->pw_gid) != 0) return ErrnoError("chown " + hba);
    }
  }
  absl::Status st =
      RunTool({bin_dir_ + "/pg_ctl", "-D", cluster_dir_, "-l", log, "-w", "-t", "60", "-o",
               absl::StrCat("-p ", port_, " -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
                            " -c password_encryption=scram-sha-256",
                            options_.durable ? "" : " -c fsync=off"),
               "start"},
              options_.run_as_user, kPgCtlTimeout);
  if (!st.ok()) {
    const std::string server_log = ReadFile(log);
    return absl::Status(st.code(), absl::StrCat(st.message(), "\nserver log (", log, "):\n",
                                                LastLines(server_log.substr(std::min(log_size_before,
                                                                                     server_log.size())),
                                                          20)));
  }
  running_ = true;

  // Database "gwo" (initdb made only "postgres" and the templates).
  GWO_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::Connect(UrlFor("postgres")));
  GWO_ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT 1 FROM pg_database WHERE datname = 'gwo'"));
  if (r.rows() == 0) GWO_RETURN_IF_ERROR(conn->Exec("CREATE DATABASE gwo").status());
  if (trusting) {
    // The password is hex, so it needs no quoting; then restart under gwo's rules.
    GWO_RETURN_IF_ERROR(conn->Exec(absl::StrCat("ALTER ROLE gwo PASSWORD '", password_, "'")).status());
    conn.reset();
    if (rename((password_file_ + ".new").c_str(), password_file_.c_str()) != 0) {
      return ErrnoError(absl::StrCat("rename ", password_file_, ".new"));
    }
    GWO_RETURN_IF_ERROR(Stop());
    return StartServer(/*trusting=*/false);
  }
  return absl::OkStatus();
}

absl::Status EmbeddedPostgres::Stop() {
  if (!running_) return absl::OkStatus();
  GWO_RETURN_IF_ERROR(RunTool({bin_dir_ + "/pg_ctl", "-D", cluster_dir_, "-m", "fast", "-w", "stop"},
                              options_.run_as_user, kPgCtlTimeout));
  running_ = false;
  return absl::OkStatus();
}

absl::Status EmbeddedPostgres::Restart() {
  GWO_RETURN_IF_ERROR(Stop());
  return StartServer();
}

EmbeddedPostgres::~EmbeddedPostgres() {
  absl::Status st = Stop();
  if (!st.ok()) LogWarning(absl::StrCat("stopping the embedded PostgreSQL: ", st.message()));
}

}  // namespace gwo::server
