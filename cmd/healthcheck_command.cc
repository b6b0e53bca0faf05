// `projd healthcheck`: GET the local worker's /healthz (or --path) and exit 0 on a 2xx, for
// container HEALTHCHECKs and exec probes (the runtime image has no curl).
#include <cstdio>
#include <memory>

#include "cmd/cli.h"
#include "orchestrator/config/duration.h"
#include "orchestrator/http/http_probe.h"

namespace projd::cli {
namespace {

struct HealthcheckFlags {
  std::string path = "/healthz";
  std::string timeout = "2s";
};

}  // namespace

void AddHealthcheckCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("healthcheck", "probe the local worker's HTTP endpoint (exit 0 on 2xx)");
  AddConfigFlags(*cmd, invocation);
  auto flags = std::make_shared<HealthcheckFlags>();
  cmd->add_option("--path", flags->path, "endpoint to GET (default /healthz; /readyz for readiness)");
  cmd->add_option("--timeout", flags->timeout, "overall deadline, a duration (default 2s)");
  cmd->callback([&invocation, flags] {
    invocation.action = [&invocation, flags] {
      const std::string& addr = invocation.loaded.config.http_addr;
      if (addr == "off") throw UsageError("HTTP_ADDR is off: the worker serves no endpoint to probe");
      const auto timeout = ParseDuration(flags->timeout);
      if (!timeout || timeout->count() <= 0) throw UsageError("--timeout: not a positive duration: " + flags->timeout);
      if (flags->path.empty() || flags->path.front() != '/') throw UsageError("--path must start with /");
      const auto [host, port] = http::LocalProbeAddress(addr);
      if (port == 0) throw UsageError("HTTP_ADDR " + addr + " has port 0: give the worker's port with --http-addr");
      const auto result = http::Probe(host, port, flags->path, *timeout);
      const std::string url = "http://" + host + ":" + std::to_string(port) + flags->path;
      if (result.status == 0) {
        std::fprintf(stderr, "healthcheck: GET %s: %s\n", url.c_str(), result.error.c_str());
        return kExitFailure;
      }
      std::fprintf(result.status / 100 == 2 ? stdout : stderr, "healthcheck: GET %s: %d %s", url.c_str(),
                   result.status, result.body.c_str());
      if (!result.body.empty() && result.body.back() != '\n') std::fputc('\n', result.status / 100 == 2 ? stdout : stderr);
      return result.status / 100 == 2 ? kExitOk : kExitFailure;
    };
  });
}

}  // namespace projd::cli
