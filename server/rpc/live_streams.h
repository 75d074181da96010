// Server-streaming reactors for live metrics and logs. Each stream pages through
// the store after a cursor (metric seq, log line id): it reads the next page only
// after the client took the previous one, so a slow client costs no memory and
// never holds up the coordinator. When it has caught up it sleeps until the
// coordinator's LiveFeed wakes it for its run (or a 1 s poll fires, which also
// notices cancels), and it finishes once the run is terminal and fully sent.
#ifndef GWO_SERVER_RPC_LIVE_STREAMS_H_
#define GWO_SERVER_RPC_LIVE_STREAMS_H_

#include "gwo/v1/metrics.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/coordinator.h"
#include "server/rpc/access_gate.h"

namespace gwo::server {

// The reactors delete themselves when the call is done. Each holds `pass` while it
// runs and ends with its status once the pass is no longer valid.
grpc::ServerWriteReactor<gwo::v1::StreamMetricsResponse>* NewMetricStream(Coordinator* core,
                                                                          const gwo::v1::StreamMetricsRequest& req,
                                                                          std::unique_ptr<StreamPass> pass);
grpc::ServerWriteReactor<gwo::v1::StreamLogsResponse>* NewLogStream(Coordinator* core,
                                                                    const gwo::v1::StreamLogsRequest& req,
                                                                    std::unique_ptr<StreamPass> pass);

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_LIVE_STREAMS_H_
