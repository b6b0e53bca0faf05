#include "orchestrator/runtime/batch_plan.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace projd {

BatchPlan PlanBatch(const BatchPlanInput& in) {
  BatchPlan plan;
  plan.request.partition_count = in.partition_count;
  std::int64_t lowest = std::numeric_limits<std::int64_t>::max();
  bool paused_behind = false;
  bool every_paused = !in.owned.empty();
  for (const auto& [p, o] : in.owned) {
    if (in.stopped.count(p)) continue;
    if (in.paused.Covers(p)) {
      paused_behind = paused_behind || o.position < in.mark;
      continue;
    }
    every_paused = false;
    plan.partitions.emplace(p, o);
    plan.request.after[p] = o.position;
    lowest = std::min(lowest, o.position);
  }
  plan.caught_up = plan.partitions.empty() || lowest >= in.mark;
  plan.paused = plan.caught_up && (paused_behind || every_paused);
  if (plan.caught_up) return plan;
  plan.isolating = in.isolation.IsolatingAt(lowest);
  plan.request.high_water_mark = in.mark;
  plan.request.limit = plan.isolating ? 1 : in.batch_size;
  return plan;
}

Batch ToBatch(const BatchPlan& plan, ReadResult result, const std::string& replica_set,
              const std::string& projection, const std::string& writer) {
  Batch batch;
  batch.read = result.events.size();
  batch.full = static_cast<int>(result.events.size()) >= plan.request.limit;
  if (!result.events.empty()) batch.last_position = result.events.back().event.global_position;
  if (result.events.size() == 1) batch.only = result.events.front().event;
  batch.events.reserve(result.events.size());
  batch.partitions.reserve(result.events.size());
  for (auto& e : result.events) {
    if (const auto it = plan.partitions.find(e.partition);
        it != plan.partitions.end() && e.event.global_position <= it->second.replay_until) {
      batch.replaying = true;
    }
    batch.partitions.push_back(e.partition);
    batch.events.push_back(std::move(e.event));
  }
  for (const auto& [p, o] : plan.partitions) {
    const auto next = std::max(o.position, result.scanned_to);
    if (next != o.position) {
      batch.progress.checkpoints.push_back({{replica_set, projection, p}, next, o.generation, writer});
      batch.progress.from.push_back(o.position);
    }
  }
  return batch;
}

}  // namespace projd
