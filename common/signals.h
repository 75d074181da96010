// Shutdown signals of gwo's long-running processes.
#ifndef GWO_COMMON_SIGNALS_H_
#define GWO_COMMON_SIGNALS_H_

#include <signal.h>

namespace gwo {

// Blocks SIGINT and SIGTERM in the calling thread (call before starting any thread,
// so that every thread inherits the mask) and ignores SIGPIPE. Returns the set to
// pass to sigwait(), so that one thread takes these signals synchronously.
sigset_t BlockStopSignals();

}  // namespace gwo

#endif  // GWO_COMMON_SIGNALS_H_
