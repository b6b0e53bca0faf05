// `projd partitions split`: double the replica set's partition count online.
#include <algorithm>
#include <iostream>

#include "cmd/cli.h"
#include "orchestrator/pg/connection.h"
#include "orchestrator/reading/pg/partition_index.h"
#include "orchestrator/coordination/pg/pg_coordination_store.h"

namespace projd::cli {
namespace {

// Run with the workers' configuration, PARTITIONS is still the old count and keeps its
// index in use: say what retires it, so the operator is not left paying for it unknowingly.
void TellWhenOldIndexIsKept(pqxx::connection& conn, int configured, int old_partitions) {
  if (configured != old_partitions) return;
  const auto unused = pg::PlanPartitionIndexes(conn, old_partitions * 2).drop;
  if (std::find(unused.begin(), unused.end(), old_partitions) == unused.end()) return;
  std::cout << "index " << pg::PartitionIndexName(old_partitions) << " is kept while PARTITIONS is " << old_partitions
            << "; with PARTITIONS=" << old_partitions * 2 << " the next `projd migrate` drops it" << std::endl;
}

}  // namespace

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
      // The reads of 2P depend on its index: built before the split switches over. The index
      // of P is dropped after it when nothing uses P any more. One sequence under the builder
      // lock: a concurrent `projd migrate` never sees the index of 2P before the set uses it.
      const pg::ConnectionOptions options{c.database_url, c.database_schema, "projd-partitions"};
      auto conn = pg::Connect(options);
      const auto print = [](const std::string& line) { std::cout << line << std::endl; };
      pg::PartitionIndexLock lock(*conn, print);
      pg::EnsurePartitionIndex(*conn, options, before.partitions * 2, print);
      const auto generation = store.SplitPartitions(c.replica_set);
      std::cout << "replica set " << c.replica_set << ": " << before.partitions << " -> " << before.partitions * 2
                << " partitions as generation " << generation
                << "; every checkpoint was copied, running workers restart their partitions" << std::endl;
      pg::RetireUnusedPartitionIndexes(*conn, c.partitions, print);
      TellWhenOldIndexIsKept(*conn, c.partitions, before.partitions);
      return kExitOk;
    };
  });
}

}  // namespace projd::cli
