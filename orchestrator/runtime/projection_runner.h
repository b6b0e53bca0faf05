// ProjectionRunner: one per (projection, worker). A thread that reads the events of the
// partitions this worker owns, in batches of BATCH_SIZE up to the high-water mark, hands
// them to the projection and moves its checkpoints through the persistence core:
//  * transactional projections: the batch's writes and its fenced checkpoints commit as
//    one unit (exactly once, even with a zombie worker);
//  * async projections: the batch is handled, then its checkpoints are submitted
//    (at-least-once; the window since the last durable checkpoint may be replayed).
// Each partition is read from its own checkpoint. A fenced write drops the partition
// (a newer generation owns it) and is reported to the coordinator. A failing batch is
// retried with capped jittered backoff; it never kills the thread. Two kinds of failure:
//  * a database error (a projd::Error from the sink, the reader, the persistence core's
//    transaction: lock or statement timeout, deadlock, lost connection, disk full...):
//    retried for as long as it lasts, state `failing`, never counted against the policy;
//  * a handler error (anything else the projection throws for its events): retried
//    OnError().max_attempts times, then the failing event is isolated and the policy applies.
// States (RunnerState): running (batches committing), caught_up (at the high-water mark),
// held (at the mark, and the mark waits on a live transaction), failing (errors, retrying),
// stalled (the mark is ahead but nothing committed for `stall_after`: a hanging handler,
// or backpressure from the persistence core), stopped (policy `stop` on a partition, or
// the runner stopped), idle (owns no partition), paused (an operator paused every owned
// partition, or the only partitions below the mark are paused: `projd projections pause`).
// The loop's decisions live apart and are tested without threads: batch_plan.h (what a
// round reads, and what the read becomes) and poison_isolation.h (handler failures).
// Thread-safe: Take/Release/Fenced/Status may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/common/awaitable_thread.h"
#include "orchestrator/common/backoff.h"
#include "orchestrator/runtime/batch_plan.h"
#include "orchestrator/runtime/batch_sink.h"
#include "orchestrator/persistence/checkpoint.h"
#include "orchestrator/common/clock.h"
#include "orchestrator/persistence/dead_letter_store.h"
#include "orchestrator/reading/event_reader.h"
#include "orchestrator/common/latency_histogram.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/persistence/persistence_core.h"
#include "orchestrator/reading/published_mark.h"
#include "orchestrator/reading/stream_id.h"
#include "orchestrator/runtime/poison_isolation.h"

namespace projd {

struct RunnerOptions {
  std::string replica_set;
  std::string worker_id;
  int batch_size = 100;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{10000};
  // No committed batch for this long while the mark is ahead: the runner reports stalled.
  std::chrono::milliseconds stall_after{30000};
  // The persistence core's lane that commits this runner's transactional units (a
  // connection of its own in a worker: projections commit in parallel).
  PersistenceCore::LaneId unit_lane = PersistenceCore::kSharedLane;
  // Read nothing until the first SetPaused (a worker's runners: the operator's pauses are
  // read from the database as the worker starts).
  bool await_pauses = false;
};

enum class RunnerState { kIdle, kRunning, kCaughtUp, kHeld, kFailing, kStalled, kStopped, kPaused };
std::string ToString(RunnerState s);

struct StoppedPartition {
  int partition = 0;
  std::int64_t position = 0;  // the poison event
  std::string error;
};

struct RunnerStatus {
  std::string projection;
  RunnerState state = RunnerState::kIdle;
  int partitions = 0;
  std::vector<StoppedPartition> stopped;  // policy `stop`: these partitions wait for an operator
  std::vector<int> owned;   // the partitions this runner owns, ascending
  PausedPartitions paused;  // the projection's pauses (operator), owned or not
  std::int64_t dead_letters = 0;          // events set aside (poison and parked) by this runner
  int parked_aggregates = 0;  // parked streams (bounded_context, aggregate_type, aggregate_id)
  std::int64_t min_position = 0;  // lowest processed position over owned partitions
  std::int64_t events_processed = 0;
  std::int64_t batches = 0;
  std::int64_t errors = 0;           // failed batches, both kinds
  std::int64_t database_errors = 0;  // of which the database's (never counted against the policy)
  std::int64_t fenced = 0;
  std::int64_t replayed = 0;  // events handed over with replaying = true (after a rebuild)
  // How long the runner has not been at the mark (0 while caught up, held or idle).
  std::chrono::milliseconds lag_time{0};
  HistogramSnapshot batch_durations;  // read + handle + commit of each delivered batch
  std::string last_error;
  bool database_error = false;  // last_error is a database error (retried for as long as it lasts)
  std::string read_plan;  // the reader's latest plan: partition_merge, primary_key_walk ("" before a read)
};

class ProjectionRunner {
 public:
  using FencedReport = std::function<void(const std::string& projection, int partition)>;

  ProjectionRunner(BatchSink& sink, std::unique_ptr<EventReader> reader, std::unique_ptr<DeadLetterStore> dead_letters,
                   PersistenceCore& core, PublishedMark& mark, const Clock& clock, Logger logger, RunnerOptions options,
                   FencedReport on_fenced = {});
  ~ProjectionRunner();

  void Start();
  // Stops the thread after the batch in flight.
  void Stop();
  // Stop() in two halves, so that a worker stops every runner at once and waits for them
  // with one deadline: RequestStop() returns at once; AwaitStop() waits up to `timeout`
  // for the thread and returns false when it still runs (blocked in a read, a handler or
  // a commit): it is then left running.
  void RequestStop();
  bool AwaitStop(std::chrono::nanoseconds timeout);

  const std::string& projection() const { return name_; }
  // Starts partitions from stamped checkpoints of this projection.
  void Take(int partition_count, const std::vector<Checkpoint>& taken);
  // Stops reading `partitions` and returns at once; a batch already in flight may still
  // commit them (Busy), under its generation: a newer stamp fences it.
  void Release(const std::vector<int>& partitions);
  // True while a batch read before Release still holds one of `partitions`.
  bool Busy(const std::vector<int>& partitions) const;
  // A write of `partition` under `generation` was fenced (from the persistence core).
  void Fenced(int partition, std::int64_t generation);
  // An operator's pauses of this projection: paused partitions are not read after the
  // batch in flight; resumed ones are read again from the next round. With
  // RunnerOptions::await_pauses nothing is read until the first call (state paused).
  void SetPaused(const PausedPartitions& paused);
  // Thread-safe snapshot; `stalled` is derived here from the time of the last progress.
  RunnerStatus Status() const;

 private:
  class InFlight;
  // kMoved: the stored checkpoints are not where the batch was read from; re-read them.
  // kIsolating: the handler keeps failing on a batch; it is re-read one event at a time.
  enum class Delivery { kDone, kFailed, kHandlerFailed, kIsolating, kFenced, kMoved, kShutDown };
  // Before a round reads: kOpen (the mark is observed), kAgain (go round again: no mark
  // yet, or the persistence core's pressure), kStop (stopping).
  enum class Gate { kOpen, kAgain, kStop };
  // The thread's entry: runs Loop, and restarts it (after a backoff) if anything escapes.
  void Run();
  // One batch per round: gate, plan, read, deliver, then the bookkeeping or the retry.
  void Loop();
  // Waits for a partition to own (idle meanwhile), pauses under persistence pressure
  // (stalled), and waits for the follower's first observation of the mark (running).
  // `seen`: the mark's version before the round reads it.
  Gate AwaitReadable(std::uint64_t& seen);
  // Plans the round's batch under mu_, marks its partitions in flight, and reports running
  // (unless failing) when there is something to read.
  BatchPlan PlanRound(std::int64_t mark);
  // At the mark: caught_up, or held when the mark waits on a live transaction; after a
  // backlog the checkpoints are flushed soon. Held back by a pause: paused (the lag stays).
  void AtMark(bool paused);
  // Reads the planned batch; nullopt when the read failed (reported). Unmarks the batch
  // in flight before reporting a failure.
  std::optional<Batch> ReadPlanned(const BatchPlan& plan, InFlight& in_flight);
  Delivery Deliver(std::vector<Event>& events, const BatchProgress& progress, bool replaying);
  // A handler failure of `batch` (read while `isolating`): retry it, isolate its failing
  // event, or apply the policy to its one event (PoisonIsolation).
  Delivery HandlerFailed(const Batch& batch, bool isolating);
  // The bookkeeping of a delivered batch: attempts and handler backoff, backlog, duration,
  // positions and counters.
  void BatchDone(const Batch& batch, Clock::Monotonic::time_point started);
  // After a batch that was not delivered: waits as `outcome` asks (the handler's backoff,
  // the database's) or re-reads the positions; false when stopping.
  bool Recover(Delivery outcome, Backoff& backoff);
  // Splits events of parked streams off `events` into dead letters.
  std::vector<DeadLetter> TakeParked(std::vector<Event>& events);
  // The policy for one poison event (after isolation); returns the delivery outcome.
  Delivery ApplyPolicy(const Event& poison, int partition, const BatchProgress& progress);
  Delivery CommitDeadLetters(const std::vector<DeadLetter>& letters, const BatchProgress& progress);
  // Takes the stored positions of the owned partitions (after Delivery::kMoved).
  bool RefreshPositions();
  void RefreshParked();
  bool SubmitCheckpoint(const Checkpoint& cp);
  void SetState(RunnerState s);
  enum class Blame { kDatabase, kHandler };
  void Fail(const std::string& error, Blame blame);
  // Waits up to `timeout` unless stopping; false when stopping.
  bool Pause(std::chrono::milliseconds timeout);

  BatchSink& sink_;
  const std::string name_;
  std::unique_ptr<EventReader> reader_;
  std::unique_ptr<DeadLetterStore> dead_letters_;
  const ErrorHandling policy_;
  PersistenceCore& core_;
  PublishedMark& mark_;
  const Clock& clock_;
  Logger logger_;
  const RunnerOptions options_;
  FencedReport on_fenced_;

  // Shared with Take/Release/Fenced/Status, guarded by mu_ (batch_durations_ is
  // thread-safe on its own).
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, OwnedPartition> owned_;
  int partition_count_ = 0;
  bool stop_ = false;
  RunnerStatus status_;
  Clock::Monotonic::time_point last_progress_{};
  Clock::Monotonic::time_point last_caught_up_{};
  LatencyHistogram batch_durations_;
  std::map<int, StoppedPartition> stopped_;
  PausedPartitions paused_;
  bool pauses_known_ = false;

  // Runner-thread state.
  std::set<StreamId> parked_;  // the full identity, never the aggregate id alone
  Clock::Monotonic::time_point parked_refreshed_{};
  bool parked_loaded_ = false;
  // Set by Take when a partition restarts under a new generation (a rebuild or a reset may
  // have deleted dead letters): the parked streams are read again before the next delivery
  // instead of up to poll_interval later. Guarded by mu_.
  bool parked_stale_ = false;
  PoisonIsolation isolation_;  // handler failures: attempts, isolation, the handler's backoff
  std::string handler_error_;
  bool backlog_ = false;  // a full batch was delivered since the runner was last at the mark

  // The partitions of the batch being read, handled and committed (guarded by mu_).
  std::set<int> in_flight_;
  // Marks the batch of one loop round in flight until unlock() or the end of the round.
  class InFlight {
   public:
    explicit InFlight(ProjectionRunner& runner) : runner_(runner) {}
    ~InFlight() { unlock(); }
    void unlock() {
      std::lock_guard lock(runner_.mu_);
      runner_.in_flight_.clear();
    }

   private:
    ProjectionRunner& runner_;
  };
  AwaitableThread thread_;
};

}  // namespace projd
