#include "orchestrator/persistence/flush_policy.h"

#include <algorithm>

namespace projd {

bool FlushSignals::NoteSize(std::size_t pending, int max_batch_size) {
  if (size_ || static_cast<int>(pending) < max_batch_size) return false;
  size_ = true;
  return true;
}

bool FlushSignals::Request(Trigger trigger, bool anything_pending, bool breaker_open) {
  if (requested_ || !anything_pending || breaker_open) return false;
  requested_ = trigger;
  return true;
}

Trigger FlushSignals::Take(bool tick_due) {
  const auto trigger = tick_due ? Trigger::kInterval : requested_.value_or(Trigger::kSize);
  size_ = false;
  requested_.reset();
  return trigger;
}

std::chrono::milliseconds FlusherWait(Clock::Monotonic::time_point next_tick, Clock::Monotonic::time_point now) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - now);
  return std::min(left, std::chrono::milliseconds(20));
}

Clock::Monotonic::time_point NextTick(Clock::Monotonic::time_point next_tick, Clock::Monotonic::time_point now,
                                      std::chrono::milliseconds interval) {
  while (next_tick <= now) next_tick += interval;
  return next_tick;
}

std::size_t RoundsFor(std::size_t pending, int max_batch_size) {
  const auto batch = static_cast<std::size_t>(std::max(1, max_batch_size));
  return std::max<std::size_t>(1, (pending + batch - 1) / batch);
}

bool AnotherRound(Trigger trigger, std::size_t pending, bool stopping, int max_batch_size) {
  if (pending == 0 || stopping) return false;
  return !(trigger == Trigger::kSize && static_cast<int>(pending) < max_batch_size);
}

FlushAdmission AdmitFlush(bool has_work, CircuitBreaker& breaker, int max_batch_size) {
  FlushAdmission a;
  if (!has_work) return a;
  a.breaker = breaker.Admit();
  if (!a.breaker.allowed) {
    a.verdict = FlushAdmission::Verdict::kSkipped;
    return a;
  }
  a.verdict = FlushAdmission::Verdict::kWrite;
  // A half-open probe is one small batch.
  a.limit = a.breaker.probe ? 1 : static_cast<std::size_t>(max_batch_size);
  return a;
}

std::optional<Clock::Monotonic::time_point> BatchDeadline(Trigger trigger,
                                                          Clock::Monotonic::time_point drain_deadline) {
  if (trigger == Trigger::kShutdown) return drain_deadline;
  return std::nullopt;
}

std::chrono::milliseconds AttemptTimeout(std::chrono::milliseconds timeout, Clock::Monotonic::time_point start,
                                         std::optional<Clock::Monotonic::time_point> not_after) {
  if (!not_after) return timeout;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*not_after - start);
  return std::clamp(left, std::chrono::milliseconds(1), timeout);
}

FlushOutcome OutcomeOf(const BatchWrite& write) {
  return write.outcome ? FlushOutcome::kSuccess : FlushOutcome::kFailure;
}

std::vector<Checkpoint> ApplyFlushWrite(Trigger trigger, const std::vector<Checkpoint>& batch, const BatchWrite& write,
                                        std::int64_t wall_ms, PendingCheckpoints& pending, CircuitBreaker& breaker,
                                        PersistenceFigures& figures) {
  const bool committed = write.outcome.has_value();
  RecordAttempt({committed, committed, write.error, write.took}, wall_ms, breaker, figures);
  std::vector<Checkpoint> fenced;
  if (committed) {
    fenced = pending.Written(batch, write.outcome->fenced);
    figures.CountFenced(fenced.size());
  } else {
    // Outcome unknown or failed: merge back; a newer pending entry wins.
    pending.Failed(batch, write.start);
  }
  figures.CountFlush(trigger, OutcomeOf(write));
  return fenced;
}

}  // namespace projd
