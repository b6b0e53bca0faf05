#include "orchestrator/reading/high_water_mark_follower.h"

#include "orchestrator/common/errors.h"

namespace projd {

HighWaterMarkFollower::HighWaterMarkFollower(PositionSource& source, const Clock& clock,
                                             std::chrono::milliseconds gap_grace, std::int64_t start,
                                             std::int64_t window)
    : source_(source), clock_(clock), grace_(gap_grace), hwm_(start, gap_grace), start_(start), window_(window) {}

bool HighWaterMarkFollower::Advance() {
  try {
    if (!loaded_) LoadStoredMark();
    ObserveUntilStable();
    StoreIfDue();
    return true;
  } catch (const Error& e) {
    // Transient (outage), in doubt (a lost connection while committing the store of the
    // mark, which is monotonic and may be repeated) or permanent (permissions, a read-only
    // server): a failed round; the state is kept and the next call continues. Before,
    // anything but TransientError escaped the follower thread and ended the worker.
    return Failed(e);
  }
}

void HighWaterMarkFollower::LoadStoredMark() {
  try {
    const auto stored = source_.LoadProvenMark();
    stored_mark_ = stored.mark;
    history_ = stored.history;
  } catch (const PermanentError& e) {
    // No readable stored mark (a role without access, a schema before migration 0008):
    // follow from `start` and never store.
    loaded_ = true;
    Failed(e);
    return;
  }
  loaded_ = true;
  may_store_ = start_ <= stored_mark_;
  hwm_.Raise(stored_mark_);
  stored_passed_proven_ = hwm_.passed_proven();
  stored_at_ = clock_.Now();
}

void HighWaterMarkFollower::ObserveUntilStable() {
  int proof_rounds = 0;
  // Far behind is possible at the first round and after a full window: try the barrier.
  bool behind = !observed_ || barrier_.pending();
  while (true) {
    if (behind) TryBarrier();
    const std::int64_t before = hwm_.mark();
    const auto with = hwm_.NeedsWriters(clock_.Now()) ? WithWriters::kYes : WithWriters::kNo;
    const auto obs = source_.Observe(before, window_, with);
    if (history_.empty()) history_ = obs.history;
    if (obs.history != history_) {
      if (++proof_rounds > kMaxProofRounds) throw TransientError("the events history keeps changing (TRUNCATE?)");
      StartNewHistory(obs.history);
      continue;
    }
    hwm_.Observe(obs, clock_.Now());
    observed_ = true;
    // Some gap's writers all ended: a snapshot taken from now on decides it.
    if (hwm_.ProofDue() && ++proof_rounds <= kMaxProofRounds) continue;
    // Another window only when this one was full and H reached its end.
    if (hwm_.mark() < before + window_ || obs.upper < before + window_) return;
    behind = true;
  }
}

void HighWaterMarkFollower::TryBarrier() {
  if (barrier_.pending() && barrier_.last() <= hwm_.mark()) barrier_.Reset();  // passed on its own
  if (!barrier_.pending()) {
    const auto last = source_.ReadLastPosition();
    // Worth it only beyond one window; a standby's sequence says nothing about the primary.
    if (last.in_recovery || last.history != history_ || last.position - hwm_.mark() <= window_) return;
    barrier_.Begin(last);
  }
  if (const auto raise_to = barrier_.Apply(source_.ReadWriters())) {
    hwm_.Raise(*raise_to);
    ++barrier_raises_;
  }
}

void HighWaterMarkFollower::StartNewHistory(const std::string& history) {
  // The events table was emptied or rewritten (TRUNCATE, RESTART IDENTITY): nothing proven
  // for the old positions holds for the new ones. Start over, from the new history's
  // stored mark if any.
  ++history_changes_;
  hwm_ = HighWaterMark(start_, grace_);
  barrier_.Reset();
  stored_mark_ = 0;
  may_store_ = false;
  history_ = history;
  LoadStoredMark();
}

void HighWaterMarkFollower::StoreIfDue() {
  if (!may_store_ || history_.empty() || hwm_.mark() <= stored_mark_) return;
  const bool proved = hwm_.passed_proven() > stored_passed_proven_ || barrier_raises_ > stored_barrier_raises_;
  if (!proved && clock_.Now() - stored_at_ < kStoreEvery) return;
  try {
    source_.SaveProvenMark(hwm_.mark(), history_);
  } catch (const PermanentError&) {
    // A role that may not write projd_proven_marks, a read-only server: follow without
    // storing (this round reports the error once).
    may_store_ = false;
    throw;
  }
  stored_mark_ = hwm_.mark();
  stored_passed_proven_ = hwm_.passed_proven();
  stored_barrier_raises_ = barrier_raises_;
  stored_at_ = clock_.Now();
}

bool HighWaterMarkFollower::Failed(const std::exception& e) {
  ++errors_;
  last_error_ = e.what();
  return false;
}

HighWaterMarkStatus HighWaterMarkFollower::Status() {
  HighWaterMarkStatus s;
  s.mark = hwm_.mark();
  s.open_gaps = hwm_.open_gaps();
  s.oldest_gap_age = hwm_.OldestGapAge(clock_.Now());
  s.errors = errors_;
  s.stored_mark = stored_mark_;
  s.history_changes = history_changes_;
  s.barrier_raises = barrier_raises_;
  if (const auto gap = hwm_.blocking_gap(); gap && gap->writers && !gap->writers_ended) {
    s.held = true;
    try {
      s.held_by = source_.OldestWriter({gap->writers->begin(), gap->writers->end()});
    } catch (const Error&) {
      // Diagnostics only: the status stays without the holder.
    }
  }
  return s;
}

}  // namespace projd
