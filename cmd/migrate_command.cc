// `projd migrate`: apply pending schema migrations.
#include <iostream>
#include <memory>

#include "cmd/cli.h"
#include "orchestrator/pg/connection.h"
#include "orchestrator/pg/migrator.h"
#include "orchestrator/reading/pg/partition_index.h"

namespace projd::cli {

void AddMigrateCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("migrate", "apply pending schema migrations (idempotent)");
  AddConfigFlags(*cmd, invocation);
  auto dry_run = std::make_shared<bool>(false);
  cmd->add_flag("--dry-run", *dry_run,
                 "list pending migrations and the partition indexes to create or drop, changing nothing");
  cmd->callback([&invocation, dry_run] {
    invocation.action = [&invocation, dry_run] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      const pg::ConnectionOptions options{c.database_url, c.database_schema, "projd-migrate"};
      pg::Migrator migrator(options);
      if (*dry_run) {
        for (const auto& name : migrator.Pending()) std::cout << "pending " << name << "\n";
        auto conn = pg::Connect(options);
        const auto changes = pg::PlanPartitionIndexes(*conn, c.partitions);
        for (const int p : changes.create) std::cout << "would create index " << pg::PartitionIndexName(p) << "\n";
        for (const int p : changes.drop) std::cout << "would drop index " << pg::PartitionIndexName(p) << " (unused)\n";
        return kExitOk;
      }
      const auto result = migrator.Migrate();
      for (const auto& name : result.applied) std::cout << "applied " << name << "\n";
      std::cout << "schema " << c.database_schema << " is up to date (" << result.applied.size()
                << " applied, " << result.already_applied << " already applied)\n";
      // The per-partition index of every partition count in use (reading.md, "Reads that
      // scale with the workers"): concurrently, after the schema is in place; then the
      // indexes of counts nothing uses any more. One sequence under the builder lock, so a
      // concurrent split is seen before or after its switch, never in between.
      auto conn = pg::Connect(options);
      const auto print = [](const std::string& line) { std::cout << line << std::endl; };
      pg::PartitionIndexLock lock(*conn, print);
      for (const int partitions : pg::PartitionCountsInUse(*conn, c.partitions)) {
        pg::EnsurePartitionIndex(*conn, options, partitions, print);
      }
      pg::RetireUnusedPartitionIndexes(*conn, c.partitions, print);
      return kExitOk;
    };
  });
}

}  // namespace projd::cli
