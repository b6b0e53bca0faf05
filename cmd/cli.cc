#include "cmd/cli.h"

#include <iostream>

#include "orchestrator/errors.h"
#include "orchestrator/version.h"

namespace projd::cli {

Logger MakeLogger(const Invocation& invocation, const std::string& name) {
  const Config& c = invocation.loaded.config;
  return Logger(name, c.log_level, c.log_format);
}

void RequireDatabaseUrl(const Invocation& invocation) {
  if (invocation.loaded.config.database_url.empty()) {
    throw UsageError(
        "DATABASE_URL is not set: give the database as DATABASE_URL=postgresql://user:pass@host:5432/db "
        "or --database-url");
  }
}

int Main(int argc, char** argv, const SettingMap& env) {
  Invocation invocation;
  invocation.env = env;
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
  AddHealthcheckCommand(app, invocation);

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
  invocation.loaded = LoadConfig(invocation.env, invocation.flags);
  if (!invocation.loaded.ok()) {
    for (const auto& p : invocation.loaded.problems) std::cerr << "projd: " << p.message << "\n";
    std::cerr << "projd: invalid configuration (see docs/configuration.md)\n";
    return kExitUsage;
  }
  for (const auto& w : invocation.loaded.warnings) std::cerr << "projd: warning: " << w << "\n";
  try {
    return invocation.action();
  } catch (const UsageError& e) {
    std::cerr << "projd: " << e.what() << "\n";
    return kExitUsage;
  } catch (const TransientError& e) {
    std::cerr << "projd: database unavailable: " << e.what() << "\n";
  } catch (const Error& e) {
    std::cerr << "projd: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "projd: unexpected error: " << e.what() << "\n";
  }
  return kExitFailure;
}

}  // namespace projd::cli
