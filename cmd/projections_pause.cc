// `projd projections pause|resume NAME [--partition N] [--reason TEXT]`: an operator's
// pause, kept in the database (projd_projection_pauses). Every worker of the replica set
// reads the pauses about once a second (at most once per heartbeat interval) and stops
// reading the paused partitions after the batch in flight; a restarted or newly joined
// worker reads them before its first batch.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "cmd/cli.h"
#include "orchestrator/control/pg/pg_control_store.h"
#include "orchestrator/versions/lane_key.h"

namespace projd::cli {
namespace {

struct PauseArgs {
  std::string projection;
  int partition = kEveryPartition;
  std::string reason;
};

// "user@host" of whoever runs the command, for the record.
std::string Operator() {
  const char* user = std::getenv("USER");
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(user ? user : "unknown") + "@" + host;
}

// A name the replica set knows, a partition it has: anything else exits 2 and changes nothing.
void Validate(pg::PgControlStore& store, const Invocation& invocation, const PauseArgs& args) {
  const auto& replica_set = invocation.loaded.config.replica_set;
  if (args.projection.find('@') != std::string::npos) {
    throw UsageError("a pause applies to every version of a projection: give the name without @N, as " +
                     ParseLaneKey(args.projection).projection);
  }
  const auto partitions = store.PartitionCount(replica_set);
  if (!partitions) throw UsageError("replica set '" + replica_set + "' does not exist yet (no worker has started)");
  if (args.partition != kEveryPartition && (args.partition < 0 || args.partition >= *partitions)) {
    throw UsageError("--partition " + std::to_string(args.partition) + " is not a partition of replica set '" +
                     replica_set + "' (0.." + std::to_string(*partitions - 1) + ")");
  }
  const auto linked = invocation.registry->Names();
  const bool in_binary = std::find(linked.begin(), linked.end(), args.projection) != linked.end();
  if (!in_binary && !store.ProjectionKnown(replica_set, args.projection)) {
    throw UsageError("projection '" + args.projection + "' is unknown in replica set '" + replica_set +
                     "' (no checkpoints, no versions, not in this binary)");
  }
}

std::string Where(const PauseArgs& args) {
  return args.partition == kEveryPartition ? "every partition" : "partition " + std::to_string(args.partition);
}

int Pause(const Invocation& invocation, const PauseArgs& args) {
  const Config& c = invocation.loaded.config;
  pg::PgControlStore store({c.database_url, c.database_schema, "projd-projections"});
  Validate(store, invocation, args);
  const auto change = store.PauseProjection(c.replica_set, {args.projection, args.partition, Operator(), args.reason});
  if (change == pg::PgControlStore::Change::kAlready) {
    std::cout << "projection " << args.projection << " is already paused on " << Where(args) << " in replica set "
              << c.replica_set << "\n";
  } else {
    std::cout << "projection " << args.projection << " paused on " << Where(args) << " in replica set " << c.replica_set
              << ": workers stop reading it after the batch in flight, within a second"
              << " (`projd projections resume " << args.projection << "` undoes it)\n";
  }
  return kExitOk;
}

int Resume(const Invocation& invocation, const PauseArgs& args) {
  const Config& c = invocation.loaded.config;
  pg::PgControlStore store({c.database_url, c.database_schema, "projd-projections"});
  Validate(store, invocation, args);
  const auto one = args.partition == kEveryPartition ? std::nullopt : std::optional<int>(args.partition);
  switch (store.ResumeProjection(c.replica_set, args.projection, one)) {
    case pg::PgControlStore::Change::kWholePause:
      throw UsageError("projection " + args.projection +
                       " is paused on every partition: resume it as a whole (without --partition)");
    case pg::PgControlStore::Change::kAlready:
      std::cout << "projection " << args.projection << " was not paused on " << Where(args) << "\n";
      return kExitOk;
    case pg::PgControlStore::Change::kDone:
      break;
  }
  std::cout << "projection " << args.projection << " resumed on " << Where(args) << " in replica set " << c.replica_set
            << ": workers read it again within a second\n";
  return kExitOk;
}

CLI::App* AddOne(CLI::App& group, Invocation& invocation, const std::string& name, const std::string& help,
                 int (*run)(const Invocation&, const PauseArgs&)) {
  auto* cmd = group.add_subcommand(name, help);
  AddConfigFlags(*cmd, invocation);
  auto args = std::make_shared<PauseArgs>();
  cmd->add_option("projection", args->projection, "the projection (every version of it)")->required();
  cmd->add_option("--partition", args->partition, "only this partition (default: every partition)");
  if (name == "pause") cmd->add_option("--reason", args->reason, "why, for the record (shown by projd status)");
  cmd->callback([&invocation, args, run] {
    invocation.action = [&invocation, args, run] {
      RequireDatabaseUrl(invocation);
      return run(invocation, *args);
    };
  });
  return cmd;
}

}  // namespace

void AddPauseCommands(CLI::App& projections, Invocation& invocation) {
  AddOne(projections, invocation, "pause",
         "stop every worker reading a projection (or one partition of it) until resumed; kept in the database",
         &Pause);
  AddOne(projections, invocation, "resume", "undo `projd projections pause`", &Resume);
}

}  // namespace projd::cli
