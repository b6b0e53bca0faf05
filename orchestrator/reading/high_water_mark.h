// HighWaterMark: the decision logic behind gap-safe reading (design section 4,
// docs/reading.md "The high-water mark H").
//
// H is the highest position such that every position <= H is either visible (committed)
// or proven never to appear. Readers read only positions <= H.
//
// A position p that is missing (handed out by the sequence, or below a visible one, but
// not visible) is first seen by some observation. Once GAP_GRACE has passed, a LATER
// observation records the writers W of p: the transactions that hold a granted
// RowExclusiveLock on the events table at that moment. Every writer of events takes that
// lock before its INSERT allocates a position and keeps it until its transaction ends, so
// p's writer has either ended already or is in W. Once an observation sees that no member
// of W still holds the lock, a LATER observation (a snapshot taken after all of W ended)
// that still misses p proves p permanent, and only then may H pass p. A gap that fills is
// simply read. There is no timeout-based skipping, and transactions that never took a
// write lock on events (readers, pg_dump, other databases) are never waited for.
//
// A prepared (two-phase) transaction changes its virtual transaction id when it prepares,
// so a prepared holder is treated as a member of every W: a gap waits for every prepared
// transaction that holds a write lock on events.
//
// Each Observe() call takes ONE observation made by ONE statement (one snapshot; the lock
// holders are read after the snapshot was taken). Pure logic driven by the caller's clock;
// not thread-safe (one owner).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace projd {

// A transaction holding a granted RowExclusiveLock on the events table.
struct WriteLockHolder {
  std::string vxid;       // pg_locks.virtualtransaction
  bool prepared = false;  // a prepared transaction (no backend)
  bool operator<(const WriteLockHolder& o) const { return vxid < o.vxid; }
  bool operator==(const WriteLockHolder& o) const { return vxid == o.vxid; }
};

// What one statement saw above the current mark H.
struct PositionObservation {
  // Highest position examined: max(visible positions, sequence's last value), capped by
  // the observation window. Positions in (H, upper] exist as numbers.
  std::int64_t upper = 0;
  // Positions in (H, upper] that are not visible in the snapshot, ascending.
  std::vector<std::int64_t> missing;
  // The write-lock holders on events, read after the snapshot; present only when the
  // observation was asked for them (HighWaterMark::NeedsWriters).
  std::optional<std::vector<WriteLockHolder>> writers;
  // Identity of the event history the positions belong to (PostgreSQL: the storage of the
  // events table and of its sequence, which TRUNCATE, RESTART IDENTITY and rewrites
  // replace). Empty when unknown.
  std::string history;
};

struct GapInfo {
  std::int64_t position = 0;
  std::chrono::steady_clock::time_point first_seen;
  std::uint64_t first_observation = 0;
  // W: the writers recorded once the grace passed, shrunk to those still holding.
  std::optional<std::set<WriteLockHolder>> writers;
  bool writers_ended = false;  // every member of W had ended at some observation
  bool proven = false;         // proven permanent; H passes it when reached
};

class HighWaterMark {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  HighWaterMark(std::int64_t start, std::chrono::milliseconds gap_grace)
      : mark_(start), grace_(gap_grace) {}

  // Applies one observation made at `now`, relative to mark() when it was taken; returns
  // the new H, never lower than before.
  std::int64_t Observe(const PositionObservation& obs, TimePoint now);

  // True when the next observation should include the write-lock holders: some open gap
  // has passed GAP_GRACE and its proof is not complete.
  bool NeedsWriters(TimePoint now) const;
  // True when some gap's writers have all ended: the next observation decides it, so the
  // caller should observe again at once.
  bool ProofDue() const;
  // Moves H up to `proven` (a mark proven earlier, e.g. persisted) when it is higher;
  // forgets the gaps below it.
  void Raise(std::int64_t proven);

  std::int64_t mark() const { return mark_; }
  // Number of proven-permanent positions H has passed since construction.
  std::int64_t passed_proven() const { return passed_proven_; }
  // Open gaps above H that are not proven permanent, ascending.
  std::vector<GapInfo> gaps() const;
  std::size_t open_gaps() const { return gaps().size(); }
  // Age of the oldest open gap at `now` (zero when none).
  std::chrono::milliseconds OldestGapAge(TimePoint now) const;
  // The lowest open gap: the one H waits on.
  std::optional<GapInfo> blocking_gap() const;

 private:
  void TrackWriters(GapInfo& gap, const std::vector<WriteLockHolder>& holders, TimePoint now) const;
  void DropBelowMark();

  std::int64_t mark_;
  std::chrono::milliseconds grace_;
  std::uint64_t observations_ = 0;
  std::int64_t passed_proven_ = 0;
  std::map<std::int64_t, GapInfo> gaps_;  // missing positions > mark_
};

}  // namespace projd
