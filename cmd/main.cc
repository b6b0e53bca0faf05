// The projd binary: wiring only (see cmd/cli.h).
#include <unistd.h>

#include <string>

#include "cmd/cli.h"

extern char** environ;

int main(int argc, char** argv) {
  projd::SettingMap env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    if (const auto eq = kv.find('='); eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // The WORKER_NAME default falls back to the host name.
  if (!env.count("HOSTNAME")) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) env["HOSTNAME"] = host;
  }
  return projd::cli::Main(argc, argv, env);
}
