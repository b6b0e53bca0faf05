// PersistenceCore: the one component through which a worker's checkpoints and
// transactional units reach PostgreSQL (design section 7, docs/persistence.md).
//
//  * Submit() never blocks on I/O: it coalesces into a pending map (per key the newest
//    generation wins, then the highest position) and returns a ticket. "Accepted" is not
//    "durable": the ticket resolves when a position >= the submitted one is durable.
//  * Flushes: interval (fixed rate on the monotonic clock) and size (MAX_BATCH_SIZE pending
//    keys) on the core's flusher thread; ForcePersistence (a barrier), Revoke (a set of keys)
//    and Shutdown (final drain) on the caller's thread. One transaction per batch with one
//    deadline (PERSISTENCE_TIMEOUT); a failed or timed-out batch merges back (newer entries
//    win) and is retried: checkpoint writes are idempotent.
//  * Circuit breaker over consecutive failed transactions; while open, pending checkpoints
//    are kept and coalesced, units and forced flushes fail fast (kCircuitOpen).
//  * Backpressure follows the work (persistence_pressure.h): a submit that takes the lag
//    past half its limit wakes the flusher at once ("lag" trigger); ShouldPause() tells
//    runners to stop pulling events only past the hard limits, and asks for that flush too.
//    MAX_PENDING caps pending keys (kRejectedFull).
//  * Fenced keys (a newer generation owns the row) are dropped, counted and reported to the
//    owner's callback; never retried, never a breaker failure.
//  * No exception from the store ends a thread: every database error (transient, in doubt
//    or permanent: disk full, a read-only server) and anything else the store throws is a
//    failed transaction, counted, fed to the breaker and retried. Failures and breaker
//    transitions are logged with the error text, rate-limited (failure_log_interval).
// The decisions live in pure parts, each tested without threads: pending_checkpoints.h (the
// pending set, durable positions, fencing, tickets), flush_policy.h (when the flusher wakes
// and with which trigger, batch sizes and rounds, what a write's outcome does),
// persistence_figures.h (the counters), circuit_breaker.h. This class holds them under its
// one lock and runs the threads and the store calls.
// Thread-safe: every public call may come from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/common/awaitable_thread.h"
#include "orchestrator/common/clock.h"
#include "orchestrator/common/log_throttle.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/config/config.h"
#include "orchestrator/persistence/checkpoint_store.h"
#include "orchestrator/persistence/circuit_breaker.h"
#include "orchestrator/persistence/durability_ticket.h"
#include "orchestrator/persistence/flush_policy.h"
#include "orchestrator/persistence/flush_trigger.h"
#include "orchestrator/persistence/pending_checkpoints.h"
#include "orchestrator/persistence/persistence_figures.h"
#include "orchestrator/persistence/persistence_pressure.h"
#include "orchestrator/persistence/persistence_stats.h"

namespace projd {

struct PersistenceOptions {
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds force_timeout{30000};
  std::chrono::milliseconds shutdown_timeout{15000};
  int max_batch_size = 100;
  int max_pending = 1000;
  int breaker_threshold = 5;
  std::chrono::milliseconds breaker_timeout{60000};
  // Runners pause pulling events when pending progress exceeds this many events...
  std::int64_t max_lag_events = 100000;
  // ...or the oldest pending checkpoint is older than this.
  std::chrono::milliseconds max_lag_time{30000};
  // Transactional units queued or committing at once, over all lanes. Each runner has at
  // most one unit queued, so this bounds the queue only when a worker runs more
  // transactional projections than this; it must not be below that number (a lower bound
  // turned every third projection's batch into a rejected, backed-off retry: found by the
  // fault suite).
  int max_units_in_flight = 64;
  // Under a lasting failure, a failed transaction (or a failed breaker probe) is logged at
  // once, then at most once per this interval with the number of failures in between.
  std::chrono::milliseconds failure_log_interval{30000};

  static PersistenceOptions FromConfig(const Config& c);
};

struct SubmitResult {
  SubmitCode code = SubmitCode::kAccepted;
  std::shared_ptr<DurabilityTicket> ticket;  // null when refused
  bool ok() const { return Accepted(code); }
};

enum class ForceResult { kOk, kTimeout, kCircuitOpen };
std::string ToString(ForceResult r);

// kMoved: the unit's batch no longer starts where its checkpoints are (UnitOutcome::kMoved);
// nothing was applied; the runner re-reads its positions (ReadCheckpoints).
enum class UnitResult { kCommitted, kFenced, kMoved, kCircuitOpen, kRejectedFull, kFailed, kShutDown };
std::string ToString(UnitResult r);

struct ShutdownReport {
  bool drained = false;                     // everything pending became durable (or fenced)
  std::vector<Checkpoint> unflushed;        // what stayed pending or in flight
  // The core's threads still running at the deadline ("persistence flusher", "persistence
  // unit lane"): blocked in a transaction the database does not answer. No drain ran then.
  std::vector<std::string> abandoned;
};

// Optional hooks for metrics and logs; called outside the core's lock.
class PersistenceObserver {
 public:
  virtual ~PersistenceObserver() = default;
  virtual void OnFlush(Trigger, FlushOutcome, std::chrono::microseconds duration, std::size_t rows) {}
  // A transactional unit's transaction ended (kFailed also for database errors).
  virtual void OnUnit(UnitResult, std::chrono::microseconds duration) {}
  virtual void OnRefused(SubmitCode) {}
  virtual void OnBreakerChange(BreakerState) {}
};

class PersistenceCore {
 public:
  using FencedCallback = std::function<void(const CheckpointKey&, std::int64_t generation)>;

  // `logger` receives failures, recoveries and breaker transitions (none when empty).
  PersistenceCore(CheckpointStore& store, const Clock& clock, PersistenceOptions options,
                  FencedCallback on_fenced = {}, PersistenceObserver* observer = nullptr,
                  std::optional<Logger> logger = std::nullopt);
  ~PersistenceCore();  // stops the threads; does not drain (call Shutdown for that)

  // A unit lane: a thread and a store (a connection) of its own, committing its units in
  // submission order. kSharedLane commits on the core's store between flushes; a lane added
  // with AddLane commits in parallel with flushes and with the other lanes, so one
  // projection's slow or hanging unit holds up neither checkpoints nor other projections.
  using LaneId = int;
  static constexpr LaneId kSharedLane = 0;
  // Before Start(). `store` must outlive the core; it is used by that lane's thread only.
  LaneId AddLane(CheckpointStore& store);

  // Starts the flusher thread (interval, size and lag triggers) and the unit lanes.
  void Start();

  SubmitResult Submit(const Checkpoint& checkpoint);

  // Barrier: returns kOk once everything submitted before the call is durable, superseded
  // by a durable newer position, or fenced. A failed attempt never satisfies it.
  ForceResult ForcePersistence(std::chrono::milliseconds timeout);
  // Drains the pending checkpoints of `keys` (partition handover).
  ForceResult Revoke(const std::vector<CheckpointKey>& keys, std::chrono::milliseconds timeout);
  // Stops the flusher, drains within SHUTDOWN_TIMEOUT, resolves remaining tickets as
  // kAbandoned and reports what stayed unflushed. Later submits are refused.
  ShutdownReport Shutdown();
  // The same, ending by `deadline`: the flusher and the unit lane are awaited until then
  // (a thread still inside a transaction at the deadline is left running and reported,
  // and the drain is skipped: it would queue behind that transaction), and each drain
  // batch is cut at the deadline. Returns by the deadline unless a store call ignores its
  // timeout (a cancel the server never receives).
  ShutdownReport Shutdown(Clock::Monotonic::time_point deadline);
  // Checkpoints not known durable: pending or in flight.
  std::int64_t Unflushed() const;

  // Commits a unit on `lane` (in submission order per lane, bounded in flight overall).
  std::future<UnitResult> SubmitUnit(TransactionalUnit unit, LaneId lane = kSharedLane);

  // The stored checkpoints of a projection, read through the core's store (between
  // flushes and units). Throws TransientError when the database is unreachable.
  std::vector<Checkpoint> ReadCheckpoints(const std::string& replica_set, const std::string& projection);

  // Wakes the flusher to write everything pending now (trigger caught_up), without waiting:
  // a runner that reached the mark after a backlog makes its progress durable at once
  // instead of at the next interval tick.
  void FlushSoon();

  // True while runners should stop pulling events (durable progress lags too far); when
  // the lag is the reason, it also wakes the flusher (a pause never waits for the interval).
  bool ShouldPause();
  PersistenceStats GetStats() const;
  void ResetCircuitBreaker();
  // The error text of the latest failed transaction ("" when the latest one succeeded).
  std::string LastError() const;

  // One flush of up to MAX_BATCH_SIZE keys, on the calling thread (tests drive the core
  // deterministically with this instead of Start()).
  FlushOutcome FlushOnce(Trigger trigger);

 private:
  using TimePoint = Clock::Monotonic::time_point;
  using Targets = PendingCheckpoints::Targets;

  struct QueuedUnit {
    TransactionalUnit unit;
    std::promise<UnitResult> promise;
  };
  struct Lane {
    CheckpointStore* store = nullptr;
    bool shared = false;  // the core's own store: commit between flushes (flush_mu_)
    std::deque<QueuedUnit> queue;  // mu_
    std::condition_variable cv;
    AwaitableThread thread;
  };
  struct AbandonedLane {
    std::string name;
    bool shared = false;  // it holds the core's own store
  };
  // One turn of the flusher thread: its trigger and how many batches it may write.
  struct FlusherTurn {
    Trigger trigger = Trigger::kInterval;
    std::size_t rounds = 1;
  };

  // --- Submits (mu_ held) ----------------------------------------------------------------
  // After an accepted submit: the capacity warning, the size trigger, and the lag trigger
  // for this key; true when the caller must notify wake_.
  bool AfterAccepted(const Checkpoint& cp, SubmitCode code);
  // Asks the flusher for a flush of everything pending with `trigger` (FlushSignals::Request);
  // true when the caller must notify wake_.
  bool RequestFlush(Trigger trigger);

  // --- Flushes ---------------------------------------------------------------------------
  // One flush of the pending checkpoints of `only` (all when null), on the calling thread.
  // `not_after`: the batch's deadline is cut to it (the final drain).
  FlushOutcome Flush(Trigger trigger, PendingCheckpoints::KeyFilter only,
                     std::optional<TimePoint> not_after = std::nullopt);
  // Under mu_: asks the breaker, and on kWrite takes the batch in flight. Counts a skip.
  FlushAdmission BeginFlush(Trigger trigger, PendingCheckpoints::KeyFilter only, std::vector<Checkpoint>& batch);
  // The batch's transaction on the core's store; never throws (flush_mu_ held).
  BatchWrite WriteBatch(const std::vector<Checkpoint>& batch, std::optional<TimePoint> not_after);
  // Under mu_: what the write does to the pending set, the breaker and the figures; returns
  // the fenced checkpoints.
  std::vector<Checkpoint> EndFlush(Trigger trigger, const std::vector<Checkpoint>& batch, const BatchWrite& write);
  void ReportFenced(const std::vector<Checkpoint>& fenced);  // the owner's callback, outside mu_

  // --- The flusher thread ----------------------------------------------------------------
  void FlusherLoop(TimePoint first_tick);
  // Waits for the tick or a signal; nullopt when the core stops.
  std::optional<FlusherTurn> AwaitTurn(TimePoint next_tick);
  // Writes the turn's batches; a callback's exception is logged, never ends the thread.
  void FlushRounds(const FlusherTurn& turn);

  // --- Barriers and the final drain ------------------------------------------------------
  ForceResult DrainUntil(Targets targets, Trigger trigger, TimePoint deadline);
  // Stops the flusher and the lanes by `deadline`; records the threads still running in
  // `abandoned` and returns true when one of them holds the core's own store.
  bool AwaitThreads(TimePoint deadline, std::vector<std::string>& abandoned);
  // Drains `targets` by `deadline` even past an open breaker (reset, backed off, retried).
  void FinalDrain(const Targets& targets, TimePoint deadline);
  // Closes the core: refuses later submits, reports what stayed unflushed, abandons tickets.
  void Close(const Targets& targets, ShutdownReport& report);

  // --- Transactions: breaker transitions and logs ----------------------------------------
  void NoteBreaker(BreakerState before);
  // After a transaction attempt (`error` empty = it succeeded, as far as the database goes):
  // logs the failure or the recovery (rate-limited) and the breaker transition.
  void AfterAttempt(const std::string& operation, const std::string& error, bool probe, BreakerState before);
  void LogAttempt(const std::string& operation, const std::string& error, bool probe, BreakerState after);
  void LogBreakerChange(BreakerState before, BreakerState after, const std::string& error);

  // --- Unit lanes ------------------------------------------------------------------------
  void UnitLoop(Lane& lane);
  void StopLanes();  // wakes and joins every lane thread (they drain their queues first)
  // Wakes every lane and awaits each until `deadline`; returns those still running.
  std::vector<AbandonedLane> StopLanesBy(TimePoint deadline);
  // One unit on its lane: breaker, transaction, stats, logs; never throws a store error.
  UnitResult CommitQueued(const TransactionalUnit& unit, Lane& lane);
  // The unit's transaction once the breaker let it out: observer, figures, durable positions.
  UnitResult AttemptUnit(const TransactionalUnit& unit, Lane& lane, std::string& error);
  // The unit's transaction on the lane's store; `error` is set when the database failed.
  UnitResult RunUnit(const TransactionalUnit& unit, Lane& lane, std::string& error, bool& ok);

  CheckpointStore& store_;
  const Clock& clock_;
  const PersistenceOptions options_;
  FencedCallback on_fenced_;
  PersistenceObserver* observer_;
  const TimePoint created_;

  // The one lock of the core's state and figures: every field below up to log_mu_. Submit
  // takes it anyway (to coalesce into the pending map), so counting under it costs the hot
  // path nothing, and GetStats() reads breaker, pending set and figures consistently.
  mutable std::mutex mu_;
  std::condition_variable wake_;
  PendingCheckpoints pending_;
  FlushSignals signals_;
  CircuitBreaker breaker_;
  PersistenceFigures figures_;
  bool stopping_ = false;
  bool shut_down_ = false;
  int units_in_flight_ = 0;

  std::optional<Logger> logger_;
  std::mutex log_mu_;           // guards the throttles
  LogThrottle failure_log_;     // failed transactions
  LogThrottle probe_log_;       // failed half-open probes

  std::mutex flush_mu_;  // one flush at a time (serialises store use)

  std::vector<std::unique_ptr<Lane>> lanes_;  // [kSharedLane] is the core's store; fixed after Start()

  AwaitableThread flusher_;
};

}  // namespace projd
