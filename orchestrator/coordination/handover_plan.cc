#include "orchestrator/coordination/handover_plan.h"

namespace projd {

HandoverPlan PlanHandover(const AssignmentView& view, const std::set<int>& owned, const std::string& self_id) {
  std::set<int> mine;
  for (int p = 0; p < view.partitions; ++p) {
    if (view.owner_ids[p] == self_id) mine.insert(p);
  }
  HandoverPlan plan;
  for (int p : owned) {
    if (!mine.count(p)) plan.release.push_back(p);
  }
  for (int p : mine) {
    if (!owned.count(p)) plan.take.push_back(p);
  }
  return plan;
}

TakePlan PlanTake(const std::vector<int>& gained, const StampResult& stamp) {
  std::set<int> refused, busy;
  for (const auto& k : stamp.lost) refused.insert(k.partition);
  for (const auto& k : stamp.busy) busy.insert(k.partition);
  const auto held_back = [&](int p) { return refused.count(p) > 0 || busy.count(p) > 0; };
  TakePlan plan;
  for (const auto& cp : stamp.taken) {
    if (!held_back(cp.key.partition)) plan.start.push_back(cp);
  }
  for (int p : gained) (held_back(p) ? plan.waiting : plan.taken).push_back(p);
  plan.refused.assign(refused.begin(), refused.end());
  plan.busy.assign(busy.begin(), busy.end());
  return plan;
}

LayoutChange AssignmentLayout::Observe(const AssignmentView& view) {
  LayoutChange change{RestartCause::kNone, partitions_};
  if (view.partitions != partitions_) {
    change.cause = RestartCause::kPartitionCount;
  } else if (rebuild_generation_ >= 0 && view.rebuild_generation > rebuild_generation_) {
    change.cause = RestartCause::kRebuild;
  }
  partitions_ = view.partitions;
  rebuild_generation_ = view.rebuild_generation;
  return change;
}

}  // namespace projd
