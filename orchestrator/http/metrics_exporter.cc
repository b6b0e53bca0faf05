#include "orchestrator/http/metrics_exporter.h"

#include <algorithm>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "orchestrator/common/version.h"
#include "orchestrator/versions/lane_key.h"

namespace projd::http {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

class Families {
 public:
  void Counter(const std::string& name, const std::string& help, double value, Labels labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    Add(name, help, MetricType::Counter).metric.push_back(std::move(m));
  }
  void Gauge(const std::string& name, const std::string& help, double value, Labels labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    Add(name, help, MetricType::Gauge).metric.push_back(std::move(m));
  }
  void Histogram(const std::string& name, const std::string& help, const HistogramSnapshot& h, Labels labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = h.count;
    m.histogram.sample_sum = h.sum;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.buckets.size(); ++i) {
      cumulative += h.buckets[i];
      m.histogram.bucket.push_back({cumulative, HistogramSnapshot::kBounds[i]});
    }
    m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
    Add(name, help, MetricType::Histogram).metric.push_back(std::move(m));
  }
  // A family with no sample yet still gets its HELP/TYPE lines.
  void Declare(const std::string& name, const std::string& help, MetricType type) { Add(name, help, type); }

  std::string Text() const {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families_);
    return out.str();
  }

 private:
  MetricFamily& Add(const std::string& name, const std::string& help, MetricType type) {
    const auto full = "projd_" + name;
    for (auto& f : families_) {
      if (f.name == full) return f;
    }
    families_.push_back(MetricFamily{full, help, type, {}});
    return families_.back();
  }
  std::vector<MetricFamily> families_;
};

// The flushes counted so far, sorted by their labels (trigger, then outcome): the order of
// the series in the text stays stable and alphabetical.
std::vector<FlushCounts::Entry> FlushesInLabelOrder(const FlushCounts& counts) {
  auto entries = counts.Entries();
  std::sort(entries.begin(), entries.end(), [](const FlushCounts::Entry& a, const FlushCounts::Entry& b) {
    return std::pair(ToString(a.trigger), ToString(a.outcome)) < std::pair(ToString(b.trigger), ToString(b.outcome));
  });
  return entries;
}

std::string WorkerState(const WorkerStatus& s) {
  if (s.stopping) return "stopping";
  if (!s.coordination.registered) return "joining";
  if (s.coordination.self_fenced) return "self_fenced";
  if (!s.coordination.waiting.empty()) return "waiting";
  return "active";
}

// The replica set's projection versions (none until the worker has read them).
void VersionFigures(Families& f, const VersionsStatus& v) {
  if (!v.known) return;
  f.Counter("version_switches_total", "Projection version switches this worker made.", static_cast<double>(v.switches));
  for (const auto& s : v.versions) {
    const Labels p{{"projection", s.version.projection}, {"version", std::to_string(s.version.version)}};
    for (auto st : {VersionState::kBuilding, VersionState::kReady, VersionState::kActive, VersionState::kRetired,
                    VersionState::kDropped}) {
      auto labels = p;
      labels.push_back({"state", ToString(st)});
      f.Gauge("projection_version_state", "1 for the projection version's current state.",
              s.version.state == st ? 1 : 0, labels);
    }
    f.Gauge("projection_version_partitions_behind", "Partitions where the version is behind the active version.",
            s.version.partitions_behind, p);
    if (s.catch_up_seconds) {
      f.Gauge("projection_version_catch_up_seconds", "Estimated time until a building version has caught up.",
              *s.catch_up_seconds, p);
    }
  }
}

// The standbys of EVENTS_READ_URL (nothing without), labelled by host:port.
void StandbyFigures(Families& f, const std::optional<StandbyReadFigures>& figures) {
  if (!figures) return;
  for (const auto& s : figures->standbys) {
    const Labels l{{"standby", s.name}};
    f.Gauge("standby_lag_bytes", "WAL the standby has not replayed: the primary's insert position minus its replay.",
            static_cast<double>(s.lag_bytes), l);
    f.Gauge("standby_lag_seconds", "How long ago the primary had WAL the standby has not replayed.",
            std::chrono::duration<double>(s.lag).count(), l);
    for (auto c : {StandbyCondition::kUnknown, StandbyCondition::kUsable, StandbyCondition::kDown,
                   StandbyCondition::kLagging, StandbyCondition::kPromoted, StandbyCondition::kOtherHistory,
                   StandbyCondition::kPrimaryUnknown}) {
      auto labels = l;
      labels.push_back({"condition", ConditionName(c)});
      f.Gauge("standby_condition", "1 for the standby's current condition.", s.condition == c ? 1 : 0, labels);
    }
    f.Counter("standby_batches_total", "Event batches read from the standby.", static_cast<double>(s.batches), l);
    f.Counter("standby_read_errors_total", "Reads that failed on the standby (each went to another source).",
              static_cast<double>(s.read_errors), l);
  }
  f.Counter("standby_primary_batches_total", "Event batches read from the primary because no standby could serve.",
            static_cast<double>(figures->primary_batches));
  f.Counter("standby_waits_total", "Reads that found no standby had replayed far enough and returned nothing.",
            static_cast<double>(figures->waits));
}

}  // namespace

std::string RenderMetrics(const WorkerStatus& s, const HttpFigures& http) {
  Families f;
  const auto& c = s.coordination;
  const auto& k = c.counters;
  f.Gauge("build_info", "Build identity (always 1).", 1, {{"version", kVersion}, {"revision", kRevision}});
  f.Gauge("http_connections_open", "Open connections of the operator HTTP server.",
          static_cast<double>(http.open_connections));
  f.Counter("http_connections_evicted_total",
            "Connections of the operator HTTP server closed at the connection cap to make room for a newcomer"
            " (idle keep-alives, clients that never send their request).",
            static_cast<double>(http.evicted));

  // Coordination (the families the pupsourcing docs promise).
  f.Counter("generations_total", "Generations (assignments) formed by this worker.", k.generations_formed);
  f.Counter("workers_registered_total", "Registrations of this worker in its replica set (first join and rejoins).",
            k.registrations);
  f.Counter("partition_assignments_total", "Partitions this worker took over (stamped) from a new generation.",
            k.partitions_taken);
  f.Counter("partition_releases_total", "Partitions this worker released to a new owner.", k.partitions_released);
  f.Counter("reconfiguration_total", "Generation changes this worker applied and acknowledged.", k.reconfigurations);
  f.Counter("stale_workers_cleaned_total", "Stale peers this worker evicted.", k.stale_workers_cleaned);
  f.Counter("coordination_timeouts_total", "Members this worker evicted for not acknowledging within COORDINATION_TIMEOUT.",
            k.coordination_timeouts);
  f.Counter("heartbeats_total", "Successful heartbeats.", k.heartbeats);
  f.Counter("heartbeat_failures_total", "Failed heartbeats and registrations (database unavailable).",
            k.heartbeat_failures);
  f.Counter("self_fenced_total", "Times this worker stopped processing because its heartbeats failed too long.",
            k.self_fenced);
  f.Counter("evicted_total", "Times this worker found its own row evicted and rejoined.", k.evicted);
  f.Gauge("active_workers", "Live members of the replica set, as of this worker's last heartbeat.", c.live_members);
  f.Gauge("partitions_owned", "Partitions this worker processes now.", static_cast<double>(c.owned.size()));
  f.Gauge("partitions_waiting", "Partitions assigned to this worker that wait for their handover.",
          static_cast<double>(c.waiting.size()));
  f.Gauge("generation", "The replica set's generation as last seen by this worker.", static_cast<double>(c.generation));
  const auto state = WorkerState(s);
  for (const auto* st : {"joining", "waiting", "active", "self_fenced", "stopping"}) {
    f.Gauge("worker_state", "1 for this worker's current state.", state == st ? 1 : 0, {{"state", st}});
  }
  f.Histogram("coordination_duration_seconds", "Duration of one coordination round (heartbeat and its follow-up).",
              c.round_durations);
  f.Histogram("heartbeat_latency_seconds", "Duration of the heartbeat statement.", c.heartbeat_latencies);

  // Projections.
  f.Declare("events_processed_total", "Events delivered to a projection and committed.", MetricType::Counter);
  for (const auto& r : s.runners) {
    const auto lane = ParseLaneKey(r.projection);
    const Labels p{{"projection", lane.projection}, {"version", std::to_string(lane.version)}};
    f.Counter("events_processed_total", "Events delivered to a projection and committed.",
              static_cast<double>(r.events_processed), p);
    f.Counter("batches_total", "Batches committed per projection.", static_cast<double>(r.batches), p);
    f.Counter("projection_errors_total", "Failed batches per projection (handler or database), before retry.",
              static_cast<double>(r.errors), p);
    f.Counter("projection_database_errors_total",
              "Failed batches per projection caused by the database (retried, never counted against the error policy).",
              static_cast<double>(r.database_errors), p);
    f.Counter("fenced_writes_total", "Checkpoint writes rejected because a newer generation owns the partition.",
              static_cast<double>(r.fenced), p);
    f.Counter("dead_letters_total", "Events set aside by the skip policy (poison and parked).",
              static_cast<double>(r.dead_letters), p);
    f.Counter("replayed_events_total", "Events handed to a projection as a replay after a rebuild.",
              static_cast<double>(r.replayed), p);
    f.Gauge("parked_aggregates", "Streams (bounded context, aggregate type, aggregate id) parked behind a dead letter.", r.parked_aggregates, p);
    f.Gauge("stopped_partitions", "Partitions this projection stopped on by its error policy.",
            static_cast<double>(r.stopped.size()), p);
    // Unknown until the worker has observed the mark: no sample (never a 0 that reads "caught up").
    const char* lag_events_help = "High-water mark minus the lowest owned checkpoint of the projection.";
    const char* lag_seconds_help = "How long the projection has not been at the high-water mark (0 when it is).";
    if (const auto lag = LagEvents(s, r)) {
      f.Gauge("projection_lag_events", lag_events_help, static_cast<double>(*lag), p);
    } else {
      f.Declare("projection_lag_events", lag_events_help, MetricType::Gauge);
    }
    if (const auto seconds = LagSeconds(s, r)) {
      f.Gauge("projection_lag_seconds", lag_seconds_help, *seconds, p);
    } else {
      f.Declare("projection_lag_seconds", lag_seconds_help, MetricType::Gauge);
    }
    f.Gauge("projection_position", "Lowest owned position of the projection.", static_cast<double>(r.min_position), p);
    f.Gauge("projection_paused", "1 while an operator pause covers a partition of the projection.",
            r.paused.Empty() ? 0 : 1, p);
    const auto paused_here = std::count_if(r.owned.begin(), r.owned.end(), [&](int q) { return r.paused.Covers(q); });
    f.Gauge("projection_paused_owned_partitions", "Partitions owned here that an operator paused.",
            static_cast<double>(paused_here), p);
    for (const auto* st : {"idle", "running", "caught_up", "held", "failing", "stalled", "stopped", "paused"}) {
      auto labels = p;
      labels.push_back({"state", st});
      f.Gauge("projection_state", "1 for the projection runner's current state.", ToString(r.state) == st ? 1 : 0,
              labels);
    }
    f.Histogram("event_processing_duration_seconds", "Duration of one batch: read, handle and commit.",
                r.batch_durations, p);
  }

  VersionFigures(f, s.versions);

  // High-water mark.
  if (s.high_water_mark_known) {
    f.Gauge("high_water_mark", "The gap-safe high-water mark (global position).", static_cast<double>(s.high_water_mark));
  } else {
    f.Declare("high_water_mark", "The gap-safe high-water mark (global position).", MetricType::Gauge);
  }
  f.Gauge("high_water_mark_lag_seconds", "Age of the oldest open gap the high-water mark waits on (0 when none).",
          std::chrono::duration<double>(s.mark.oldest_gap_age).count());
  f.Gauge("open_gaps", "Positions above the mark not yet visible (in-flight or rolled back).",
          static_cast<double>(s.mark.open_gaps));
  f.Gauge("high_water_mark_held", "1 while the mark waits on a live writer of events.", s.mark.held ? 1 : 0);
  f.Gauge("high_water_mark_stored", "The proven mark last read from or stored in the database.",
          static_cast<double>(s.mark.stored_mark));
  f.Counter("high_water_mark_errors_total", "Failed high-water-mark database calls (each retried).",
            static_cast<double>(s.mark.errors));

  StandbyFigures(f, s.standby_reads);

  if (s.control) {
    f.Counter("operator_control_errors_total", "Failed reads of the pauses or writes of the partition states (retried).",
              static_cast<double>(s.control->errors));
  }

  // LISTEN connections (wake-ups; polling covers their outages).
  f.Declare("listen_connection_losses_total", "Outages of a LISTEN connection (lost, or never established).",
            MetricType::Counter);
  f.Declare("listen_connected", "1 while the LISTEN connection is established.", MetricType::Gauge);
  for (const auto& l : s.listeners) {
    const Labels labels{{"listener", l.listener}};
    f.Counter("listen_connection_losses_total", "Outages of a LISTEN connection (lost, or never established).",
              static_cast<double>(l.losses), labels);
    f.Gauge("listen_connected", "1 while the LISTEN connection is established.", l.listening ? 1 : 0, labels);
  }

  // Persistence core.
  const auto& ps = s.persistence;
  f.Gauge("persistence_pending", "Checkpoint keys waiting to be written.", static_cast<double>(ps.pending_count));
  f.Gauge("persistence_oldest_pending_age_seconds", "Age of the oldest pending checkpoint.",
          static_cast<double>(ps.oldest_pending_age) / 1000.0);
  f.Counter("persistence_requests_total", "Persistence transactions by result.", static_cast<double>(ps.successful_requests),
            {{"result", "success"}});
  f.Counter("persistence_requests_total", "Persistence transactions by result.", static_cast<double>(ps.failed_requests),
            {{"result", "failure"}});
  f.Declare("persistence_flushes_total", "Checkpoint flushes by trigger and outcome.", MetricType::Counter);
  for (const auto& e : FlushesInLabelOrder(ps.flushes)) {
    f.Counter("persistence_flushes_total", "Checkpoint flushes by trigger and outcome.", static_cast<double>(e.count),
              {{"trigger", ToString(e.trigger)}, {"outcome", ToString(e.outcome)}});
  }
  for (const auto& [trigger, h] : s.persistence_durations) {
    f.Histogram("persistence_flush_duration_seconds", "Persistence transaction duration by trigger (unit: transactional units).",
                h, {{"trigger", trigger}});
  }
  for (const auto& [reason, n] : std::vector<std::pair<std::string, std::int64_t>>{
           {"full", ps.rejected_full}, {"stale", ps.rejected_stale}, {"circuit_open", ps.rejected_circuit_open}}) {
    f.Counter("persistence_rejected_total", "Submits refused by the core, by reason.", static_cast<double>(n),
              {{"reason", reason}});
  }
  f.Counter("persistence_coalesced_total", "Submits merged into a pending key.", static_cast<double>(ps.coalesced));
  f.Counter("persistence_fenced_total", "Keys the database rejected for a newer generation.", static_cast<double>(ps.fenced));
  f.Counter("persistence_units_committed_total", "Transactional units committed.", static_cast<double>(ps.units_committed));
  for (const auto* st : {"closed", "open", "half_open"}) {
    f.Gauge("persistence_circuit_breaker_state", "1 for the breaker's current state.",
            ps.circuit_breaker_state == st ? 1 : 0, {{"state", st}});
  }
  f.Counter("persistence_circuit_breaker_trips_total", "Times the breaker opened.",
            static_cast<double>(ps.circuit_breaker_trips));
  return f.Text();
}

}  // namespace projd::http
