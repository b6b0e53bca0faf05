// PendingCheckpoints: what the persistence core knows of every checkpoint key, and the
// tickets waiting on them. A key's newest checkpoint is pending (submitted, coalesced, not
// written yet) or in flight (taken by a flush whose transaction has not ended); what the
// database confirmed is durable, or fenced (a newer generation owns the row).
//
// Pure bookkeeping: no lock, no thread, no clock (callers pass the time). The core guards
// it with its lock; tests drive it directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/common/clock.h"
#include "orchestrator/persistence/checkpoint.h"
#include "orchestrator/persistence/durability_ticket.h"
#include "orchestrator/persistence/persistence_pressure.h"

namespace projd {

enum class SubmitCode {
  kAccepted,       // a new pending key
  kCoalesced,      // merged into the pending entry of its key
  kUnchanged,      // already durable at this position: nothing to write
  kRejectedFull,   // MAX_PENDING reached: retry later (backpressure)
  kRejectedStale,  // older generation than the pending or fenced one: never retry
};
std::string ToString(SubmitCode c);
inline bool Accepted(SubmitCode c) { return c != SubmitCode::kRejectedFull && c != SubmitCode::kRejectedStale; }

// Coalescing order: a newer generation wins, then a higher position.
inline bool Supersedes(const Checkpoint& a, const Checkpoint& b) {
  return a.generation > b.generation || (a.generation == b.generation && a.position > b.position);
}

class PendingCheckpoints {
 public:
  using TimePoint = Clock::Monotonic::time_point;
  // Per key, the position a barrier waits for.
  using Targets = std::map<CheckpointKey, std::int64_t>;
  // A set of keys to act on; null = every key.
  using KeyFilter = const std::set<CheckpointKey>*;

  // --- Submits ---------------------------------------------------------------------------
  // Classifies a submit at `now` and, when it is accepted or coalesced, records it: a fenced
  // generation or one older than the pending entry is stale; a position already durable is
  // unchanged (unless the key is pending); a new key past `max_pending` keys (pending plus
  // in flight) is refused.
  SubmitCode Admit(const Checkpoint& cp, TimePoint now, int max_pending);
  // The ticket of an admitted submit (Accepted(code)): already durable when unchanged, else
  // waiting for a durable position >= cp.position.
  std::shared_ptr<DurabilityTicket> IssueTicket(const Checkpoint& cp, SubmitCode code);

  // --- Flushes ---------------------------------------------------------------------------
  // Is any key of `only` pending?
  bool HasWork(KeyFilter only) const;
  // Moves up to `limit` pending checkpoints of `only` in flight, the longest-waiting first
  // (no key starves behind busy ones), and returns them.
  std::vector<Checkpoint> Take(KeyFilter only, std::size_t limit);
  // The transaction of `batch` committed; `fenced` keys were rejected by a newer generation.
  // Marks the rest durable, records the fencing (a pending entry of the same or an older
  // generation is fenced too), resolves tickets, and returns the fenced checkpoints.
  std::vector<Checkpoint> Written(const std::vector<Checkpoint>& batch, const std::vector<CheckpointKey>& fenced);
  // The transaction of `batch`, begun at `start`, failed or its outcome is unknown: merges it
  // back into pending (a newer pending entry wins; the older `since` is kept).
  void Failed(const std::vector<Checkpoint>& batch, TimePoint start);
  // A transactional unit committed these checkpoints.
  void UnitCommitted(const std::vector<Checkpoint>& checkpoints);

  // --- Barriers --------------------------------------------------------------------------
  Targets AllTargets() const;      // every pending and in-flight key (ForcePersistence)
  Targets TargetsOf(const std::vector<CheckpointKey>& keys) const;  // those of `keys` (Revoke)
  Targets PendingTargets() const;  // pending keys only (the final drain)
  // Every target durable, or its key fenced with nothing of it pending or in flight.
  bool Satisfied(const Targets& targets) const;
  bool AnyInFlight(const std::set<CheckpointKey>& keys) const;

  // --- Shutdown --------------------------------------------------------------------------
  // Pending (but not those a committed unit of their generation is at or past), then in flight.
  std::vector<Checkpoint> Unflushed() const;
  void AbandonTickets();                      // resolves every waiting ticket as kAbandoned

  // --- Figures ---------------------------------------------------------------------------
  // Every pending key: the widest lag, the oldest age, the keys used.
  PressureReading Pressure(TimePoint now) const;
  // One pending key's lag (its age is not measured): a submit can grow only its own key's.
  PressureReading PressureOf(const CheckpointKey& key) const;
  std::size_t pending_count() const { return pending_.size(); }
  std::size_t used() const { return pending_.size() + in_flight_.size(); }  // pending plus in flight
  // When the oldest pending checkpoint was submitted (`now` when none is).
  TimePoint OldestSince(TimePoint now) const;

 private:
  struct Pending {
    Checkpoint checkpoint;
    TimePoint since;
  };
  struct Durable {
    std::int64_t generation = 0;
    std::int64_t position = 0;
  };

  bool Selected(KeyFilter only, const CheckpointKey& key) const { return !only || only->count(key) > 0; }
  void MarkDurable(const Checkpoint& cp);
  void ResolveTickets(const CheckpointKey& key);
  bool FencedAndIdle(const CheckpointKey& key) const;  // fenced, nothing pending or in flight
  // The key's durable position, and the higher of that and its write in flight.
  std::int64_t DurablePosition(const CheckpointKey& key) const;
  std::int64_t FlushedPosition(const CheckpointKey& key) const;

  std::map<CheckpointKey, Pending> pending_;
  std::map<CheckpointKey, Checkpoint> in_flight_;
  std::map<CheckpointKey, Durable> durable_;
  std::map<CheckpointKey, std::int64_t> fenced_generation_;
  std::multimap<CheckpointKey, std::shared_ptr<DurabilityTicket>> tickets_;
};

}  // namespace projd
