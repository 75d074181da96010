#include "common/client_config.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace gwo {
namespace {

std::string Errno() { return std::strerror(errno); }

// mkdir -p with mode 0700 for the directories it creates.
absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) return absl::OkStatus();
  const size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (absl::Status s = MakeDirs(dir.substr(0, slash)); !s.ok()) return s;
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir, ": ", Errno()));
  }
  return absl::OkStatus();
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

}  // namespace

std::string ClientConfigPath() {
  if (const char* env = std::getenv("GWO_CONFIG"); env != nullptr && *env != '\0') return env;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    return absl::StrCat(xdg, "/gwo/config.json");
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : "/tmp", "/.config/gwo/config.json");
}

absl::StatusOr<ClientConfig> LoadClientConfig(const std::string& path) {
  ClientConfig out;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return out;
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", path, ": ", Errno()));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(path, " holds tokens but others may read or write it: chmod 600 ",
                                                      path));
  }
  std::ifstream in(path);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read ", path, ": ", Errno()));
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not gwo's config (a JSON object); move it away"));
  }
  auto str = [](const nlohmann::json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  out.current = str(j, "current");
  if (auto c = j.find("coordinators"); c != j.end() && c->is_object()) {
    for (const auto& [address, entry] : c->items()) {
      if (!entry.is_object()) continue;
      out.coordinators[address] = {str(entry, "token"), str(entry, "worker_token"), str(entry, "tls_ca")};
    }
  }
  return out;
}

std::string DefaultCoordinator(const ClientConfig& config) {
  if (const char* env = std::getenv("GWO_COORDINATOR"); env != nullptr && *env != '\0') return env;
  return config.current.empty() ? "127.0.0.1:7070" : config.current;
}

std::string UserTokenFor(const ClientConfig& config, const std::string& address) {
  if (const char* env = std::getenv("GWO_TOKEN"); env != nullptr && *env != '\0') return env;
  auto it = config.coordinators.find(address);
  return it == config.coordinators.end() ? "" : it->second.token;
}

absl::Status UpdateClientConfig(const std::string& path, const std::function<void(ClientConfig&)>& change) {
  if (absl::Status s = MakeDirs(DirOf(path)); !s.ok()) return s;
  const std::string lock_path = absl::StrCat(path, ".lock");
  const int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) return absl::FailedPreconditionError(absl::StrCat("cannot open ", lock_path, ": ", Errno()));
  if (flock(lock, LOCK_EX) != 0) {
    close(lock);
    return absl::FailedPreconditionError(absl::StrCat("cannot lock ", lock_path, ": ", Errno()));
  }
  absl::Status status = [&]() -> absl::Status {
    absl::StatusOr<ClientConfig> config = LoadClientConfig(path);
    if (!config.ok()) return config.status();
    change(*config);
    nlohmann::json j = nlohmann::json::object();
    j["current"] = config->current;
    j["coordinators"] = nlohmann::json::object();
    for (const auto& [address, e] : config->coordinators) {
      j["coordinators"][address] = {{"token", e.token}, {"worker_token", e.worker_token}, {"tls_ca", e.tls_ca}};
    }
    const std::string text = j.dump(2) + "\n";
    const std::string tmp = absl::StrCat(path, ".tmp");
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot write ", tmp, ": ", Errno()));
    fchmod(fd, 0600);  // whatever the umask
    const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
    close(fd);
    if (!written || rename(tmp.c_str(), path.c_str()) != 0) {
      unlink(tmp.c_str());
      return absl::FailedPreconditionError(absl::StrCat("cannot write ", path, ": ", Errno()));
    }
    return absl::OkStatus();
  }();
  flock(lock, LOCK_UN);
  close(lock);
  return status;
}

}  // namespace gwo
