// What compute this host offers: its CPU, and NVIDIA GPUs as nvidia-smi lists
// them (the agent does not link CUDA).
#ifndef GWO_WORKER_AGENT_DEVICES_H_
#define GWO_WORKER_AGENT_DEVICES_H_

#include <vector>

#include "gwo/v1/workers.pb.h"

namespace gwo::worker {

std::vector<gwo::v1::Device> DetectDevices();

}  // namespace gwo::worker

#endif  // GWO_WORKER_AGENT_DEVICES_H_
