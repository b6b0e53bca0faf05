// `projd rebuild PROJECTION`: reset a projection and let the running workers replay it.
#include <iostream>
#include <memory>

#include "cmd/cli.h"
#include "orchestrator/coordination/pg/pg_coordination_store.h"
#include "orchestrator/versions/lane_key.h"
#include "orchestrator/versions/pg/pg_version_store.h"
#include "projections/projection_sink.h"
#include <projd/registry.h>

namespace projd::cli {
void AddRebuildCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand(
      "rebuild", "reset a projection (its reset hook, checkpoints to 0) and have running workers replay it");
  AddConfigFlags(*cmd, invocation);
  auto name = std::make_shared<std::string>();
  cmd->add_option("projection", *name, "the projection to rebuild (NAME@N: its version N)")->required();
  cmd->callback([&invocation, name] {
    invocation.action = [&invocation, name] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      std::vector<std::unique_ptr<Projection>> created;
      try {
        created = invocation.registry->Create({*name});
      } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
      }
      if (created.size() > 1) {
        throw UsageError("this binary has " + std::to_string(created.size()) + " versions of " + *name +
                         ": name one, as " + *name + "@N");
      }
      auto& projection = *created.front();
      const auto lane = LaneKey(projection.Name(), projection.Version());
      const pg::ConnectionOptions db{c.database_url, c.database_schema, "projd-rebuild"};
      const auto schema = pg::ReadModelSchemaOf(db, c.replica_set, projection.Name(), projection.Version());
      pg::PgCoordinationStore store(db);
      const auto result = store.RebuildProjection(c.replica_set, lane, [&](pqxx::work& tx) {
        // Setup and Reset run where the version's tables are, as in a worker.
        SearchReadModelFirst(tx, schema, c.database_schema);
        Transaction handle(tx);  // Reset cannot commit apart from the checkpoints' reset
        projection.Setup(handle);
        projection.Reset(handle);
      });
      std::cout << "projection " << lane << " reset: " << result.checkpoints << " checkpoints back to 0";
      if (result.generation > 0) {
        std::cout << " as generation " << result.generation << " of replica set " << c.replica_set
                  << "; running workers replay it from the start\n";
      } else {
        std::cout << "; replica set " << c.replica_set << " has no workers yet\n";
      }
      return kExitOk;
    };
  });
}

}  // namespace projd::cli
