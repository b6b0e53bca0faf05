// `projd migrate`: apply pending schema migrations.
#include <iostream>
#include <memory>

#include "cmd/cli.h"
#include "orchestrator/pg/connection.h"
#include "orchestrator/pg/migrator.h"
#include "orchestrator/pg/partition_index.h"

namespace projd::cli {

void AddMigrateCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("migrate", "apply pending schema migrations (idempotent)");
  AddConfigFlags(*cmd, invocation);
  auto dry_run = std::make_shared<bool>(false);
  cmd->add_flag("--dry-run", *dry_run, "list pending migrations without applying them");
  cmd->callback([&invocation, dry_run] {
    invocation.action = [&invocation, dry_run] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      pg::Migrator migrator({c.database_url, c.database_schema, "projd-migrate"});
      if (*dry_run) {
        for (const auto& name : migrator.Pending()) std::cout << "pending " << name << "\n";
        return kExitOk;
      }
      const auto result = migrator.Migrate();
      for (const auto& name : result.applied) std::cout << "applied " << name << "\n";
      std::cout << "schema " << c.database_schema << " is up to date (" << result.applied.size()
                << " applied, " << result.already_applied << " already applied)\n";
      // The per-partition index of every partition count in use (reading.md, "Reads that
      // scale with the workers"): concurrently, after the schema is in place.
      auto conn = pg::Connect({c.database_url, c.database_schema, "projd-migrate"});
      for (const int partitions : pg::PartitionCountsInUse(*conn, c.partitions)) {
        pg::EnsurePartitionIndex(*conn, partitions, [](const std::string& line) { std::cout << line << "\n"; });
      }
      return kExitOk;
    };
  });
}

}  // namespace projd::cli
