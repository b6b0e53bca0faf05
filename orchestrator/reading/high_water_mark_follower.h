// HighWaterMarkFollower: keeps the high-water mark H current from a PositionSource.
//
// Advance() observes window after window until H stops moving, asking for the write-lock
// holders only while a gap older than GAP_GRACE awaits its proof, and observing again at
// once when a gap's writers have all ended. A backlog of more than one window (at the first
// round, or after a full window) is proven at once by a BacklogBarrier instead, as soon as
// every writer of events that held its lock when the barrier began has ended. The first
// Advance() starts H at the proven mark stored by any process (when that is above
// `start`), and H is stored again as it moves on, so a restart neither re-proves history
// nor waits on live transactions for old gaps. A follower started above the stored mark
// (`projd read --from N`) never stores: its start was not proven; nor does one whose store
// was refused for good (a role without write access, a read-only server).
//
// When the events table is emptied or rewritten under it (TRUNCATE, RESTART IDENTITY: the
// observation's history changes), it starts over from `start` and the new history's stored
// mark; a stored mark is only ever used for the history it was proven in.
//
// Supervised: a failing database call (outage, broken connection, a permission or other
// permanent error) is counted, reported through last_error(), and the next Advance()
// continues from the kept state; it never throws a projd::Error. Not thread-safe: one
// owner; publish mark() to other threads yourself.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "orchestrator/reading/backlog_barrier.h"
#include "orchestrator/common/clock.h"
#include "orchestrator/reading/high_water_mark.h"
#include "orchestrator/reading/position_source.h"

namespace projd {

struct HighWaterMarkStatus {
  std::int64_t mark = 0;
  std::size_t open_gaps = 0;
  std::chrono::milliseconds oldest_gap_age{0};
  std::int64_t errors = 0;  // failed database calls since start (each one restarted the round)
  // The mark waits on a live writer: the lowest gap outlived GAP_GRACE and some writer of
  // events that held its write lock when the proof started is still running. held_by
  // names the oldest of them.
  bool held = false;
  std::optional<HoldingTransaction> held_by;
  std::int64_t stored_mark = 0;  // the proven mark last read from or written to the database
  std::int64_t history_changes = 0;  // times the events table was emptied or rewritten under it
  std::int64_t barrier_raises = 0;   // backlogs proven at once (BacklogBarrier)
};

class HighWaterMarkFollower {
 public:
  static constexpr std::int64_t kDefaultWindow = 100'000;
  // How often a moving mark is stored when no gap was proven meanwhile.
  static constexpr std::chrono::seconds kStoreEvery{10};

  HighWaterMarkFollower(PositionSource& source, const Clock& clock, std::chrono::milliseconds gap_grace,
                        std::int64_t start = 0, std::int64_t window = kDefaultWindow);

  // Observes until H is stable. Returns true when it completed, false when a database call
  // failed or its outcome was in doubt (see last_error(); the state is kept and the next
  // call continues).
  bool Advance();

  std::int64_t mark() const { return hwm_.mark(); }
  // Status for /status and metrics; looks up the holding writer when H waits on one
  // (one extra query, only then).
  HighWaterMarkStatus Status();
  const std::string& last_error() const { return last_error_; }
  std::int64_t errors() const { return errors_; }

 private:
  static constexpr int kMaxProofRounds = 16;  // immediate re-observations per Advance

  void LoadStoredMark();
  void StartNewHistory(const std::string& history);
  void ObserveUntilStable();
  void TryBarrier();
  void StoreIfDue();
  bool Failed(const std::exception& e);

  PositionSource& source_;
  const Clock& clock_;
  std::chrono::milliseconds grace_;
  HighWaterMark hwm_;
  std::int64_t start_;
  std::int64_t window_;
  std::int64_t errors_ = 0;
  std::string last_error_;
  bool loaded_ = false;
  bool may_store_ = false;
  std::int64_t stored_mark_ = 0;
  std::int64_t stored_passed_proven_ = 0;
  Clock::Monotonic::time_point stored_at_{};
  std::string history_;  // the events history H belongs to
  std::int64_t history_changes_ = 0;
  BacklogBarrier barrier_;
  bool observed_ = false;  // some window was observed
  std::int64_t barrier_raises_ = 0;
  std::int64_t stored_barrier_raises_ = 0;
};

}  // namespace projd
