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
// Thread-safe: Wake/ReportFenced/Status from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/common/awaitable_thread.h"
#include "orchestrator/common/backoff.h"
#include "orchestrator/persistence/checkpoint_store.h"
#include "orchestrator/common/clock.h"
#include "orchestrator/coordination/coordination_store.h"
#include "orchestrator/common/latency_histogram.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/coordination/membership_rules.h"
#include "orchestrator/coordination/partition_owner.h"
#include "orchestrator/persistence/persistence_core.h"
#include "orchestrator/common/wake_signal.h"

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

struct CoordinatorCounters {
  std::int64_t heartbeats = 0;
  std::int64_t heartbeat_failures = 0;
  std::int64_t generations_formed = 0;      // by this worker
  std::int64_t stale_workers_cleaned = 0;   // by this worker
  std::int64_t coordination_timeouts = 0;   // members evicted for not acknowledging
  std::int64_t self_fenced = 0;
  std::int64_t evicted = 0;                 // times this worker found its row gone
  std::int64_t partitions_taken = 0;
  std::int64_t partitions_released = 0;
  std::int64_t registrations = 0;     // joins of this worker (the first, and every rejoin)
  std::int64_t reconfigurations = 0;  // generation changes this worker applied (acknowledged)
};

struct CoordinatorStatus {
  bool registered = false;
  bool healthy = false;         // the last heartbeat succeeded
  bool self_fenced = false;
  std::int64_t generation = 0;  // last seen
  std::int64_t acked_generation = 0;
  int partition_count = 0;
  std::vector<int> owned;
  std::vector<int> waiting;     // assigned to this worker, waiting for the handover
  std::vector<int> releasing;   // given up, handover not finished (batch in flight, drain)
  std::chrono::milliseconds heartbeat_latency{0};
  int live_members = 0;  // live members of the replica set, as of the last heartbeat
  HistogramSnapshot round_durations;      // one coordination round (heartbeat and its follow-up)
  HistogramSnapshot heartbeat_latencies;  // the heartbeat statement
  std::string last_error;
  CoordinatorCounters counters;
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
  void Loop();
  // One round; returns how long to wait before the next.
  std::chrono::milliseconds Tick();
  void Reconcile(const AssignmentView& view);
  // Stops the runners on `partitions` at once; with `drain`, a handover: their checkpoints
  // are drained over the next rounds (FinishRelease) before the generation is acknowledged.
  void ReleaseOwned(const std::vector<int>& partitions, bool drain);
  // One step of the handover of released partitions, never blocking on the runners: true
  // once the runners let go and the checkpoints are durable, or the release budget is spent
  // (a runner stuck in its batch is then left to the generation stamp, which fences it).
  bool FinishRelease();
  void DropEverything(const std::string& why);
  // Stamps `gained` and starts the runners on every partition stamped for all projections.
  void TakeGained(const AssignmentView& view, const std::vector<int>& gained);

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

  // Loop-thread state.
  bool registered_ = false;
  Clock::Monotonic::time_point last_success_{};
  Clock::Monotonic::time_point last_heartbeat_{};
  std::int64_t known_generation_ = -1;
  int known_partitions_ = 0;
  std::int64_t known_rebuild_ = -1;  // rebuild_generation seen (-1: not yet)
  bool handover_pending_ = false;
  Backoff backoff_;
  // Partitions released to a new owner whose handover is not finished (FinishRelease).
  struct Releasing {
    std::vector<int> partitions;
    Clock::Monotonic::time_point since{};
  };
  std::optional<Releasing> releasing_;
  bool stamp_busy_ = false;  // the last stamp found rows held by another transaction

  mutable std::mutex mu_;  // guards status_ and owned_ / fenced_ (read by Status())
  std::set<int> owned_;
  std::set<int> fenced_;
  std::vector<int> releasing_partitions_;  // copy of releasing_ for Status()
  CoordinatorStatus status_;
  LatencyHistogram round_durations_;
  LatencyHistogram heartbeat_latencies_;
};

}  // namespace projd
