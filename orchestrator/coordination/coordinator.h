// Coordinator: a worker's membership loop (design section 5), on its own thread and its
// own database connection, never queued behind projection work.
//
// Every HEARTBEAT_INTERVAL (and at once on a generation notification, an acknowledgement
// or a fencing report) it heartbeats, which also evicts stale peers; forms the next
// generation when membership changed (joins debounced by the join grace); and reconciles
// this worker's partitions with the assignment:
//  * lost partitions: stop reading them, drain their checkpoints through the persistence
//    core, then acknowledge the generation. Nothing here waits on projection work: the
//    runners' batches in flight and the drain are polled round by round, heartbeats go on,
//    and after the release budget the generation is acknowledged anyway (a batch that
//    still commits later carries the old generation and is fenced by the new stamp);
//  * gained partitions: once every live member acknowledged (or COORDINATION_TIMEOUT
//    passed, after which the laggards are evicted and a newer generation formed), stamp
//    the checkpoint rows with the generation in one transaction and start from them.
// Failed heartbeats are retried with capped jittered backoff; a worker whose last
// successful heartbeat is older than the self-fence threshold stops processing by itself;
// a heartbeat that finds its row gone stops everything and rejoins.
// The decisions are pure functions and small state machines (membership_rules,
// handover_plan, release_drain); this class does the store calls in order and reports each
// step to its CoordinatorStatusBoard.
// Thread-safe: Wake/ReportFenced/Status from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/common/awaitable_thread.h"
#include "orchestrator/common/backoff.h"
#include "orchestrator/common/clock.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/common/wake_signal.h"
#include "orchestrator/coordination/coordination_store.h"
#include "orchestrator/coordination/coordinator_status.h"
#include "orchestrator/coordination/handover_plan.h"
#include "orchestrator/coordination/membership_rules.h"
#include "orchestrator/coordination/partition_owner.h"
#include "orchestrator/coordination/release_drain.h"
#include "orchestrator/persistence/checkpoint_store.h"
#include "orchestrator/persistence/persistence_core.h"

namespace projd {

struct CoordinatorOptions {
  std::string replica_set;
  WorkerInfo worker;
  int partitions = 64;  // used when the replica set is new
  MembershipTimings timings;
  // Bound of one handover's release (FORCE_PERSISTENCE_TIMEOUT); at most half the
  // COORDINATION_TIMEOUT is used, so that peers never evict a worker for a slow drain.
  std::chrono::milliseconds drain_timeout{30000};
};

class Coordinator {
 public:
  Coordinator(CoordinationStore& store, CheckpointStore& stamp_store, PersistenceCore& core, PartitionOwner& owner,
              const Clock& clock, Logger logger, CoordinatorOptions options);
  ~Coordinator();

  void Start();
  // One round on the caller's thread; returns how long the loop would wait before the
  // next. Tests drive a coordinator with a fake clock through this instead of Start().
  std::chrono::milliseconds RunOnce() { return Tick(); }
  // Wakes the loop now (a generation notification arrived).
  void Wake() { wake_.Notify(); }
  // A runner's write of `partition` was fenced: re-check it against the assignment.
  void ReportFenced(int partition);
  // Stops the loop thread (no release, no deregistration).
  void Stop();
  // Stop() in two halves: RequestStop() returns at once; AwaitStop() waits up to `timeout`
  // for the loop thread and returns false when it still runs (blocked in a statement the
  // database does not answer): it is then left running.
  void RequestStop();
  bool AwaitStop(std::chrono::nanoseconds timeout);
  // Graceful leave after the runners stopped and the core drained: delete our row and
  // form the next generation so peers take our partitions at once. Returns whether the
  // row was deleted (a failure is logged; peers evict the worker after
  // STALE_WORKER_TIMEOUT). Call after the loop thread stopped: it uses its store.
  bool Leave();
  // The same through another store (a fresh connection) when the loop thread did not stop
  // and still holds the coordinator's store.
  bool LeaveVia(CoordinationStore& store);

  CoordinatorStatus Status() const;
  const std::string& worker_id() const { return options_.worker.worker_id; }

 private:
  // kHandover: the released partitions are drained (FinishRelease) before the generation
  // is acknowledged; kStop: they are only stopped (fenced, dropped or restarted: no
  // acknowledgement waits for them).
  enum class Release { kStop, kHandover };

  void Loop();
  // One round; returns how long to wait before the next.
  std::chrono::milliseconds Tick();
  // The steps of a round, in order.
  void SelfFenceIfSilent();
  bool Register();  // false: failed (counted and logged), retry after RetryDelay()
  void ReleaseFencedPartitions();
  std::chrono::milliseconds HeartbeatRound();  // throws on a database error
  void CountEvictedPeers(const std::vector<std::string>& evicted);
  // Forms the next generation; returns it, or `current` when none was due any more.
  std::int64_t FormGeneration(std::int64_t current);
  std::chrono::milliseconds RetryDelay();

  // Releases what the assignment took away, acknowledges it, then takes what it gave.
  void Reconcile(const AssignmentView& view);
  void RestartOnLayoutChange(const AssignmentView& view);
  void AcknowledgeIfDue(std::int64_t generation);
  // Evicts members past the coordination timeout that never acknowledged, and forms the
  // generation without them.
  void EvictLate(const AssignmentView& view, const std::vector<std::string>& late);
  // Stamps `gained` and starts the runners on every partition stamped for all projections.
  void TakeGained(const AssignmentView& view, const std::vector<int>& gained);
  void LogTaken(const AssignmentView& view, const TakePlan& plan);
  // Stops the runners on `partitions` at once (see Release).
  void ReleaseOwned(const std::vector<int>& partitions, Release mode);
  // One step of the handover of released partitions, never blocking on the runners: true
  // once the runners let go and the checkpoints are durable, or the release budget is spent
  // (a runner stuck in its batch is then left to the generation stamp, which fences it).
  bool FinishRelease();
  void WarnUndrained(bool overdue, ForceResult result);
  void DropEverything(const std::string& why);
  std::set<int> TakeFencedReports();

  CoordinationStore& store_;
  CheckpointStore& stamp_store_;
  PersistenceCore& core_;
  PartitionOwner& owner_;
  const Clock& clock_;
  Logger logger_;
  const CoordinatorOptions options_;

  WakeSignal wake_;
  std::atomic<bool> stop_{false};
  AwaitableThread thread_;

  // Loop-thread state (published to status_ as it changes).
  bool registered_ = false;
  Clock::Monotonic::time_point last_success_{};  // start of the last successful heartbeat attempt
  Backoff backoff_;
  std::set<int> owned_;
  AssignmentLayout layout_;
  GenerationProgress progress_;
  ReleaseDrain drain_;
  bool stamp_busy_ = false;  // the last stamp found rows held by another transaction

  CoordinatorStatusBoard status_;
  std::mutex fenced_mu_;  // guards fenced_ (reported by the runners' threads)
  std::set<int> fenced_;
};

}  // namespace projd
