#include "orchestrator/coordination/partition_status.h"

#include <algorithm>

namespace projd {

const char* ToString(StateSource source) {
  switch (source) {
    case StateSource::kNone: return "none";
    case StateSource::kPause: return "pause";
    case StateSource::kOwner: return "owner";
    case StateSource::kStale: return "stale";
  }
  return "none";
}

bool ReportIsCurrent(const PartitionFacts& facts) {
  // A report outlives its writer: after a handover or an eviction the row still holds what
  // the former owner saw until the new owner writes its own (it writes only on a change).
  return facts.report && facts.owner_live && !facts.owner_id.empty() && facts.report->worker_id == facts.owner_id;
}

PartitionStatus DescribePartition(const PartitionFacts& facts) {
  PartitionStatus s;
  s.projection = facts.projection;
  s.partition = facts.partition;
  s.position = facts.position;
  s.lag_events = std::max<std::int64_t>(0, facts.latest_position - facts.position);
  s.lag_seconds = std::max(0.0, facts.oldest_pending_age_seconds);
  if (facts.owner_live && !facts.owner_id.empty()) {
    s.owner = facts.owner_name;
    s.owner_id = facts.owner_id;
  } else {
    s.owner = kUnassigned;
  }
  s.pause = facts.pause;
  s.report = facts.report;
  s.report_current = ReportIsCurrent(facts);
  if (facts.report) {
    s.last_error = facts.report->last_error;
    if (!s.last_error.empty()) s.error_age_seconds = facts.report->error_age_seconds;
  }
  if (facts.pause) {
    // The operator's intent holds even before the owner has acted on it (it stops after the
    // batch in flight), and while no worker owns the partition.
    s.state = "paused";
    s.source = StateSource::kPause;
  } else if (s.report_current) {
    s.state = facts.report->state.empty() ? kUnknownState : facts.report->state;
    s.source = StateSource::kOwner;
  } else {
    s.state = kUnknownState;
    s.source = facts.report ? StateSource::kStale : StateSource::kNone;
  }
  return s;
}

}  // namespace projd
