// Projection resets (`projd projections reset`): every checkpoint of one projection lane moved
// to a target position as a generation change. This header holds the values a reset plans,
// does and refuses, and the pure rules over them; the SQL is PgCoordinationStore's
// (PlanReset, ResetProjection). docs/operations.md, "Replaying or skipping part of a
// projection", and docs/guarantees.md, "Resets".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace projd {

// Which way one partition's checkpoint moves.
enum class ResetDirection {
  kNone,     // already at the target
  kBack,     // events after the target are read and applied again (a replay)
  kForward,  // events up to the target are never applied (a skip)
};

// One checkpoint row of the lane: where it was and where it goes.
struct PartitionMove {
  int partition = 0;
  std::int64_t from = 0;
  std::int64_t to = 0;
  // Events of this partition between from and to (before the projection's scope filter):
  // replayed when moving back, skipped when moving forward. Filled by PlanReset only.
  std::int64_t events = 0;
};

ResetDirection DirectionOf(const PartitionMove& move);
const char* ToString(ResetDirection direction);

// Why a reset was refused (nothing changed).
enum class ResetRefusal {
  kNone,
  kNegativeTarget,     // the target is below 0
  kBeyondLatest,       // the target is above the latest committed event: nothing to skip to
  kNoCheckpoints,      // the lane has no checkpoint in the replica set (it never ran there)
  kSkipNotConfirmed,   // some partition would move forward and skipping was not allowed
};
// An operator's sentence for a refusal.
std::string Describe(ResetRefusal refusal, std::int64_t target, std::int64_t latest);

// Whether a reset may skip events (move a checkpoint forward).
enum class SkipPolicy { kRefuse, kAllow };

// What PlanReset reads (no change): the lane's rows as they are now, moved to `target`.
struct ResetPlan {
  std::int64_t target = 0;
  std::int64_t latest = 0;  // the latest committed event position
  std::vector<PartitionMove> moves;  // ascending partition
  ResetRefusal refusal = ResetRefusal::kNone;  // what ResetProjection would refuse, with kRefuse
};

// What ResetProjection did: the rows it moved (from = their position at the reset, inside its
// transaction), the new generation (0: the replica set has no row yet), the dead letters it
// removed. refusal != kNone: nothing changed and moves is empty.
struct ResetResult {
  std::int64_t generation = 0;
  std::int64_t latest = 0;
  std::vector<PartitionMove> moves;
  std::int64_t dead_letters_removed = 0;
  ResetRefusal refusal = ResetRefusal::kNone;
};

// The refusal of moving `moves` to `target` with `latest` the latest event, under `skip`.
ResetRefusal CheckReset(std::int64_t target, std::int64_t latest, const std::vector<PartitionMove>& moves,
                        SkipPolicy skip);

// "partition 3: 1200 -> 500, back (replay)", with ", 700 events" when `with_events`.
std::string DescribeMove(const PartitionMove& move, bool with_events);

// Sums of a plan's events by direction.
std::int64_t EventsMoving(const std::vector<PartitionMove>& moves, ResetDirection direction);

// Whether `text` is an RFC 3339 date-time with a zone: 2026-12-01T10:00:00Z,
// 2026-12-01T10:00:00.250+01:00 ('T' or 't', 'Z' or 'z'; fields in range). Nothing else:
// no date alone, no zone-less local time, no other spelling PostgreSQL would accept.
bool IsRfc3339Timestamp(const std::string& text);

}  // namespace projd
