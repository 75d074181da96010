// gwoctl's live commands: `logs` (optionally following a run's log stream) and
// `watch` (a live progress table of an experiment's runs).
#ifndef GWO_CLIENT_LIVE_COMMANDS_H_
#define GWO_CLIENT_LIVE_COMMANDS_H_

#include <string>

#include "absl/time/time.h"
#include "client/commands.h"

namespace gwo::client {

// Prints the run's log (the last `tail` lines, 0: all); with `follow`, keeps
// printing new lines until the run is terminal. The stream's deadline is
// `stream_timeout`.
int Logs(const Context& c, const std::string& run, int tail, bool follow, absl::Duration stream_timeout);

// Redraws a table of the experiment's runs (state, progress bar, step/s, ETA,
// latest loss) every `interval` until every run is terminal; on a terminal it
// redraws in place, otherwise it prints one line per run when its state changes
// or it progressed by 10%. Exit code 0 when every run succeeded, else 1.
int Watch(const Context& c, const std::string& experiment, absl::Duration interval);

}  // namespace gwo::client

#endif  // GWO_CLIENT_LIVE_COMMANDS_H_
