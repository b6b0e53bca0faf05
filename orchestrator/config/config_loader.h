// Building a Config from defaults < environment < flags, and validating it.
//
// Both the environment and the flags arrive as maps from the variable name
// (e.g. "HEARTBEAT_INTERVAL") to its raw text; cmd/ collects them, this file parses them.
// Every problem is collected (not only the first) so an operator fixes all at once.
// Pure functions; thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/config/config.h"

namespace projd {

using SettingMap = std::map<std::string, std::string>;

// kDerived: not set, computed from what was set (a short STALE_WORKER_TIMEOUT shortens
// the persistence defaults); kFile: DATABASE_URL read from DATABASE_URL_FILE.
enum class SettingSource { kDefault, kEnvironment, kFlag, kDerived, kFile };

// Reads a whole file; returns nullopt and sets *error (e.g. "No such file or directory")
// when it cannot. cmd/ passes one that reads the file system; tests pass fakes.
using FileReader = std::function<std::optional<std::string>(const std::string& path, std::string* error)>;

// Every duration is at most this (a larger one overflows timers into a busy loop).
inline constexpr std::chrono::hours kMaxDuration{24};

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
// ignored; POD_NAME and HOSTNAME feed the WORKER_NAME default); `flags` holds values given
// on the command line, keyed by variable name. DATABASE_URL_FILE is read with `read_file`
// (its trailing newline stripped); without a reader it is a problem.
//
// Defaults derive from what was set, so that a short STALE_WORKER_TIMEOUT alone is valid:
// unless set, PERSISTENCE_INTERVAL and PERSISTENCE_TIMEOUT are min(5s, what is left of
// STALE_WORKER_TIMEOUT / 2, split evenly when both are unset), PERSISTENCE_TIMEOUT also
// stays below half of SHUTDOWN_TIMEOUT and FORCE_PERSISTENCE_TIMEOUT, and
// HEARTBEAT_INTERVAL is min(5s, STALE_WORKER_TIMEOUT / 3). Values that were set are never
// changed: a contradiction among them is a problem naming the variables.
LoadedConfig LoadConfig(const SettingMap& env, const SettingMap& flags,
                        const FileReader& read_file = nullptr);

}  // namespace projd
