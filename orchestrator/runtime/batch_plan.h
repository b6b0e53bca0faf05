// Planning a runner's batch, without locks or I/O: which partitions a round reads and from
// where, whether there is anything to read at all, and what a read result becomes (the
// events handed over, whether they are a replay, and the checkpoints they reach).
// ProjectionRunner calls PlanBatch under its mutex (the partitions of the plan are marked
// in flight in the same critical section) and ToBatch on its own thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/control/pauses.h"
#include "orchestrator/persistence/checkpoint.h"
#include "orchestrator/reading/event.h"
#include "orchestrator/reading/event_reader.h"
#include "orchestrator/runtime/poison_isolation.h"

namespace projd {

// What a runner holds of a partition it owns.
struct OwnedPartition {
  std::int64_t generation = 0;    // the stamp it was taken under (a newer one fences it)
  std::int64_t position = 0;      // every event of the partition <= position is processed
  std::int64_t replay_until = 0;  // events <= replay_until were handled before a rebuild
};

struct BatchPlanInput {
  const std::map<int, OwnedPartition>& owned;
  const std::set<int>& stopped;  // policy `stop`: these partitions are not read
  const PausedPartitions& paused;  // an operator's pause: these partitions are not read either
  int partition_count = 0;
  std::int64_t mark = 0;  // the high-water mark: nothing above it is read
  const PoisonIsolation& isolation;
  int batch_size = 100;
};

struct BatchPlan {
  // The partitions the round reads (owned, not stopped), as they were when planned.
  std::map<int, OwnedPartition> partitions;
  // Nothing to read: no such partition, or each is at the mark.
  bool caught_up = false;
  // Caught up only because of an operator's pause: a paused partition is below the mark,
  // or every owned partition is paused.
  bool paused = false;
  // A poison event is being isolated: one event per batch.
  bool isolating = false;
  // Unless caught up: after each partition's position, up to the mark, `limit` 1 while
  // isolating. The scope is left to the caller (the sink's, asked only for a read).
  ReadRequest request;
};

BatchPlan PlanBatch(const BatchPlanInput& in);

// The checkpoints a batch reaches and, for each, the position it was read from: a unit
// commits only when the stored rows are still there (compare-and-set).
struct BatchProgress {
  std::vector<Checkpoint> checkpoints;
  std::vector<std::int64_t> from;
};

// A read result as the runner delivers it.
struct Batch {
  std::vector<Event> events;    // position order
  std::vector<int> partitions;  // the partition of each event, as read
  // An event at or below its partition's replay_until: handled before a rebuild.
  bool replaying = false;
  // As many events as the limit: more wait behind it (a backlog).
  bool full = false;
  std::size_t read = 0;             // events read (delivery may set parked ones aside)
  std::int64_t last_position = 0;   // of the last event read; 0 when none
  Event only;                       // the event of a batch of one (as read)
  // The partitions that move: each to max(position, scanned_to), from its position.
  BatchProgress progress;
};

// `writer` (the worker id) and the checkpoint keys' replica set and projection stamp the
// progress under each partition's generation.
Batch ToBatch(const BatchPlan& plan, ReadResult result, const std::string& replica_set,
              const std::string& projection, const std::string& writer);

}  // namespace projd
