// `projd projections ...`: operator control of a projection's progress (pause, resume,
// reset). Each subcommand lives in its own file.
#include "cmd/cli.h"

namespace projd::cli {

void AddProjectionsCommand(CLI::App& app, Invocation& invocation) {
  auto* group = app.add_subcommand("projections", "control a projection: pause, resume, reset");
  group->require_subcommand(1);
  AddPauseCommands(*group, invocation);
  AddResetCommand(*group, invocation);
}

}  // namespace projd::cli
