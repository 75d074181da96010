#include "common/tls.h"

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/client_interceptor.h"
#include "grpcpp/support/channel_arguments.h"

namespace gwo {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path);
  std::stringstream text;
  if (!in || !(text << in.rdbuf())) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read the ", what, " ", path));
  }
  if (!absl::StrContains(text.str(), "-----BEGIN ")) {
    return absl::FailedPreconditionError(absl::StrCat("the ", what, " ", path, " is not a PEM file"));
  }
  return text.str();
}

// The PEM certificate chain and private key of one side.
absl::StatusOr<std::pair<std::string, std::string>> ReadCertAndKey(const std::string& cert, const std::string& key) {
  absl::StatusOr<std::string> cert_pem = ReadPem(cert, "TLS certificate");
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadPem(key, "TLS key");
  if (!key_pem.ok()) return key_pem.status();
  return std::make_pair(*std::move(cert_pem), *std::move(key_pem));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerTlsFiles& files) {
  if (files.cert.empty() && files.key.empty()) {
    if (!files.client_ca.empty()) {
      return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key (client certificates are part of TLS)");
    }
    return grpc::InsecureServerCredentials();
  }
  if (files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  absl::StatusOr<std::pair<std::string, std::string>> cert_and_key = ReadCertAndKey(files.cert, files.key);
  if (!cert_and_key.ok()) return cert_and_key.status();
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  pair.cert_chain = std::move(cert_and_key->first);
  pair.private_key = std::move(cert_and_key->second);
  // Client certificates are asked for and verified when offered; whether a call needs
  // one is the service's decision (the worker stream does; gwoctl presents none).
  grpc::SslServerCredentialsOptions options(files.client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                                    : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!files.client_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(files.client_ca, "client CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
  }
  options.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const ClientTlsFiles& files) {
  if (files.ca.empty()) {
    if (!files.cert.empty() || !files.key.empty()) {
      return absl::InvalidArgumentError("a client certificate needs --tls_ca (the coordinator's CA) as well");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  grpc::SslCredentialsOptions options;
  absl::StatusOr<std::string> ca = ReadPem(files.ca, "TLS CA");
  if (!ca.ok()) return ca.status();
  options.pem_root_certs = *std::move(ca);
  if (!files.cert.empty()) {
    absl::StatusOr<std::pair<std::string, std::string>> cert_and_key = ReadCertAndKey(files.cert, files.key);
    if (!cert_and_key.ok()) return cert_and_key.status();
    options.pem_cert_chain = std::move(cert_and_key->first);
    options.pem_private_key = std::move(cert_and_key->second);
  }
  return grpc::SslCredentials(options);
}

namespace {

// Adds "authorization: Bearer <token>" to every call of the channel. (gRPC's call
// credentials are not sent over plaintext, which loopback deployments use.)
class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* const header_;
};

class BearerInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(const std::string& token) : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

std::shared_ptr<grpc::Channel> MakeCoordinatorChannel(const std::string& address,
                                                      const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                                                      const std::string& token) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(kMaxRequestBytes);
  args.SetMaxReceiveMessageSize(kMaxResponseBytes);
  if (token.empty()) return grpc::CreateCustomChannel(address, credentials, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<BearerInterceptorFactory>(token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, credentials, args, std::move(interceptors));
}

bool IsLoopbackAddress(const std::string& host_port) {
  absl::string_view host = host_port;
  if (absl::ConsumePrefix(&host, "[")) {
    host = host.substr(0, host.find(']'));
  } else {
    host = host.substr(0, host.rfind(':'));
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

}  // namespace gwo
