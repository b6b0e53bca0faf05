// The projd command line: CLI11 -> config -> validate -> build objects -> run.
//
// Each subcommand lives in its own cmd/<name>_command.cc and registers itself with
// Add<Name>Command(app, invocation): it declares its flags and sets invocation.action.
// Exit codes: 0 success, 1 runtime failure, 2 bad configuration or usage; `projd run`
// after a stop signal also 3 and 4 (kExitStopIncomplete, kExitStopAbandoned: shutdown.h).
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "orchestrator/config/config_loader.h"
#include "orchestrator/common/logging.h"
#include <projd/registry.h>

namespace projd::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// State shared by the subcommands of one invocation.
struct Invocation {
  SettingMap env;    // the process environment
  SettingMap flags;  // configuration given as flags, keyed by variable name
  LoadedConfig loaded;  // filled in after parsing, before the action runs
  std::string program;  // argv[0]
  const ProjectionRegistry* registry = nullptr;  // the projections this binary runs
  // The selected subcommand's work; returns the exit code.
  std::function<int()> action;
};

// "--heartbeat-interval" for "HEARTBEAT_INTERVAL".
std::string FlagName(const std::string& variable);

// Adds one flag per configuration variable (--heartbeat-interval for
// HEARTBEAT_INTERVAL, ...) to `cmd`, storing given values in invocation.flags.
// Variables in `except` get no flag (the subcommand uses that flag name otherwise).
void AddConfigFlags(CLI::App& cmd, Invocation& invocation, const std::vector<std::string>& except = {});

// The effective configuration, one line per variable: name, source, value (masked).
std::string PrintConfig(const LoadedConfig& loaded);

// The logger for a command, from LOG_LEVEL and LOG_FORMAT.
Logger MakeLogger(const Invocation& invocation, const std::string& name);

// Throws UsageError when DATABASE_URL is unset.
void RequireDatabaseUrl(const Invocation& invocation);

// A usage problem found while running a command (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs the command line over `registry`'s projections. `env` is the process environment.
int Main(int argc, char** argv, const SettingMap& env, const ProjectionRegistry& registry);

// Subcommands.
void AddMigrateCommand(CLI::App& app, Invocation& invocation);
void AddAppendCommand(CLI::App& app, Invocation& invocation);
void AddSeedCommand(CLI::App& app, Invocation& invocation);
void AddDemoCommand(CLI::App& app, Invocation& invocation);
void AddRunCommand(CLI::App& app, Invocation& invocation);
void AddReadCommand(CLI::App& app, Invocation& invocation);
void AddStatusCommand(CLI::App& app, Invocation& invocation);
void AddPartitionsCommand(CLI::App& app, Invocation& invocation);
void AddRebuildCommand(CLI::App& app, Invocation& invocation);
void AddDeadLettersCommand(CLI::App& app, Invocation& invocation);
void AddVersionsCommand(CLI::App& app, Invocation& invocation);
void AddHealthcheckCommand(CLI::App& app, Invocation& invocation);
void AddProjectionsCommand(CLI::App& app, Invocation& invocation);
void AddWaitCommand(CLI::App& app, Invocation& invocation);
// The subcommands of `projd projections` (cmd/projections_command.cc adds the group).
void AddPauseCommands(CLI::App& projections, Invocation& invocation);  // pause, resume
void AddResetCommand(CLI::App& projections, Invocation& invocation);   // reset

}  // namespace projd::cli
