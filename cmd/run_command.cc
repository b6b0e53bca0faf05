// `projd run`: the worker. This slice supports --print-config; the worker loop is being
// built (issues 5 and 6).
#include <iostream>
#include <memory>

#include "cmd/cli.h"

namespace projd::cli {

void AddRunCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("run", "run a worker of the replica set");
  AddConfigFlags(*cmd, invocation);
  auto print_config = std::make_shared<bool>(false);
  cmd->add_flag("--print-config", *print_config,
                "print the effective configuration with the source of each value, then exit");
  cmd->callback([&invocation, print_config] {
    invocation.action = [&invocation, print_config] {
      if (*print_config) {
        std::cout << PrintConfig(invocation.loaded);
        return kExitOk;
      }
      RequireDatabaseUrl(invocation);
      std::cerr << "projd run: the worker loop is not built yet (see README, feature status)\n";
      return kExitFailure;
    };
  });
}

}  // namespace projd::cli
