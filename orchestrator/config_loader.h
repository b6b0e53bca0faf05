// Building a Config from defaults < environment < flags, and validating it.
//
// Both the environment and the flags arrive as maps from the variable name
// (e.g. "HEARTBEAT_INTERVAL") to its raw text; cmd/ collects them, this file parses them.
// Every problem is collected (not only the first) so an operator fixes all at once.
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "orchestrator/config.h"

namespace projd {

using SettingMap = std::map<std::string, std::string>;

enum class SettingSource { kDefault, kEnvironment, kFlag };

struct ConfigProblem {
  std::string variable;  // e.g. "HEARTBEAT_INTERVAL"; empty for cross-field rules
  std::string message;   // e.g. "HEARTBEAT_INTERVAL=abc: not a duration (use 250ms, 5s, 1m30s or milliseconds)"
};

struct LoadedConfig {
  Config config;
  std::map<std::string, SettingSource> sources;  // variable -> where its value came from
  std::vector<ConfigProblem> problems;           // empty = valid
  std::vector<std::string> warnings;             // valid but questionable (logged at start-up)
  bool ok() const { return problems.empty(); }
};

// Names of every configuration variable, in documentation order.
std::vector<std::string> ConfigVariables();

// The effective value of `variable` as text (durations in Go syntax, DATABASE_URL with
// its password masked).
std::string ConfigValueText(const Config& config, const std::string& variable);

// Parses and validates. `env` holds the process environment (unrelated variables are
// ignored; POD_NAME and HOSTNAME feed the WORKER_NAME default); `flags` holds values given on the command line, keyed by variable name.
LoadedConfig LoadConfig(const SettingMap& env, const SettingMap& flags);

}  // namespace projd
