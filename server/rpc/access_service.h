// gRPC front of AccessService (proto/gwo/v1/access.proto): who am I, users,
// projects, tokens and the audit log.
#ifndef GWO_SERVER_RPC_ACCESS_SERVICE_H_
#define GWO_SERVER_RPC_ACCESS_SERVICE_H_

#include "gwo/v1/access.grpc.pb.h"
#include "server/rpc/access_gate.h"

namespace gwo::server {

class AccessServiceImpl final : public gwo::v1::AccessService::CallbackService {
 public:
  explicit AccessServiceImpl(AccessGate* gate) : gate_(gate) {}

#define GWO_UNARY(Method)                                                                                  \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx, const gwo::v1::Method##Request* req, \
                                   gwo::v1::Method##Response* resp) override;
  GWO_UNARY(WhoAmI)
  GWO_UNARY(ListProjects)
  GWO_UNARY(CreateToken)
  GWO_UNARY(ListTokens)
  GWO_UNARY(RevokeToken)
  GWO_UNARY(CreateUser)
  GWO_UNARY(ListUsers)
  GWO_UNARY(UpdateUser)
  GWO_UNARY(CreateProject)
  GWO_UNARY(SetProjectMember)
  GWO_UNARY(ListAudit)
#undef GWO_UNARY

 private:
  Store* store() const { return gate_->access()->store(); }
  AccessGate* const gate_;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_ACCESS_SERVICE_H_
