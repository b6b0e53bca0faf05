// `projd status [NAME] [--json] [--watch [INTERVAL]]`: the replica set as the database sees
// it (no worker needed): the summary, then one row per projection and partition
// (docs/operations.md, "Reading `projd status`").
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <thread>
#include <iostream>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "cmd/cli.h"
#include "cmd/status_watch.h"
#include "orchestrator/config/duration.h"
#include "orchestrator/coordination/pg/partition_status_reader.h"
#include "orchestrator/coordination/pg/replica_set_status.h"
#include "orchestrator/coordination/status_text.h"
#include "orchestrator/versions/lane_key.h"
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

// printf into `out` (lines of the text output, built whole so --watch draws a frame at once).
void Appendf(std::string& out, const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  if (n > 0) out.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
}

std::string VersionsText(const std::vector<VersionLine>& versions) {
  std::string out;
  if (versions.empty()) return out;
  Appendf(out, "\n%-24s %7s %-9s %-28s %14s %10s %12s\n", "PROJECTION", "VERSION", "STATE", "SCHEMA", "MIN CHECKPOINT",
          "BEHIND", "CATCH-UP");
  for (const auto& l : versions) {
    const auto& v = l.version;
    std::string eta = "-";
    if (l.catch_up_seconds) eta = std::to_string(static_cast<long long>(*l.catch_up_seconds + 0.5)) + " s";
    else if (v.state == VersionState::kBuilding) eta = "unknown";
    Appendf(out, "%-24s %7d %-9s %-28s %14lld %10d %12s\n", v.projection.c_str(), v.version, ToString(v.state),
            v.schema.empty() ? "(in place)" : v.schema.c_str(), static_cast<long long>(v.min_position),
            v.partitions_behind, eta.c_str());
  }
  return out;
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

std::string SummaryText(const pg::ReplicaSetStatus& s) {
  std::string out;
  if (!s.exists) {
    Appendf(out, "replica set %s: not registered yet (no worker has started)\n", s.replica_set.c_str());
    return out;
  }
  Appendf(out, "replica set %s: generation %lld (formed %.1f s ago), %d partitions, latest event %lld\n",
          s.replica_set.c_str(), static_cast<long long>(s.generation), s.generation_age_ms / 1000.0, s.partitions,
          static_cast<long long>(s.latest_position));
  Appendf(out, "\n%-24s %-38s %12s %10s %6s\n", "MEMBER", "WORKER ID", "HEARTBEAT", "ACKED GEN", "OWNS");
  for (const auto& m : s.members) {
    Appendf(out, "%-24s %-38s %10.1f s %10lld %6d\n", m.worker_name.c_str(), m.worker_id.c_str(),
            m.heartbeat_age_ms / 1000.0, static_cast<long long>(m.acked_generation), m.partitions);
  }
  Appendf(out, "unassigned partitions: %zu\n", s.unassigned.size());
  Appendf(out, "\n%-24s %10s %14s %14s %12s\n", "PROJECTION", "PARTITIONS", "MIN CHECKPOINT", "MAX CHECKPOINT",
          "LAG (EVENTS)");
  for (const auto& p : s.projections) {
    Appendf(out, "%-24s %10d %14lld %14lld %12lld\n", p.name.c_str(), p.partitions,
            static_cast<long long>(p.min_position), static_cast<long long>(p.max_position),
            static_cast<long long>(p.lag_events));
  }
  return out;
}

nlohmann::json PartitionsJson(const std::vector<PartitionStatus>& rows) {
  nlohmann::json out = nlohmann::json::array();
  auto optional = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  for (const auto& r : rows) {
    nlohmann::json pause;
    if (r.pause) {
      pause = {{"scope", r.pause->whole_projection ? "projection" : "partition"}, {"paused_by", r.pause->paused_by},
               {"reason", r.pause->reason}, {"age_seconds", r.pause->age_seconds}};
    }
    nlohmann::json report;
    if (r.report) {
      report = {{"current", r.report_current}, {"worker_id", r.report->worker_id},
                {"worker_name", r.report->worker_name}, {"state", r.report->state},
                {"last_error", r.report->last_error}, {"error_age_seconds", optional(r.report->error_age_seconds)},
                {"age_seconds", r.report->age_seconds}};
    }
    out.push_back({{"projection", r.projection}, {"partition", r.partition}, {"position", r.position},
                   {"lag_events", r.lag_events}, {"lag_seconds", r.lag_seconds}, {"state", r.state},
                   {"state_source", ToString(r.source)}, {"owner", r.owner}, {"owner_id", r.owner_id},
                   {"last_error", r.last_error}, {"error_age_seconds", optional(r.error_age_seconds)},
                   {"pause", pause}, {"report", report}});
  }
  return out;
}

// What one `projd status` shows, read in full before anything is printed.
struct Snapshot {
  pg::ReplicaSetStatus summary;
  std::vector<VersionLine> versions;
  std::vector<PartitionStatus> partitions;
};

// `projection` ("" = all) narrows the projection lists; members stay.
Snapshot ReadSnapshot(const pg::ConnectionOptions& db, const std::string& replica_set, const std::string& projection) {
  Snapshot snap{pg::ReadReplicaSetStatus(db, replica_set), {}, {}};
  pg::PgVersionStore store(db);
  snap.versions = ReadVersions(store, replica_set);
  snap.partitions = pg::ReadPartitionStatus(db, replica_set, projection);
  if (!projection.empty()) {
    std::erase_if(snap.summary.projections,
                  [&](const auto& p) { return ParseLaneKey(p.name).projection != projection; });
    std::erase_if(snap.versions, [&](const auto& l) { return l.version.projection != projection; });
  }
  return snap;
}

nlohmann::json SnapshotJson(const Snapshot& snap, const std::string& projection) {
  auto out = ToJson(snap.summary);
  out["projection_versions"] = VersionsJson(snap.versions);
  out["projection_partitions"] = PartitionsJson(snap.partitions);
  out["selected_projection"] = projection.empty() ? nlohmann::json() : nlohmann::json(projection);
  return out;
}

std::string SnapshotText(const Snapshot& snap, const std::string& projection) {
  auto out = SummaryText(snap.summary) + VersionsText(snap.versions);
  if (snap.summary.exists) out += "\n" + FormatPartitionTable(snap.partitions, projection);
  return out;
}

// The projection given as NAME or --projection NAME ("" = all); both must agree.
std::string SelectedProjection(const std::string& positional, const std::string& flag) {
  if (!positional.empty() && !flag.empty() && positional != flag) {
    throw UsageError("projection given twice: " + positional + " and --projection " + flag);
  }
  return positional.empty() ? flag : positional;
}

// --watch's value ("" = the default, 2s): a positive Go duration of at most 24h.
std::chrono::milliseconds WatchInterval(const std::string& text) {
  if (text.empty()) return std::chrono::seconds(2);
  const auto d = ParseDuration(text);
  if (!d) throw UsageError("--watch " + text + ": not a duration (e.g. 2s, 500ms, 1m)");
  if (*d < std::chrono::milliseconds(100)) throw UsageError("--watch " + text + ": must be at least 100ms");
  if (*d > std::chrono::hours(24)) throw UsageError("--watch " + text + ": must be at most 24h");
  return *d;
}

// The flags of `projd status`.
struct StatusFlags {
  bool json = false;
  std::string projection_arg;
  std::string projection_flag;
  std::string watch_text;
  CLI::Option* watch = nullptr;
};

int RunStatus(Invocation& invocation, const StatusFlags& flags) {
  const auto projection = SelectedProjection(flags.projection_arg, flags.projection_flag);
  const bool watch = flags.watch->count() > 0;
  const auto interval = watch ? WatchInterval(flags.watch_text) : std::chrono::milliseconds(0);
  RequireDatabaseUrl(invocation);
  const Config& c = invocation.loaded.config;
  const pg::ConnectionOptions db{c.database_url, c.database_schema, "projd-status"};
  if (!watch) {
    const auto snap = ReadSnapshot(db, c.replica_set, projection);
    std::cout << (flags.json ? SnapshotJson(snap, projection).dump(2) + "\n" : SnapshotText(snap, projection));
    return kExitOk;
  }
  const WatchSettings settings{c.replica_set, interval, flags.json, c.database_url};
  return RunStatusWatch(settings, [&] {
    const auto snap = ReadSnapshot(db, c.replica_set, projection);
    return flags.json ? SnapshotJson(snap, projection).dump() : SnapshotText(snap, projection);
  });
}

}  // namespace

void AddStatusCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("status", "show the replica set: generation, members, checkpoints, lag and state per partition");
  AddConfigFlags(*cmd, invocation);
  auto flags = std::make_shared<StatusFlags>();
  cmd->add_option("projection", flags->projection_arg, "show only this projection (and its versions)");
  cmd->add_option("--projection", flags->projection_flag, "show only this projection (and its versions)");
  cmd->add_flag("--json", flags->json, "print JSON instead of a table");
  flags->watch = cmd->add_option("--watch", flags->watch_text,
                                 "redraw every INTERVAL (default 2s) until SIGINT or SIGTERM")
                     ->expected(0, 1)
                     ->type_name("[INTERVAL]");
  cmd->callback([&invocation, flags] {
    invocation.action = [&invocation, flags] { return RunStatus(invocation, *flags); };
  });
}

}  // namespace projd::cli
