// `projd dead-letters list|replay`: work off the events a `skip` projection set aside.
#include <cstdio>
#include <iostream>
#include <memory>

#include "cmd/cli.h"
#include "orchestrator/pg/pg_dead_letter_store.h"
#include "projections/projection_sink.h"
#include "projections/registry.h"

namespace projd::cli {

void AddDeadLettersCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("dead-letters", "list or replay the events a projection set aside");
  cmd->require_subcommand(1);
  auto projection = std::make_shared<std::string>();
  auto aggregate = std::make_shared<std::string>();

  auto* list = cmd->add_subcommand("list", "list dead letters not replayed yet (poison and parked events)");
  AddConfigFlags(*list, invocation);
  list->add_option("--projection", *projection, "only this projection");
  list->callback([&invocation, projection] {
    invocation.action = [&invocation, projection] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      pg::PgDeadLetterStore store({c.database_url, c.database_schema, "projd-dead-letters"});
      const auto rows = store.List(c.replica_set, *projection);
      std::printf("%-20s %10s %-24s %-20s %-7s %s\n", "PROJECTION", "POSITION", "AGGREGATE", "EVENT TYPE", "PARKED",
                  "ERROR");
      for (const auto& r : rows) {
        std::printf("%-20s %10lld %-24s %-20s %-7s %s\n", r.projection.c_str(),
                    static_cast<long long>(r.global_position), r.aggregate_id.c_str(), r.event_type.c_str(),
                    r.parked ? "yes" : "no", r.error.c_str());
      }
      std::printf("%zu dead letters\n", rows.size());
      return kExitOk;
    };
  });

  auto* replay = cmd->add_subcommand(
      "replay", "hand one aggregate's dead letters to the projection again, in order, in one transaction");
  AddConfigFlags(*replay, invocation);
  replay->add_option("--projection", *projection, "the projection")->required();
  replay->add_option("--aggregate", *aggregate, "the aggregate id")->required();
  replay->callback([&invocation, projection, aggregate] {
    invocation.action = [&invocation, projection, aggregate] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      std::vector<std::unique_ptr<Projection>> created;
      try {
        created = ProjectionRegistry::Linked().Create({*projection});
      } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
      }
      const pg::ConnectionOptions db{c.database_url, c.database_schema, "projd-dead-letters"};
      ProjectionSink sink(std::move(created.front()), db);
      pg::PgDeadLetterStore store(db);
      const int n = store.Replay(c.replica_set, *projection, *aggregate, [&](std::span<const Event> events, pqxx::work& tx) {
        if (auto* t = dynamic_cast<TransactionalProjection*>(&sink.projection())) {
          t->Handle(events, tx);
        } else {
          sink.Handle(events, true);
        }
      });
      std::cout << "replayed " << n << " dead letters of aggregate " << *aggregate << " into " << *projection
                << "; workers stop parking it within POLL_INTERVAL\n";
      return kExitOk;
    };
  });
}

}  // namespace projd::cli
