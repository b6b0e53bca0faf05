// CoordinatorStatus: what a worker's coordinator reports (/status, metrics), and
// CoordinatorStatusBoard, the one place it is kept: the coordinator's loop thread reports
// each step through a named call, readers on any thread take a consistent snapshot.
// Thread-safe: every call takes the board's one lock (the histograms are lock-free).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/common/latency_histogram.h"

namespace projd {

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

// One member's partitions in an assignment.
struct AssignedMember {
  std::string worker_id;
  std::string worker_name;
  std::vector<int> partitions;  // ascending
};

// The members of an assignment (per-partition owner ids and names; "" = unassigned) with
// their partitions, ordered by name then id. Unassigned partitions are left out.
std::vector<AssignedMember> MembersOf(const std::vector<std::string>& owner_ids,
                                      const std::vector<std::string>& owner_names);

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
  // Every member's partitions as of the last assignment this worker read (at each new
  // generation): a member that joined since appears with the next generation.
  std::vector<AssignedMember> assignment;
  HistogramSnapshot round_durations;      // one coordination round (heartbeat and its follow-up)
  HistogramSnapshot heartbeat_latencies;  // the heartbeat statement
  std::string last_error;
  CoordinatorCounters counters;
};

class CoordinatorStatusBoard {
 public:
  CoordinatorStatus Snapshot() const;

  // The worker joined the replica set (first time or again): registered and healthy.
  void Registered();
  // A registration, a heartbeat or a step after it failed with `error`: unhealthy, counted.
  void Failed(const std::string& error);
  // A heartbeat statement succeeded after `latency`: healthy, no error, no longer
  // self-fenced. Returns whether it was self-fenced until now (the worker resumes).
  bool HeartbeatSucceeded(std::chrono::nanoseconds latency, int live_members);
  // The heartbeat found this worker's row gone: no longer registered, counted.
  void Evicted();
  // No heartbeat succeeded within the self-fence threshold: processing stopped, counted.
  void SelfFenced();
  void StaleWorkersCleaned(std::size_t count);
  void CoordinationTimeouts(std::size_t count);
  void GenerationFormed();
  void AssignmentSeen(std::int64_t generation, int partition_count, std::vector<AssignedMember> members);
  // `generation` acknowledged: one more reconfiguration applied.
  void Acknowledged(std::int64_t generation);

  // `count` partitions released; `owned` and `releasing` are what remains.
  void Released(const std::set<int>& owned, const std::vector<int>& releasing, std::size_t count);
  // `count` partitions taken; `owned` and `waiting` are the result.
  void Taken(const std::set<int>& owned, const std::vector<int>& waiting, std::size_t count);
  void SetWaiting(const std::vector<int>& waiting);
  void SetReleasing(const std::vector<int>& releasing);

  void ObserveRound(std::chrono::nanoseconds duration) { round_durations_.Observe(duration); }

 private:
  mutable std::mutex mu_;
  CoordinatorStatus status_;  // owned / waiting / releasing kept here too
  LatencyHistogram round_durations_;
  LatencyHistogram heartbeat_latencies_;
};

}  // namespace projd
