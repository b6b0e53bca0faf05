// projd::RunWorker (include/projd/worker.h): the command line over a registry, with the
// process environment.
#include <unistd.h>

#include <string>

#include <projd/worker.h>

#include "cmd/cli.h"

extern char** environ;

namespace projd {

int RunWorker(int argc, char** argv, const ProjectionRegistry& registry) {
  SettingMap env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    if (const auto eq = kv.find('='); eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // The WORKER_NAME default falls back to the host name.
  if (!env.count("HOSTNAME")) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) env["HOSTNAME"] = host;
  }
  return cli::Main(argc, argv, env, registry);
}

}  // namespace projd
