#include "orchestrator/persistence/pending_checkpoints.h"

#include <algorithm>
#include <utility>

namespace projd {

std::string ToString(SubmitCode c) {
  switch (c) {
    case SubmitCode::kAccepted: return "accepted";
    case SubmitCode::kCoalesced: return "coalesced";
    case SubmitCode::kUnchanged: return "unchanged";
    case SubmitCode::kRejectedFull: return "rejected_full";
    case SubmitCode::kRejectedStale: return "rejected_stale";
  }
  return "unknown";
}

// --- Submits -------------------------------------------------------------------------------

SubmitCode PendingCheckpoints::Admit(const Checkpoint& cp, TimePoint now, int max_pending) {
  if (auto f = fenced_generation_.find(cp.key); f != fenced_generation_.end() && cp.generation <= f->second) {
    return SubmitCode::kRejectedStale;
  }
  if (auto d = durable_.find(cp.key); d != durable_.end() && d->second.generation == cp.generation &&
                                       d->second.position >= cp.position && !pending_.count(cp.key)) {
    return SubmitCode::kUnchanged;
  }
  if (auto p = pending_.find(cp.key); p != pending_.end()) {
    if (cp.generation < p->second.checkpoint.generation) return SubmitCode::kRejectedStale;
    if (Supersedes(cp, p->second.checkpoint)) p->second.checkpoint = cp;
    return SubmitCode::kCoalesced;
  }
  if (static_cast<int>(used()) >= max_pending) return SubmitCode::kRejectedFull;
  pending_.emplace(cp.key, Pending{cp, now});
  return SubmitCode::kAccepted;
}

std::shared_ptr<DurabilityTicket> PendingCheckpoints::IssueTicket(const Checkpoint& cp, SubmitCode code) {
  auto ticket = std::make_shared<DurabilityTicket>(cp.position);
  if (code == SubmitCode::kUnchanged) {
    ticket->Resolve(Durability::kDurable);
  } else {
    tickets_.emplace(cp.key, ticket);
  }
  return ticket;
}

// --- Flushes -------------------------------------------------------------------------------

bool PendingCheckpoints::HasWork(KeyFilter only) const {
  return std::any_of(pending_.begin(), pending_.end(), [&](const auto& entry) { return Selected(only, entry.first); });
}

std::vector<Checkpoint> PendingCheckpoints::Take(KeyFilter only, std::size_t limit) {
  std::vector<std::pair<TimePoint, CheckpointKey>> order;
  for (const auto& [key, p] : pending_) {
    if (Selected(only, key)) order.emplace_back(p.since, key);
  }
  std::sort(order.begin(), order.end());
  std::vector<Checkpoint> batch;
  for (std::size_t i = 0; i < order.size() && batch.size() < limit; ++i) {
    auto it = pending_.find(order[i].second);
    batch.push_back(it->second.checkpoint);
    in_flight_.emplace(it->first, it->second.checkpoint);
    pending_.erase(it);
  }
  return batch;
}

std::vector<Checkpoint> PendingCheckpoints::Written(const std::vector<Checkpoint>& batch,
                                                    const std::vector<CheckpointKey>& fenced) {
  const std::set<CheckpointKey> fenced_keys(fenced.begin(), fenced.end());
  std::vector<Checkpoint> out;
  for (const auto& cp : batch) {
    in_flight_.erase(cp.key);
    if (fenced_keys.count(cp.key)) {
      fenced_generation_[cp.key] = std::max(fenced_generation_[cp.key], cp.generation);
      // A pending entry of the same or an older generation is fenced too.
      if (auto p = pending_.find(cp.key); p != pending_.end() && p->second.checkpoint.generation <= cp.generation) {
        pending_.erase(p);
      }
      out.push_back(cp);
    } else {
      MarkDurable(cp);
    }
    ResolveTickets(cp.key);
  }
  return out;
}

void PendingCheckpoints::Failed(const std::vector<Checkpoint>& batch, TimePoint start) {
  for (const auto& cp : batch) {
    in_flight_.erase(cp.key);
    auto p = pending_.find(cp.key);
    if (p == pending_.end()) {
      pending_.emplace(cp.key, Pending{cp, start});
    } else {
      if (Supersedes(cp, p->second.checkpoint)) p->second.checkpoint = cp;
      p->second.since = std::min(p->second.since, start);
    }
  }
}

void PendingCheckpoints::UnitCommitted(const std::vector<Checkpoint>& checkpoints) {
  for (const auto& cp : checkpoints) {
    MarkDurable(cp);
    ResolveTickets(cp.key);
  }
}

void PendingCheckpoints::MarkDurable(const Checkpoint& cp) {
  auto& d = durable_[cp.key];
  if (cp.generation > d.generation || (cp.generation == d.generation && cp.position > d.position)) {
    d = {cp.generation, cp.position};
  }
}

void PendingCheckpoints::ResolveTickets(const CheckpointKey& key) {
  const auto d = durable_.find(key);
  const bool fenced = FencedAndIdle(key);
  auto [begin, end] = tickets_.equal_range(key);
  for (auto it = begin; it != end;) {
    if (d != durable_.end() && d->second.position >= it->second->target()) {
      it->second->Resolve(Durability::kDurable);
      it = tickets_.erase(it);
    } else if (fenced) {
      it->second->Resolve(Durability::kFenced);
      it = tickets_.erase(it);
    } else {
      ++it;
    }
  }
}

bool PendingCheckpoints::FencedAndIdle(const CheckpointKey& key) const {
  return fenced_generation_.count(key) && !pending_.count(key) && !in_flight_.count(key);
}

// --- Barriers ------------------------------------------------------------------------------

PendingCheckpoints::Targets PendingCheckpoints::AllTargets() const {
  Targets targets = PendingTargets();
  for (const auto& [k, cp] : in_flight_) targets[k] = std::max(targets[k], cp.position);
  return targets;
}

PendingCheckpoints::Targets PendingCheckpoints::TargetsOf(const std::vector<CheckpointKey>& keys) const {
  Targets targets;
  for (const auto& k : keys) {
    if (auto p = pending_.find(k); p != pending_.end()) targets[k] = p->second.checkpoint.position;
    if (auto f = in_flight_.find(k); f != in_flight_.end()) targets[k] = std::max(targets[k], f->second.position);
  }
  return targets;
}

PendingCheckpoints::Targets PendingCheckpoints::PendingTargets() const {
  Targets targets;
  for (const auto& [k, p] : pending_) targets[k] = p.checkpoint.position;
  return targets;
}

bool PendingCheckpoints::Satisfied(const Targets& targets) const {
  for (const auto& [key, position] : targets) {
    if (FencedAndIdle(key)) continue;
    const auto d = durable_.find(key);
    if (d == durable_.end() || d->second.position < position) return false;
  }
  return true;
}

bool PendingCheckpoints::AnyInFlight(const std::set<CheckpointKey>& keys) const {
  return std::any_of(keys.begin(), keys.end(), [&](const CheckpointKey& key) { return in_flight_.count(key) > 0; });
}

// --- Shutdown ------------------------------------------------------------------------------

std::vector<Checkpoint> PendingCheckpoints::Unflushed() const {
  std::vector<Checkpoint> out;
  for (const auto& [k, p] : pending_) {
    // A runner's empty-round checkpoint that a unit of its generation has since committed
    // past: writing it would change nothing, so nothing is lost when it is not written.
    const auto d = durable_.find(k);
    if (d != durable_.end() && d->second.generation == p.checkpoint.generation &&
        d->second.position >= p.checkpoint.position) {
      continue;
    }
    out.push_back(p.checkpoint);
  }
  for (const auto& [k, cp] : in_flight_) out.push_back(cp);
  return out;
}

void PendingCheckpoints::AbandonTickets() {
  for (auto& [k, t] : tickets_) t->Resolve(Durability::kAbandoned);
  tickets_.clear();
}

// --- Figures -------------------------------------------------------------------------------

std::int64_t PendingCheckpoints::DurablePosition(const CheckpointKey& key) const {
  const auto d = durable_.find(key);
  return d == durable_.end() ? 0 : d->second.position;
}

std::int64_t PendingCheckpoints::FlushedPosition(const CheckpointKey& key) const {
  const auto f = in_flight_.find(key);
  return std::max(DurablePosition(key), f == in_flight_.end() ? 0 : f->second.position);
}

PressureReading PendingCheckpoints::Pressure(TimePoint now) const {
  // Positions are global: one runner moving 64 partitions by 100 events each is 100 events
  // of lag, not 6,400. The widest distance between pending and durable is the lag.
  PressureReading r;
  for (const auto& [key, p] : pending_) {
    r.lag_events = std::max(r.lag_events, p.checkpoint.position - DurablePosition(key));
    r.unflushed_events = std::max(r.unflushed_events, p.checkpoint.position - FlushedPosition(key));
  }
  r.oldest_age = std::chrono::duration_cast<std::chrono::milliseconds>(now - OldestSince(now));
  r.used = static_cast<int>(used());
  return r;
}

PressureReading PendingCheckpoints::PressureOf(const CheckpointKey& key) const {
  PressureReading r;
  r.used = static_cast<int>(used());
  const auto p = pending_.find(key);
  if (p == pending_.end()) return r;
  const auto position = p->second.checkpoint.position;
  r.lag_events = position - DurablePosition(key);
  r.unflushed_events = position - FlushedPosition(key);
  return r;
}

PendingCheckpoints::TimePoint PendingCheckpoints::OldestSince(TimePoint now) const {
  auto oldest = now;
  for (const auto& [k, p] : pending_) oldest = std::min(oldest, p.since);
  return oldest;
}

}  // namespace projd
