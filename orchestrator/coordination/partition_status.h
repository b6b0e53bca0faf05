// PartitionStatus: one row of `projd status`'s partition table (docs/operations.md, "Reading
// `projd status`"): a projection lane's partition with its checkpoint, lag, owner, state and
// last error, and DescribePartition, the rule that turns what the database holds about it
// (PartitionFacts) into what an operator is shown. The rule is the one place that decides
// which state is current: an operator pause wins; otherwise only the report of the partition's
// current, live owner counts as its state, and an older report (its writer no longer owns the
// partition, or is gone) is kept apart as stale. Plain data and a pure function; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace projd {

// An operator pause that covers the partition (projd_projection_pauses).
struct PauseFact {
  bool whole_projection = false;  // partition -1: every partition of every version
  std::string paused_by;
  std::string reason;
  double age_seconds = 0;  // since paused_at (database clock)
};

// A runner state as a worker last reported it (projd_partition_states).
struct StateReport {
  std::string worker_id;    // the reporting worker
  std::string worker_name;  // its name while it is a member; "" once it is gone
  std::string state;        // running, caught_up, held, failing, stalled, stopped, paused, idle
  std::string last_error;   // "" when none
  std::optional<double> error_age_seconds;  // since error_at
  double age_seconds = 0;                   // since updated_at (the last change)
};

// What the database holds about one (lane, partition), read in one snapshot.
struct PartitionFacts {
  std::string projection;  // lane key: NAME, or NAME@N for version N > 1
  int partition = 0;
  std::int64_t position = 0;         // checkpoint
  std::int64_t latest_position = 0;  // newest event of the store
  // Age of the oldest event of this partition after the checkpoint; 0 when there is none.
  double oldest_pending_age_seconds = 0;
  std::string owner_id;    // projd_assignments.worker_id; "" when unassigned
  std::string owner_name;  // its worker_name
  bool owner_live = false;  // the owner is still a member (a projd_workers row)
  std::optional<PauseFact> pause;
  std::optional<StateReport> report;
};

// Where the shown state comes from.
enum class StateSource {
  kNone,   // no report, no pause: unknown ("-")
  kPause,  // an operator pause ("paused")
  kOwner,  // the report of the current, live owner
  kStale,  // only a report of a former or gone owner: not shown as the state
};

const char* ToString(StateSource source);

struct PartitionStatus {
  std::string projection;
  int partition = 0;
  std::int64_t position = 0;
  std::int64_t lag_events = 0;  // latest position - checkpoint, at least 0
  double lag_seconds = 0;       // oldest pending event's age; 0 when none
  std::string state;            // "paused", the owner's reported state, or "-"
  StateSource source = StateSource::kNone;
  std::string owner;     // worker name, or "unassigned" (no owner, or an owner that is gone)
  std::string owner_id;  // "" when unassigned
  std::string last_error;  // of the current owner's report, or of a stale one (see source)
  std::optional<double> error_age_seconds;
  std::optional<PauseFact> pause;
  std::optional<StateReport> report;  // the raw report, current or stale
  bool report_current = false;        // report written by the current, live owner
};

inline constexpr const char* kUnassigned = "unassigned";
inline constexpr const char* kUnknownState = "-";

PartitionStatus DescribePartition(const PartitionFacts& facts);

// True when the report was written by the partition's current, live owner.
bool ReportIsCurrent(const PartitionFacts& facts);

}  // namespace projd
