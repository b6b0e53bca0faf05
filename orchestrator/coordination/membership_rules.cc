#include "orchestrator/coordination/membership_rules.h"

#include <algorithm>

namespace projd {

using std::chrono::milliseconds;

milliseconds MembershipTimings::JoinGrace() const { return std::min(heartbeat_interval, milliseconds(1000)); }

milliseconds MembershipTimings::SelfFenceAfter() const {
  const auto margin = std::min(heartbeat_interval, stale_timeout / 2);
  return stale_timeout - margin;
}

milliseconds MembershipTimings::HandoverPoll() const { return std::max(heartbeat_interval / 4, milliseconds(20)); }

bool ShouldSelfFence(Clock::Monotonic::time_point last_success_attempt, Clock::Monotonic::time_point now,
                     const MembershipTimings& timings) {
  return now - last_success_attempt > timings.SelfFenceAfter();
}

bool SelfFenceDue(bool owns_partitions, Clock::Monotonic::time_point last_success_attempt,
                  Clock::Monotonic::time_point now, const MembershipTimings& timings) {
  return owns_partitions && ShouldSelfFence(last_success_attempt, now, timings);
}

HeartbeatVerdict ClassifyHeartbeat(const HeartbeatResult& heartbeat, bool was_self_fenced) {
  if (!heartbeat.found) return HeartbeatVerdict::kEvicted;
  return was_self_fenced ? HeartbeatVerdict::kResumed : HeartbeatVerdict::kAlive;
}

milliseconds NextRoundDelay(const RoundOutlook& outlook, const MembershipTimings& timings) {
  milliseconds wait = timings.heartbeat_interval;
  // A little past the grace, so that the re-check does not land just before it ends.
  if (outlook.join_grace_left > milliseconds(0)) wait = std::min(wait, outlook.join_grace_left + milliseconds(10));
  if (outlook.handover_pending) wait = std::min(wait, timings.HandoverPoll());
  if (outlook.retry_soon) wait = std::min(wait, milliseconds(250));
  return wait;
}

GenerationDecision DecideGeneration(const HeartbeatResult& heartbeat, const MembershipTimings& timings) {
  if (!heartbeat.found || !heartbeat.membership_changed) return {};
  const auto grace = timings.JoinGrace();
  if (heartbeat.youngest_member_age < grace) return {false, grace - heartbeat.youngest_member_age};
  return {true, milliseconds(0)};
}

HandoverDecision DecideHandover(const AssignmentView& view, const std::vector<Member>& members,
                                const std::string& self_id, const MembershipTimings& timings) {
  HandoverDecision d;
  for (const auto& m : members) {
    if (m.worker_id == self_id || m.acked_generation >= view.generation) continue;
    d.waiting_for.push_back(m.worker_id);
  }
  d.ready = d.waiting_for.empty();
  if (!d.ready && view.generation_age >= timings.coordination_timeout) d.late = d.waiting_for;
  return d;
}

}  // namespace projd
