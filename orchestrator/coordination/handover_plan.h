// Handover decisions of a worker under an assignment, as pure functions and small state
// machines of what the database reported and what the worker holds (unit-tested without
// threads): which partitions to release, which to take, which to wait for, when every
// partition restarts, and when a generation counts as handled and acknowledged.
// Not thread-safe (the coordinator's loop thread owns them); the functions are pure.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/coordination/coordination_store.h"
#include "orchestrator/persistence/checkpoint.h"
#include "orchestrator/persistence/checkpoint_store.h"

namespace projd {

// What changes hands under an assignment, both lists ascending.
struct HandoverPlan {
  std::vector<int> release;  // owned here, now assigned to another worker: stop, drain, acknowledge
  std::vector<int> take;     // assigned here, not owned yet: taken once every peer acknowledged
};
HandoverPlan PlanHandover(const AssignmentView& view, const std::set<int>& owned, const std::string& self_id);

// What a stamp of the gained partitions lets this worker start. A partition starts only
// when the rows of every projection were stamped; the others wait and are stamped again
// next round (same generation: harmless). taken and waiting keep the order of `gained`,
// refused and busy are ascending.
struct TakePlan {
  std::vector<Checkpoint> start;  // the stamped rows to start from
  std::vector<int> taken;         // gained partitions that start now
  std::vector<int> waiting;       // gained partitions that do not (refused or busy)
  std::vector<int> refused;       // a newer generation stamped a row of them
  std::vector<int> busy;          // a row of them is held by the previous owner's transaction
};
TakePlan PlanTake(const std::vector<int>& gained, const StampResult& stamp);

// Why every owned partition restarts: the rows were stamped under them, so their old
// writes are fenced anyway and the runners must start again from the checkpoints.
enum class RestartCause {
  kNone,
  kPartitionCount,  // a split changed the partition count
  kRebuild,         // a projection was rebuilt (a newer rebuild generation)
};
struct LayoutChange {
  RestartCause cause = RestartCause::kNone;
  int previous_partitions = 0;  // the count seen before this view
};

// The partition count and rebuild generation of the last assignment seen. The first view
// restarts nothing by a rebuild (there was nothing before it to restart).
class AssignmentLayout {
 public:
  // Records `view`; returns what changed since the previous one.
  LayoutChange Observe(const AssignmentView& view);

 private:
  int partitions_ = 0;
  std::int64_t rebuild_generation_ = -1;  // -1: no view yet
};

// How far this worker got with the replica set's generations: the one it handled (released
// what it lost, acknowledged), the one it acknowledged, and whether a handover still waits
// (a drain, the peers' acknowledgements, busy rows), which re-reads the assignment each round.
class GenerationProgress {
 public:
  // Whether this round reads the assignment: the generation moved, or a handover waits.
  bool ReconcileDue(std::int64_t generation) const { return generation != handled_ || pending_; }
  // Whether reconciling `generation` owes an acknowledgement (none of it or a newer one yet).
  bool AcknowledgementDue(std::int64_t generation) const { return generation > acked_; }

  void Acknowledged(std::int64_t generation) { acked_ = generation; }
  void Handled(std::int64_t generation) { handled_ = generation; }
  void SetPending(bool pending) { pending_ = pending; }
  // Reads the assignment again next round (a newer generation is on its way, or a step failed).
  void Forget() { handled_ = -1; }
  // The worker dropped everything: nothing is pending, the assignment is read again.
  void Abandon() {
    handled_ = -1;
    pending_ = false;
  }

  bool pending() const { return pending_; }
  std::int64_t acked() const { return acked_; }

 private:
  std::int64_t handled_ = -1;
  std::int64_t acked_ = 0;
  bool pending_ = false;
};

}  // namespace projd
