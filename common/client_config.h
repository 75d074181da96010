// The user's gwo config: per coordinator address, the token gwoctl sends, the
// worker token gwo-worker sends, and the CA of its TLS certificate; and which
// coordinator gwoctl talks to when none is named. A JSON file, written 0600 in a
// 0700 directory, at $GWO_CONFIG, else $XDG_CONFIG_HOME/gwo/config.json, else
// ~/.config/gwo/config.json. The first start of a coordinator writes its admin and
// worker tokens here; `gwoctl login` writes a token. No gRPC here.
//
//   {"current": "127.0.0.1:7070",
//    "coordinators": {"127.0.0.1:7070": {"token": "gwo_...", "worker_token": "gwow_...", "tls_ca": ""}}}
#ifndef GWO_COMMON_CLIENT_CONFIG_H_
#define GWO_COMMON_CLIENT_CONFIG_H_

#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gwo {

struct CoordinatorEntry {
  std::string token;         // user token (gwo_...)
  std::string worker_token;  // worker token (gwow_...)
  std::string tls_ca;        // PEM CA file of the coordinator's certificate; empty: plaintext
};

struct ClientConfig {
  std::string current;  // address gwoctl uses when none is given; empty: 127.0.0.1:7070
  std::map<std::string, CoordinatorEntry> coordinators;  // by "host:port"
};

// Where the config lives (see above).
std::string ClientConfigPath();

// The config at `path`; an empty one when the file does not exist. FAILED_PRECONDITION
// when it is readable or writable by others than its owner (it holds tokens) and
// INVALID_ARGUMENT when it is not gwo's JSON, naming the file.
absl::StatusOr<ClientConfig> LoadClientConfig(const std::string& path);

// The coordinator a client talks to when its command line names none:
// $GWO_COORDINATOR, else the config's current one, else 127.0.0.1:7070.
std::string DefaultCoordinator(const ClientConfig& config);

// The user token to send to `address`: $GWO_TOKEN, else the config's for it, else "".
std::string UserTokenFor(const ClientConfig& config, const std::string& address);

// Reads, changes and writes the config under an exclusive lock (so concurrent
// writers lose nothing), creating the directory (0700) and the file (0600); the
// new file replaces the old one atomically.
absl::Status UpdateClientConfig(const std::string& path, const std::function<void(ClientConfig&)>& change);

}  // namespace gwo

#endif  // GWO_COMMON_CLIENT_CONFIG_H_
