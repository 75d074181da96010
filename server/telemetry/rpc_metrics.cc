#include "server/telemetry/rpc_metrics.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/support/interceptor.h"

namespace gwo::server {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::Interceptor;
using grpc::experimental::InterceptorBatchMethods;
using grpc::experimental::ServerRpcInfo;

class RpcTimer final : public Interceptor {
 public:
  RpcTimer(metrics::Family<metrics::Histogram>* duration, std::string method)
      : duration_(duration), method_(std::move(method)), start_(absl::Now()) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      duration_->With({method_, GrpcCodeName(status.error_code())})
          .Observe(absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  metrics::Family<metrics::Histogram>* const duration_;
  const std::string method_;
  const absl::Time start_;
};

class RpcTimerFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  RpcTimerFactory(metrics::Family<metrics::Histogram>* duration, std::set<std::string> methods)
      : duration_(duration), methods_(std::move(methods)) {}

  Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    std::string method = info->method() != nullptr ? info->method() : "";
    if (!methods_.count(method)) method = "unknown";
    return new RpcTimer(duration_, method);
  }

 private:
  metrics::Family<metrics::Histogram>* const duration_;
  const std::set<std::string> methods_;  // "/gwo.v1.ExperimentService/SubmitExperiment"
};

}  // namespace

std::string GrpcCodeName(int code) {
  // gRPC and absl share the canonical code numbering and names.
  return absl::AsciiStrToUpper(absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcMetricsInterceptorFactory(
    metrics::Family<metrics::Histogram>* duration, const std::vector<std::string>& services) {
  std::set<std::string> methods;
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      methods.insert("/" + service->full_name() + "/" + service->method(i)->name());
    }
  }
  return std::make_unique<RpcTimerFactory>(duration, std::move(methods));
}

}  // namespace gwo::server
