// One flag per configuration variable: --heartbeat-interval for HEARTBEAT_INTERVAL, ...
#include <algorithm>
#include <cctype>

#include "cmd/cli.h"

namespace projd::cli {

std::string FlagName(const std::string& variable) {
  std::string flag = "--";
  for (char c : variable) flag.push_back(c == '_' ? '-' : static_cast<char>(std::tolower(c)));
  return flag;
}

void AddConfigFlags(CLI::App& cmd, Invocation& invocation, const std::vector<std::string>& except) {
  for (const auto& variable : ConfigVariables()) {
    if (std::find(except.begin(), except.end(), variable) != except.end()) continue;
    cmd.add_option_function<std::string>(
           FlagName(variable),
           [&invocation, variable](const std::string& v) { invocation.flags[variable] = v; },
           "overrides env " + variable + " (see docs/configuration.md)")
        ->group("Configuration");
  }
}

}  // namespace projd::cli
