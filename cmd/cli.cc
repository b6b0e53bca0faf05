#include "cmd/cli.h"

#include <iostream>

#include "orchestrator/errors.h"
#include "orchestrator/version.h"

namespace projd::cli {

void AddConfigFlags(CLI::App& cmd, Invocation& invocation) {
  struct FlagSpec {
    const char* flag;
    const char* variable;
    const char* help;
  };
  static constexpr FlagSpec kFlags[] = {
      {"--database-url", "DATABASE_URL", "PostgreSQL connection URL"},
      {"--database-schema", "DATABASE_SCHEMA", "schema holding projd's tables (default public)"},
      {"--replica-set", "REPLICA_SET", "replica-set name (default \"default\")"},
  };
  for (const auto& f : kFlags) {
    const std::string variable = f.variable;
    cmd.add_option_function<std::string>(
        f.flag, [&invocation, variable](const std::string& v) { invocation.flags[variable] = v; },
        std::string(f.help) + " [env " + variable + "]");
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
    return kExitUsage;
  }
  try {
    return invocation.action();
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
