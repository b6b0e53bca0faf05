// `projd status`: the replica set as the database sees it (no worker needed).
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cmd/cli.h"
#include "orchestrator/coordination/pg/replica_set_status.h"

namespace projd::cli {
namespace {

nlohmann::json ToJson(const pg::ReplicaSetStatus& s) {
  nlohmann::json members = nlohmann::json::array();
  for (const auto& m : s.members) {
    members.push_back({{"worker_id", m.worker_id}, {"worker_name", m.worker_name},
                       {"heartbeat_age_ms", m.heartbeat_age_ms}, {"acked_generation", m.acked_generation},
                       {"partitions", m.partitions}});
  }
  nlohmann::json projections = nlohmann::json::array();
  for (const auto& p : s.projections) {
    projections.push_back({{"name", p.name}, {"partitions", p.partitions}, {"min_position", p.min_position},
                           {"max_position", p.max_position}, {"lag_events", p.lag_events}});
  }
  return {{"replica_set", s.replica_set}, {"exists", s.exists}, {"generation", s.generation},
          {"partitions", s.partitions}, {"generation_age_ms", s.generation_age_ms},
          {"latest_position", s.latest_position}, {"members", members}, {"unassigned_partitions", s.unassigned},
          {"projections", projections}};
}

void PrintText(const pg::ReplicaSetStatus& s) {
  if (!s.exists) {
    std::printf("replica set %s: not registered yet (no worker has started)\n", s.replica_set.c_str());
    return;
  }
  std::printf("replica set %s: generation %lld (formed %.1f s ago), %d partitions, latest event %lld\n",
              s.replica_set.c_str(), static_cast<long long>(s.generation), s.generation_age_ms / 1000.0, s.partitions,
              static_cast<long long>(s.latest_position));
  std::printf("\n%-24s %-38s %12s %10s %6s\n", "MEMBER", "WORKER ID", "HEARTBEAT", "ACKED GEN", "OWNS");
  for (const auto& m : s.members) {
    std::printf("%-24s %-38s %10.1f s %10lld %6d\n", m.worker_name.c_str(), m.worker_id.c_str(),
                m.heartbeat_age_ms / 1000.0, static_cast<long long>(m.acked_generation), m.partitions);
  }
  std::printf("unassigned partitions: %zu\n", s.unassigned.size());
  std::printf("\n%-24s %10s %14s %14s %12s\n", "PROJECTION", "PARTITIONS", "MIN CHECKPOINT", "MAX CHECKPOINT",
              "LAG (EVENTS)");
  for (const auto& p : s.projections) {
    std::printf("%-24s %10d %14lld %14lld %12lld\n", p.name.c_str(), p.partitions,
                static_cast<long long>(p.min_position), static_cast<long long>(p.max_position),
                static_cast<long long>(p.lag_events));
  }
}

}  // namespace

void AddStatusCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("status", "show the replica set: generation, members, partitions, checkpoints");
  AddConfigFlags(*cmd, invocation);
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "print JSON instead of a table");
  cmd->callback([&invocation, json] {
    invocation.action = [&invocation, json] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      const auto s = pg::ReadReplicaSetStatus({c.database_url, c.database_schema, "projd-status"}, c.replica_set);
      if (*json) {
        std::cout << ToJson(s).dump(2) << "\n";
      } else {
        PrintText(s);
      }
      return kExitOk;
    };
  });
}

}  // namespace projd::cli
