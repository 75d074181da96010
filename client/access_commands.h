// gwoctl's access commands: login, whoami, user, project, token, audit.
#ifndef GWO_CLIENT_ACCESS_COMMANDS_H_
#define GWO_CLIENT_ACCESS_COMMANDS_H_

#include <string>
#include <vector>

#include "client/commands.h"

namespace gwo::client {

struct AccessOptions {
  std::string role;                   // user create / set-role: viewer, member, admin
  std::vector<std::string> projects;  // user create: projects to join
  std::string name;                   // token create: its name
  std::string ttl;                    // token create: lifetime, e.g. 90d, 12h, 30m (empty: never expires)
  std::string user;                   // token create / list: another user's (admin)
  bool worker = false;                // token create: a worker token (admin)
  int limit = 100;                    // audit: entries
};

// Reads a token (stdin, or $GWO_TOKEN), checks it with the coordinator and saves it
// in the user's gwo config (0600) as this coordinator's, which becomes the default.
int Login(const Context& c, const std::string& tls_ca);
int WhoAmI(const Context& c);
// `args`: the words after the command ("create alice", "list", ...).
int UserCommand(const Context& c, const std::vector<std::string>& args, const AccessOptions& o);
int ProjectCommand(const Context& c, const std::vector<std::string>& args, const AccessOptions& o);
int TokenCommand(const Context& c, const std::vector<std::string>& args, const AccessOptions& o);
int Audit(const Context& c, const AccessOptions& o);

}  // namespace gwo::client

#endif  // GWO_CLIENT_ACCESS_COMMANDS_H_
