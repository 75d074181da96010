// Cooperative stop on SIGTERM / SIGINT: the handler only sets a flag; the training
// loop polls it between steps.
#ifndef GWO_WORKER_TRAINER_STOP_SIGNAL_H_
#define GWO_WORKER_TRAINER_STOP_SIGNAL_H_

#include <atomic>

namespace gwo::trainer {

// Installs handlers for SIGTERM and SIGINT that set the returned flag (process-wide,
// lives forever), and ignores SIGPIPE so a closed events pipe is a write error, not a
// silent death. Call once, from main().
const std::atomic<bool>& InstallStopHandlers();

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_STOP_SIGNAL_H_
