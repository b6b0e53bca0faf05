// `projd status`: the replica set as the database sees it (no worker needed).
#include <chrono>
#include <cstdio>
#include <thread>
#include <iostream>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "cmd/cli.h"
#include "orchestrator/coordination/pg/replica_set_status.h"
#include "orchestrator/versions/pg/pg_version_store.h"
#include "orchestrator/versions/version_rules.h"

namespace projd::cli {
namespace {

// One version with its catch-up estimate (building and ready versions).
struct VersionLine {
  ProjectionVersion version;
  double positions_per_second = 0;
  std::optional<double> catch_up_seconds;
};

// The versions of the replica set. While one is building, its progress is sampled over a
// second to estimate the time it needs to catch up.
std::vector<VersionLine> ReadVersions(pg::PgVersionStore& store, const std::string& replica_set) {
  auto first = store.List(replica_set);
  const bool building = std::any_of(first.begin(), first.end(), [](const auto& v) {
    return v.state == VersionState::kBuilding || v.state == VersionState::kReady;
  });
  ProgressRates rates;
  auto observe = [&](const std::vector<ProjectionVersion>& versions) {
    const auto now = std::chrono::steady_clock::now();
    for (const auto& v : versions) rates.Observe(LaneKey(v.projection, v.version), v.min_position, now);
  };
  observe(first);
  if (building) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    first = store.List(replica_set);
    observe(first);
  }
  std::vector<VersionLine> out;
  for (const auto& v : first) {
    VersionLine line{v, rates.PerSecond(LaneKey(v.projection, v.version)), std::nullopt};
    if (v.state == VersionState::kBuilding || v.state == VersionState::kReady) {
      line.catch_up_seconds = CatchUpEstimate(v, line.positions_per_second);
    }
    out.push_back(std::move(line));
  }
  return out;
}

nlohmann::json VersionsJson(const std::vector<VersionLine>& versions) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : versions) {
    const auto& v = l.version;
    out.push_back({{"projection", v.projection}, {"version", v.version}, {"state", ToString(v.state)},
                   {"schema", v.schema}, {"min_position", v.min_position}, {"partitions_behind", v.partitions_behind},
                   {"max_behind", v.max_behind}, {"positions_per_second", l.positions_per_second},
                   {"catch_up_seconds", l.catch_up_seconds ? nlohmann::json(*l.catch_up_seconds) : nlohmann::json()}});
  }
  return out;
}

void PrintVersions(const std::vector<VersionLine>& versions) {
  if (versions.empty()) return;
  std::printf("\n%-24s %7s %-9s %-28s %14s %10s %12s\n", "PROJECTION", "VERSION", "STATE", "SCHEMA", "MIN CHECKPOINT",
              "BEHIND", "CATCH-UP");
  for (const auto& l : versions) {
    const auto& v = l.version;
    std::string eta = "-";
    if (l.catch_up_seconds) eta = std::to_string(static_cast<long long>(*l.catch_up_seconds + 0.5)) + " s";
    else if (v.state == VersionState::kBuilding) eta = "unknown";
    std::printf("%-24s %7d %-9s %-28s %14lld %10d %12s\n", v.projection.c_str(), v.version, ToString(v.state),
                v.schema.empty() ? "(in place)" : v.schema.c_str(), static_cast<long long>(v.min_position),
                v.partitions_behind, eta.c_str());
  }
}

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
      const pg::ConnectionOptions db{c.database_url, c.database_schema, "projd-status"};
      const auto s = pg::ReadReplicaSetStatus(db, c.replica_set);
      pg::PgVersionStore store(db);
      const auto versions = ReadVersions(store, c.replica_set);
      if (*json) {
        auto out = ToJson(s);
        out["projection_versions"] = VersionsJson(versions);
        std::cout << out.dump(2) << "\n";
      } else {
        PrintText(s);
        PrintVersions(versions);
      }
      return kExitOk;
    };
  });
}

}  // namespace projd::cli
