// Membership decisions of a worker, as pure functions of what the database reported and
// the worker's monotonic clock (unit-tested with a fake clock and fake store).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "orchestrator/common/clock.h"
#include "orchestrator/coordination/coordination_store.h"

namespace projd {

struct MembershipTimings {
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds stale_timeout{30000};
  std::chrono::milliseconds coordination_timeout{60000};

  // Joins wait this long (by the database clock, since the newest registration) before a
  // generation forms, so pods started together land in one generation.
  std::chrono::milliseconds JoinGrace() const;
  // A worker whose last successful heartbeat attempt started longer ago than this stops
  // processing by itself: its peers may evict it at stale_timeout, and the margin (one
  // heartbeat interval, at most half the timeout) covers the clock and the in-flight batch.
  std::chrono::milliseconds SelfFenceAfter() const;
  // How often a handover in progress is looked at again (the release of given-up
  // partitions, the peers' acknowledgements): a quarter interval, at least 20 ms.
  std::chrono::milliseconds HandoverPoll() const;
};

bool ShouldSelfFence(Clock::Monotonic::time_point last_success_attempt, Clock::Monotonic::time_point now,
                     const MembershipTimings& timings);
// Whether a worker drops every partition before this round's heartbeat: it still owns some
// and its last successful heartbeat attempt is past the self-fence threshold.
bool SelfFenceDue(bool owns_partitions, Clock::Monotonic::time_point last_success_attempt,
                  Clock::Monotonic::time_point now, const MembershipTimings& timings);

// What a successful heartbeat statement means for this worker.
enum class HeartbeatVerdict {
  kEvicted,  // its row is gone (a peer evicted it): drop everything and register again
  kResumed,  // it had self-fenced: re-read the assignment and take its partitions again
  kAlive,    // carry on
};
HeartbeatVerdict ClassifyHeartbeat(const HeartbeatResult& heartbeat, bool was_self_fenced);

// What a finished round leaves to do soon, for the delay before the next.
struct RoundOutlook {
  std::chrono::milliseconds join_grace_left{0};  // DecideGeneration's wait
  bool handover_pending = false;  // released partitions not acknowledged, or gained ones not taken
  bool retry_soon = false;        // a release drains, or stamped rows were held by a transaction
};
// The heartbeat interval, shortened to re-check just after the join grace ends, to poll a
// pending handover, and to 250 ms while a release drains or rows are busy.
std::chrono::milliseconds NextRoundDelay(const RoundOutlook& outlook, const MembershipTimings& timings);

// Whether a generation should be formed now, or how long the join grace still runs.
struct GenerationDecision {
  bool form = false;
  std::chrono::milliseconds wait{0};  // > 0: re-check after this long
};
GenerationDecision DecideGeneration(const HeartbeatResult& heartbeat, const MembershipTimings& timings);

// Whether a worker may start the partitions it gained under `view.generation`: every live
// member has acknowledged the generation (so whoever owned them before has released and
// drained them). Members that have not acknowledged once COORDINATION_TIMEOUT has passed
// since the generation formed are listed in `late`, to be evicted.
struct HandoverDecision {
  bool ready = false;
  std::vector<std::string> waiting_for;  // members that have not acknowledged yet
  std::vector<std::string> late;         // ...and are past the coordination timeout
};
HandoverDecision DecideHandover(const AssignmentView& view, const std::vector<Member>& members,
                                const std::string& self_id, const MembershipTimings& timings);

}  // namespace projd
