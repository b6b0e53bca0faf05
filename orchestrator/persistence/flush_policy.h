// FlushPolicy: the persistence core's decisions about flushing checkpoints, apart from the
// threads that act on them (docs/persistence.md, "Flushes"): when the flusher wakes and with
// which trigger, how many batches a turn writes, how big a batch is, whether a flush may go
// out past the breaker, how long its transaction may take, and what its outcome does.
//
// Pure: no lock, no thread; the caller passes the time and the figures it measured. The core
// keeps FlushSignals under its lock.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/common/clock.h"
#include "orchestrator/persistence/checkpoint_store.h"
#include "orchestrator/persistence/circuit_breaker.h"
#include "orchestrator/persistence/flush_trigger.h"
#include "orchestrator/persistence/pending_checkpoints.h"
#include "orchestrator/persistence/persistence_figures.h"

namespace projd {

// The flusher's wake-up signals besides its interval tick: the size trigger (MAX_BATCH_SIZE
// keys pending) and one requested flush of everything pending (lag or caught_up).
class FlushSignals {
 public:
  // After a submit left `pending` keys: raises the size trigger at MAX_BATCH_SIZE, once until
  // the flusher takes it. True when newly raised: wake the flusher.
  bool NoteSize(std::size_t pending, int max_batch_size);
  // Asks for a flush of everything pending with `trigger` unless one is asked already,
  // nothing is pending or the breaker is open. True when newly asked: wake the flusher.
  bool Request(Trigger trigger, bool anything_pending, bool breaker_open);
  bool requested() const { return requested_.has_value(); }
  bool raised() const { return size_ || requested_.has_value(); }
  // A flush took a batch: that covers the size trigger.
  void BatchTaken() { size_ = false; }
  // The flusher's turn: kInterval when its tick is due (before any signal), else the
  // requested trigger, else kSize. Takes every signal: a later submit may raise either
  // again (a breaker that skips the flush must not leave a signal set that would spin the
  // flusher).
  Trigger Take(bool tick_due);

 private:
  bool size_ = false;
  std::optional<Trigger> requested_;
};

// How long the flusher waits before it looks again: until the tick, at most 20 ms (the clock
// may be a test's fake clock, which no condition variable follows).
std::chrono::milliseconds FlusherWait(Clock::Monotonic::time_point next_tick, Clock::Monotonic::time_point now);

// The tick after `now`, at a fixed rate from `next_tick`: it does not drift with the
// flush's duration, and ticks missed meanwhile are skipped.
Clock::Monotonic::time_point NextTick(Clock::Monotonic::time_point next_tick, Clock::Monotonic::time_point now,
                                      std::chrono::milliseconds interval);

// The batches of one flusher turn: enough for what is pending when it begins, not for what
// runners add meanwhile (a catch-up submits during every flush, and "until empty" flushed
// back to back). At least one.
std::size_t RoundsFor(std::size_t pending, int max_batch_size);

// After a successful round of a turn: write another? Not when nothing is pending or the core
// stops, nor for the size trigger once less than a batch is pending.
bool AnotherRound(Trigger trigger, std::size_t pending, bool stopping, int max_batch_size);

// Whether a flush writes now. kNothing: nothing pending for it, and the breaker was not
// asked (no probe spent). kSkipped: the breaker refused. kWrite: a batch of up to `limit`
// keys, MAX_BATCH_SIZE, or one key for the half-open probe.
struct FlushAdmission {
  enum class Verdict { kNothing, kSkipped, kWrite };
  Verdict verdict = Verdict::kNothing;
  CircuitBreaker::Admission breaker;
  std::size_t limit = 0;
};
FlushAdmission AdmitFlush(bool has_work, CircuitBreaker& breaker, int max_batch_size);

// The deadline the drain of `trigger` cuts its batches at: the final drain (shutdown) ends
// by its deadline; a handover's or a barrier's drain keeps whole batches.
std::optional<Clock::Monotonic::time_point> BatchDeadline(Trigger trigger, Clock::Monotonic::time_point drain_deadline);

// One transaction's timeout: PERSISTENCE_TIMEOUT, cut to what is left until `not_after`
// (at least 1 ms).
std::chrono::milliseconds AttemptTimeout(std::chrono::milliseconds timeout, Clock::Monotonic::time_point start,
                                         std::optional<Clock::Monotonic::time_point> not_after);

// How a batch's write ended: `outcome` when it committed; else it failed or its outcome is
// unknown, and `error` says why.
struct BatchWrite {
  std::optional<WriteOutcome> outcome;
  std::string error;
  Clock::Monotonic::time_point start;  // when the transaction began
  std::chrono::microseconds took{0};
};
FlushOutcome OutcomeOf(const BatchWrite& write);  // kSuccess or kFailure

// What a flush's write of `batch` does, as of `wall_ms` (epoch ms). Committed: the batch is
// durable but for its fenced keys, which are returned (never retried, never a breaker
// failure). Failed or unknown: it merges back into pending (writes are idempotent) and the
// breaker counts a failure. Either way the attempt and the flush (by trigger) are counted.
std::vector<Checkpoint> ApplyFlushWrite(Trigger trigger, const std::vector<Checkpoint>& batch, const BatchWrite& write,
                                        std::int64_t wall_ms, PendingCheckpoints& pending, CircuitBreaker& breaker,
                                        PersistenceFigures& figures);

}  // namespace projd
