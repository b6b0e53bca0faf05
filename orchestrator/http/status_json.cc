#include "orchestrator/http/status_json.h"

#include <algorithm>

#include "orchestrator/common/version.h"
#include "orchestrator/versions/lane_key.h"

namespace projd::http {
namespace {

// Unknown is null in JSON, never 0.
template <typename T>
nlohmann::json OrNull(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// {"trigger/outcome": count} for the flushes counted so far, e.g. "interval/success".
nlohmann::json FlushesJson(const FlushCounts& counts) {
  auto out = nlohmann::json::object();
  for (const auto& e : counts.Entries()) out[ToString(e.trigger) + "/" + ToString(e.outcome)] = e.count;
  return out;
}

// The assignment this worker last read: each member with its partitions.
nlohmann::json MembersJson(const std::vector<AssignedMember>& members) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : members) out.push_back({{"id", m.worker_id}, {"name", m.worker_name}, {"partitions", m.partitions}});
  return out;
}

}  // namespace

nlohmann::json PersistenceStatsJson(const PersistenceStats& s) {
  return {
      {"total_requests", s.total_requests},
      {"successful_requests", s.successful_requests},
      {"failed_requests", s.failed_requests},
      {"circuit_breaker_trips", s.circuit_breaker_trips},
      {"circuit_breaker_state", s.circuit_breaker_state},
      {"circuit_breaker_failure_count", s.circuit_breaker_failure_count},
      {"pending_count", s.pending_count},
      {"average_response_time", s.average_response_time},
      {"max_response_time", s.max_response_time},
      {"min_response_time", s.min_response_time},
      {"last_success_time", s.last_success_time},
      {"last_failure_time", s.last_failure_time},
      {"last_persistence_time", s.last_persistence_time},
      {"last_error", s.last_error},
      {"uptime", s.uptime},
      {"coalesced", s.coalesced},
      {"unchanged", s.unchanged},
      {"rejected_full", s.rejected_full},
      {"rejected_stale", s.rejected_stale},
      {"rejected_circuit_open", s.rejected_circuit_open},
      {"fenced", s.fenced},
      {"capacity_warnings", s.capacity_warnings},
      {"units_committed", s.units_committed},
      {"units_fenced", s.units_fenced},
      {"oldest_pending_age", s.oldest_pending_age},
      {"flushes", FlushesJson(s.flushes)},
  };
}

// The replica set's projection versions as this worker last read them (null before).
nlohmann::json VersionsJson(const VersionsStatus& v) {
  if (!v.known) return nullptr;
  nlohmann::json versions = nlohmann::json::array();
  for (const auto& s : v.versions) {
    const auto& x = s.version;
    versions.push_back({
        {"projection", x.projection},
        {"version", x.version},
        {"state", ToString(x.state)},
        {"schema", x.schema},
        {"runs_here", s.runs_here},
        {"partitions", x.partitions_with_checkpoints},
        {"min_position", x.min_position},
        {"max_position", x.max_position},
        {"partitions_behind", x.partitions_behind},
        {"max_behind", x.max_behind},
        {"positions_per_second", s.positions_per_second},
        {"catch_up_seconds", OrNull(s.catch_up_seconds)},
        {"state_age_seconds", x.state_age_seconds},
    });
  }
  return {{"versions", versions}, {"switches", v.switches}, {"switch_attempts", v.switch_attempts},
          {"last_error", v.last_error}};
}

// The standbys of EVENTS_READ_URL (null without).
nlohmann::json StandbyReadsJson(const std::optional<StandbyReadFigures>& f) {
  if (!f) return nullptr;
  nlohmann::json standbys = nlohmann::json::array();
  for (const auto& s : f->standbys) {
    nlohmann::json replayed = nullptr, timeline = nullptr;
    if (s.facts) {
      replayed = s.facts->replayed.lsn;
      timeline = s.facts->replayed.timeline;
    }
    standbys.push_back({{"standby", s.name},
                        {"condition", ConditionName(s.condition)},
                        {"replayed_lsn", replayed},
                        {"timeline", timeline},
                        {"lag_bytes", s.lag_bytes},
                        {"lag_seconds", std::chrono::duration<double>(s.lag).count()},
                        {"batches", s.batches},
                        {"read_errors", s.read_errors},
                        {"probe_errors", s.probe_errors},
                        {"condition_changes", s.condition_changes},
                        {"last_error", s.last_error}});
  }
  return {{"standbys", standbys}, {"primary_batches", f->primary_batches}, {"waits", f->waits}};
}

nlohmann::json ControlJson(const std::optional<OperatorControlStatus>& c) {
  if (!c) return nullptr;
  nlohmann::json pauses = nlohmann::json::array();
  for (const auto& p : c->pauses) {
    pauses.push_back({{"projection", p.projection},
                      {"partition", p.partition == kEveryPartition ? nlohmann::json("every") : nlohmann::json(p.partition)},
                      {"paused_by", p.paused_by},
                      {"reason", p.reason}});
  }
  return {{"pauses_known", c->pauses_known}, {"pauses", pauses}, {"errors", c->errors}, {"last_error", c->last_error}};
}

nlohmann::json StatusJson(const WorkerStatus& s) {
  const auto& c = s.coordination;
  nlohmann::json projections = nlohmann::json::array();
  for (const auto& r : s.runners) {
    nlohmann::json stopped = nlohmann::json::array();
    for (const auto& p : r.stopped) stopped.push_back({{"partition", p.partition}, {"position", p.position}, {"error", p.error}});
    const auto lane = ParseLaneKey(r.projection);
    projections.push_back({
        {"name", r.projection},
        {"projection", lane.projection},
        {"version", lane.version},
        {"state", ToString(r.state)},
        {"partitions", r.partitions},
        {"position", r.min_position},
        {"lag_events", OrNull(LagEvents(s, r))},
        {"lag_seconds", OrNull(LagSeconds(s, r))},
        {"events_processed", r.events_processed},
        {"batches", r.batches},
        {"errors", r.errors},
        {"database_errors", r.database_errors},
        {"fenced", r.fenced},
        {"dead_letters", r.dead_letters},
        {"parked_aggregates", r.parked_aggregates},
        {"replayed", r.replayed},
        {"read_plan", r.read_plan},
        {"stopped_partitions", stopped},
        {"owned_partitions", r.owned},
        {"paused", {{"every", r.paused.every}, {"partitions", r.paused.partitions}}},
        {"last_error", r.last_error},
        {"last_error_database", r.database_error},
    });
  }
  nlohmann::json mark = {
      {"position", s.high_water_mark_known ? nlohmann::json(s.high_water_mark) : nlohmann::json(nullptr)},
      {"open_gaps", s.mark.open_gaps},
      {"oldest_gap_age_ms", s.mark.oldest_gap_age.count()},
      {"held", s.mark.held},
      {"errors", s.mark.errors},
      {"stored_mark", s.mark.stored_mark},
      {"history_changes", s.mark.history_changes},
      {"barrier_raises", s.mark.barrier_raises},
  };
  if (s.mark.held_by) {
    const auto& h = *s.mark.held_by;
    mark["held_by"] = {{"pid", h.pid},           {"xid", h.xid},     {"xact_start", h.xact_start},
                       {"database", h.database}, {"state", h.state}, {"application_name", h.application_name},
                       {"wait_event", h.wait_event}};
  }
  nlohmann::json listeners = nlohmann::json::array();
  for (const auto& l : s.listeners) {
    listeners.push_back(
        {{"listener", l.listener}, {"listening", l.listening}, {"losses", l.losses}, {"last_error", l.last_error}});
  }
  const auto& k = c.counters;
  return {
      {"version", kVersion},
      {"worker", {{"id", s.worker_id}, {"name", s.worker_name}, {"replica_set", s.replica_set}, {"stopping", s.stopping}}},
      {"coordination",
       {{"registered", c.registered},
        {"healthy", c.healthy},
        {"self_fenced", c.self_fenced},
        {"generation", c.generation},
        {"acked_generation", c.acked_generation},
        {"partition_count", c.partition_count},
        {"owned_partitions", c.owned},
        {"waiting_partitions", c.waiting},
        {"releasing_partitions", c.releasing},
        {"live_members", c.live_members},
        {"members", MembersJson(c.assignment)},
        {"heartbeat_latency_ms", c.heartbeat_latency.count()},
        {"last_error", c.last_error},
        {"counters",
         {{"heartbeats", k.heartbeats},
          {"heartbeat_failures", k.heartbeat_failures},
          {"generations_formed", k.generations_formed},
          {"stale_workers_cleaned", k.stale_workers_cleaned},
          {"coordination_timeouts", k.coordination_timeouts},
          {"self_fenced", k.self_fenced},
          {"evicted", k.evicted},
          {"partitions_taken", k.partitions_taken},
          {"partitions_released", k.partitions_released},
          {"registrations", k.registrations},
          {"reconfigurations", k.reconfigurations}}}}},
      {"projections", projections},
      {"projection_versions", VersionsJson(s.versions)},
      {"high_water_mark", mark},
      {"standby_reads", StandbyReadsJson(s.standby_reads)},
      {"control", ControlJson(s.control)},
      {"listen", listeners},
      {"persistence", PersistenceStatsJson(s.persistence)},
      {"ready", ReadinessJson(CheckReadiness(s))},
  };
}

nlohmann::json ReadinessJson(const Readiness& r) {
  return {{"ready", r.ready}, {"reasons", r.reasons}, {"degraded", r.degraded}, {"paused", r.paused}};
}

}  // namespace projd::http
