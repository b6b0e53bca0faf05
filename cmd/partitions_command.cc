// `projd partitions split`: double the replica set's partition count online.
#include <iostream>

#include "cmd/cli.h"
#include "orchestrator/pg/connection.h"
#include "orchestrator/pg/partition_index.h"
#include "orchestrator/pg/pg_coordination_store.h"

namespace projd::cli {

void AddPartitionsCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("partitions", "manage the partitions of a replica set");
  cmd->require_subcommand(1);
  auto* split = cmd->add_subcommand(
      "split", "double PARTITIONS online: partition k becomes k and k+P, both keep k's checkpoint");
  AddConfigFlags(*split, invocation);
  split->callback([&invocation] {
    invocation.action = [&invocation] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      pg::PgCoordinationStore store({c.database_url, c.database_schema, "projd-partitions"});
      const auto before = store.ReadAssignment(c.replica_set);
      if (before.partitions == 0) throw UsageError("replica set '" + c.replica_set + "' does not exist yet");
      // The reads of 2P depend on its index: built before the split switches over.
      auto conn = pg::Connect({c.database_url, c.database_schema, "projd-partitions"});
      pg::EnsurePartitionIndex(*conn, before.partitions * 2, [](const std::string& line) { std::cout << line << "\n"; });
      const auto generation = store.SplitPartitions(c.replica_set);
      std::cout << "replica set " << c.replica_set << ": " << before.partitions << " -> " << before.partitions * 2
                << " partitions as generation " << generation
                << "; every checkpoint was copied, running workers restart their partitions\n";
      return kExitOk;
    };
  });
}

}  // namespace projd::cli
