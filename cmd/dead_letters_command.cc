// `projd dead-letters list|replay`: work off the events a `skip` projection set aside.
#include <cstdio>
#include <iostream>
#include <memory>

#include "cmd/cli.h"
#include "orchestrator/persistence/pg/pg_dead_letter_store.h"
#include "orchestrator/versions/lane_key.h"
#include "orchestrator/versions/pg/pg_version_store.h"
#include "projections/projection_sink.h"
#include <projd/registry.h>

namespace projd::cli {
namespace {

// An empty part (a dead letter from before migration 0006 whose event is gone) shows as ''
// so the columns stay aligned and the value is what a shell takes.
const char* Shown(const std::string& part) { return part.empty() ? "''" : part.c_str(); }

// The one stream the flags name. Missing --bounded-context/--aggregate-type are filled in
// from the projection's dead letters, which keeps `--aggregate ID` working as before
// while refusing (exit 2) to guess when the id names several streams.
StreamId ResolveStream(pg::PgDeadLetterStore& store, const std::string& replica_set, const std::string& projection,
                       const pg::StreamQuery& query) {
  const auto found = store.FindStreams(replica_set, projection, query);
  if (found.size() == 1) return found.front();
  if (found.empty()) {
    // Nothing to replay; the stream as far as it was named (replaying it replays 0 rows).
    return {query.bounded_context.value_or(""), query.aggregate_type.value_or(""), query.aggregate_id};
  }
  std::string names;
  for (const auto& s : found) {
    names += "\n  --bounded-context '" + s.bounded_context + "' --aggregate-type '" + s.aggregate_type + "'";
  }
  throw UsageError("aggregate id " + query.aggregate_id + " names " + std::to_string(found.size()) +
                   " streams with dead letters of " + projection + "; add one of:" + names);
}

}  // namespace

void AddDeadLettersCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("dead-letters", "list or replay the events a projection set aside");
  cmd->require_subcommand(1);
  auto projection = std::make_shared<std::string>();
  auto stream = std::make_shared<pg::StreamQuery>();

  auto* list = cmd->add_subcommand("list", "list dead letters not replayed yet (poison and parked events)");
  AddConfigFlags(*list, invocation);
  list->add_option("--projection", *projection, "only this projection");
  list->callback([&invocation, projection] {
    invocation.action = [&invocation, projection] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      pg::PgDeadLetterStore store({c.database_url, c.database_schema, "projd-dead-letters"});
      const auto rows = store.List(c.replica_set, *projection);
      std::printf("%-20s %10s %-16s %-16s %-24s %-20s %-7s %s\n", "PROJECTION", "POSITION", "BOUNDED CONTEXT",
                  "AGGREGATE TYPE", "AGGREGATE ID", "EVENT TYPE", "PARKED", "ERROR");
      for (const auto& r : rows) {
        std::printf("%-20s %10lld %-16s %-16s %-24s %-20s %-7s %s\n", r.projection.c_str(),
                    static_cast<long long>(r.global_position), Shown(r.stream.bounded_context),
                    Shown(r.stream.aggregate_type), Shown(r.stream.aggregate_id), r.event_type.c_str(),
                    r.parked ? "yes" : "no", r.error.c_str());
      }
      std::printf("%zu dead letters\n", rows.size());
      return kExitOk;
    };
  });

  auto* replay = cmd->add_subcommand(
      "replay", "hand one stream's dead letters to the projection again, in order, in one transaction");
  AddConfigFlags(*replay, invocation);
  replay->add_option("--projection", *projection, "the projection")->required();
  replay->add_option("--aggregate-id,--aggregate", stream->aggregate_id, "the stream's aggregate id")->required();
  replay->add_option("--aggregate-type", stream->aggregate_type,
                     "the stream's aggregate type (may be left out while the id names one stream)");
  replay->add_option("--bounded-context", stream->bounded_context,
                     "the stream's bounded context (may be left out while the id names one stream)");
  replay->callback([&invocation, projection, stream] {
    invocation.action = [&invocation, projection, stream] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      std::vector<std::unique_ptr<Projection>> created;
      try {
        created = invocation.registry->Create({*projection});
      } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
      }
      if (created.size() > 1) {
        throw UsageError("this binary has " + std::to_string(created.size()) + " versions of " + *projection +
                         ": name one, as " + *projection + "@N");
      }
      pg::ConnectionOptions db{c.database_url, c.database_schema, "projd-dead-letters"};
      pg::PgDeadLetterStore store(db);
      const auto lane = LaneKey(created.front()->Name(), created.front()->Version());
      db.read_model_schema =
          pg::ReadModelSchemaOf(db, c.replica_set, created.front()->Name(), created.front()->Version());
      ProjectionSink sink(std::move(created.front()), db);
      const StreamId target = ResolveStream(store, c.replica_set, lane, *stream);
      const int n = store.Replay(c.replica_set, lane, target, [&](std::span<const Event> events,
                                                                    pqxx::work& tx) {
        if (auto* t = dynamic_cast<TransactionalProjection*>(&sink.projection())) {
          SearchReadModelFirst(tx, db.read_model_schema, c.database_schema);
          Transaction handle(tx);
          t->Handle(events, handle);
        } else {
          sink.Handle(events, true);
        }
      });
      std::cout << "replayed " << n << " dead letters of stream " << ToString(target) << " into " << lane
                << "; workers stop parking it within POLL_INTERVAL\n";
      return kExitOk;
    };
  });
}

}  // namespace projd::cli
