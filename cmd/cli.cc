#include "cmd/cli.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "orchestrator/config/database_url.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/common/version.h"

namespace projd::cli {

Logger MakeLogger(const Invocation& invocation, const std::string& name) {
  const Config& c = invocation.loaded.config;
  return Logger(name, c.log_level, c.log_format).WithDatabaseUrl(c.database_url);
}

void RequireDatabaseUrl(const Invocation& invocation) {
  if (invocation.loaded.config.database_url.empty()) {
    throw UsageError(
        "DATABASE_URL is not set: give the database as DATABASE_URL=postgresql://user:pass@host:5432/db, "
        "DATABASE_URL_FILE=/path/to/file or --database-url");
  }
}

namespace {

std::optional<std::string> ReadWholeFile(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  return text.str();
}

}  // namespace

int Main(int argc, char** argv, const SettingMap& env, const ProjectionRegistry& registry) {
  Invocation invocation;
  invocation.env = env;
  invocation.registry = &registry;
  invocation.program = argc > 0 ? argv[0] : "projd";

  CLI::App app{"projd: a distributed projection orchestrator over PostgreSQL"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", std::string("projd ") + kVersion + " (" + kRevision + ")");
  AddMigrateCommand(app, invocation);
  AddAppendCommand(app, invocation);
  AddSeedCommand(app, invocation);
  AddDemoCommand(app, invocation);
  AddRunCommand(app, invocation);
  AddReadCommand(app, invocation);
  AddStatusCommand(app, invocation);
  AddPartitionsCommand(app, invocation);
  AddRebuildCommand(app, invocation);
  AddDeadLettersCommand(app, invocation);
  AddVersionsCommand(app, invocation);
  AddHealthcheckCommand(app, invocation);
  AddProjectionsCommand(app, invocation);
  AddWaitCommand(app, invocation);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (!invocation.action) {
    std::cout << app.help();
    return kExitUsage;
  }
  invocation.loaded = LoadConfig(invocation.env, invocation.flags, ReadWholeFile);
  if (!invocation.loaded.ok()) {
    for (const auto& p : invocation.loaded.problems) std::cerr << "projd: " << p.message << "\n";
    std::cerr << "projd: invalid configuration (see docs/configuration.md)\n";
    return kExitUsage;
  }
  for (const auto& w : invocation.loaded.warnings) std::cerr << "projd: warning: " << w << "\n";
  // The last text to leave the process: masked again, with the password we know.
  const std::string url = invocation.loaded.config.database_url;
  auto masked = [&url](const std::exception& e) { return MaskSecrets(e.what(), url); };
  try {
    return invocation.action();
  } catch (const UsageError& e) {
    std::cerr << "projd: " << masked(e) << "\n";
    return kExitUsage;
  } catch (const TransientError& e) {
    std::cerr << "projd: database unavailable: " << masked(e) << "\n";
  } catch (const Error& e) {
    std::cerr << "projd: " << masked(e) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "projd: unexpected error: " << masked(e) << "\n";
  }
  return kExitFailure;
}

}  // namespace projd::cli
