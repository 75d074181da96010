// TLS for gwo's gRPC: the coordinator's server credentials and the clients' (gwoctl,
// gwo-worker) channel credentials, from PEM files named on the command line, the
// rule that keeps plaintext on loopback, and the message size limits.
#ifndef GWO_COMMON_TLS_H_
#define GWO_COMMON_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace gwo {

struct ServerTlsFiles {
  std::string cert;       // PEM certificate chain; empty with key: plaintext
  std::string key;        // PEM private key
  std::string client_ca;  // PEM CA that signs workers' client certificates; empty: none asked
};

// Plaintext when `files` names nothing; TLS when cert and key are both given.
// INVALID_ARGUMENT when only one of cert/key is given or client_ca comes without
// them; FAILED_PRECONDITION when a file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerTlsFiles& files);

struct ClientTlsFiles {
  std::string ca;    // PEM CA the coordinator's certificate is checked against; empty: plaintext
  std::string cert;  // PEM client certificate (workers under mutual TLS); optional
  std::string key;   // its private key
};

// Plaintext when `files.ca` is empty (and nothing else is given).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const ClientTlsFiles& files);

// Message size limits of gwo's gRPC, the same on both ends. Requests (job specs of at
// most 1 MiB, workers' report batches) stay far below kMaxRequestBytes; responses
// (a run's whole metric series, a report) may be larger.
inline constexpr int kMaxRequestBytes = 8 << 20;
inline constexpr int kMaxResponseBytes = 64 << 20;

// A channel to the coordinator with gwo's message limits; every call on it carries
// `token` (metadata "authorization: Bearer <token>") unless it is empty.
std::shared_ptr<grpc::Channel> MakeCoordinatorChannel(const std::string& address,
                                                      const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                                                      const std::string& token = "");

// True for 127.0.0.0/8, ::1 and "localhost" listen addresses ("HOST:PORT", "[::1]:PORT").
bool IsLoopbackAddress(const std::string& host_port);

}  // namespace gwo

#endif  // GWO_COMMON_TLS_H_
