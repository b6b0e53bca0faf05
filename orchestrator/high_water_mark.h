// HighWaterMark: the decision logic behind gap-safe reading (design section 4).
//
// H is the highest position such that every position <= H is either visible (committed)
// or proven never to appear. Readers read only positions <= H.
//
// A position p that is missing (handed out by the sequence, or below a visible one, but
// not visible) is first seen at t1. Once GAP_GRACE has passed, the owner records x2, a
// transaction id above every id assigned so far (RecordXidBound). An observation whose
// snapshot xmin >= x2 while p is still absent proves p permanent: every transaction that
// could write p has ended. Only then may H pass p. A gap that fills is simply read. There
// is no timeout-based skipping.
//
// Why not x2 = pg_snapshot_xmax: a snapshot's xmax is latestCompletedXid + 1, and a
// transaction that was assigned an id above it is running but invisible to that bound (the
// concurrent-writers test caught exactly this). The bound must come from the xid counter.
//
// Each Observe() call takes ONE observation made by ONE statement (one snapshot).
// Pure logic driven by the caller's clock; not thread-safe (one owner).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace projd {

// What one statement saw above the current mark H.
struct PositionObservation {
  // Highest position examined: max(visible positions, sequence's last value), capped by
  // the observation window. Positions in (H, upper] exist as numbers.
  std::int64_t upper = 0;
  // Positions in (H, upper] that are not visible in the snapshot, ascending.
  std::vector<std::int64_t> missing;
  std::uint64_t snapshot_xmin = 0;  // pg_snapshot_xmin of the statement's snapshot
};

struct GapInfo {
  std::int64_t position = 0;
  std::chrono::steady_clock::time_point first_seen;
  std::optional<std::uint64_t> proof_xid;   // x2, recorded once the grace period passed
  bool proven = false;                      // proven permanent; H passes it when reached
};

class HighWaterMark {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  HighWaterMark(std::int64_t start, std::chrono::milliseconds gap_grace)
      : mark_(start), grace_(gap_grace) {}

  // Applies one observation made at `now` (relative to mark() when it was taken); returns
  // the new H, never lower than before.
  std::int64_t Observe(const PositionObservation& obs, TimePoint now);

  // True when some open gap has passed GAP_GRACE and still needs its x2.
  bool NeedsXidBound(TimePoint now) const;
  // Records x2 (an id above every transaction id assigned before this call) for every open
  // gap that has passed GAP_GRACE and has none yet.
  void RecordXidBound(std::uint64_t xid_bound, TimePoint now);

  std::int64_t mark() const { return mark_; }
  // Open gaps above H that are not proven permanent, ascending.
  std::vector<GapInfo> gaps() const;
  std::size_t open_gaps() const { return gaps().size(); }
  // Age of the oldest open gap at `now` (zero when none).
  std::chrono::milliseconds OldestGapAge(TimePoint now) const;
  // The lowest open gap: the one H waits on.
  std::optional<GapInfo> blocking_gap() const;

 private:
  std::int64_t mark_;
  std::chrono::milliseconds grace_;
  std::map<std::int64_t, GapInfo> gaps_;  // missing positions > mark_
};

}  // namespace projd
