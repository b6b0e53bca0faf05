#include "orchestrator/persistence/persistence_core.h"

#include <algorithm>

#include "orchestrator/config/database_url.h"
#include "orchestrator/common/errors.h"

namespace projd {
namespace {

// Coalescing order: a newer generation wins, then a higher position.
bool Supersedes(const Checkpoint& a, const Checkpoint& b) {
  return a.generation > b.generation || (a.generation == b.generation && a.position > b.position);
}

std::int64_t EpochMs(Clock::Wall::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

PressureLimits Limits(const PersistenceOptions& o) {
  return {o.max_lag_events, o.max_lag_time, o.max_pending};
}

}  // namespace

PersistenceOptions PersistenceOptions::FromConfig(const Config& c) {
  PersistenceOptions o;
  o.interval = c.persistence_interval;
  o.timeout = c.persistence_timeout;
  o.force_timeout = c.force_persistence_timeout;
  o.shutdown_timeout = c.shutdown_timeout;
  o.max_batch_size = c.max_batch_size;
  o.max_pending = c.max_pending;
  o.breaker_threshold = c.circuit_breaker_failure_threshold;
  o.breaker_timeout = c.circuit_breaker_timeout;
  o.max_lag_events = std::max<std::int64_t>(100000, 100LL * c.batch_size);
  o.max_lag_time = 2 * (c.persistence_interval + c.persistence_timeout);
  return o;
}

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

std::string ToString(ForceResult r) {
  switch (r) {
    case ForceResult::kOk: return "ok";
    case ForceResult::kTimeout: return "timeout";
    case ForceResult::kCircuitOpen: return "circuit_open";
  }
  return "unknown";
}

std::string ToString(Trigger t) {
  switch (t) {
    case Trigger::kInterval: return "interval";
    case Trigger::kSize: return "size";
    case Trigger::kLag: return "lag";
    case Trigger::kCaughtUp: return "caught_up";
    case Trigger::kForce: return "force";
    case Trigger::kRevoke: return "revoke";
    case Trigger::kShutdown: return "shutdown";
  }
  return "unknown";
}

std::string ToString(UnitResult r) {
  switch (r) {
    case UnitResult::kCommitted: return "committed";
    case UnitResult::kFenced: return "fenced";
    case UnitResult::kMoved: return "moved";
    case UnitResult::kCircuitOpen: return "circuit_open";
    case UnitResult::kRejectedFull: return "rejected_full";
    case UnitResult::kFailed: return "failed";
    case UnitResult::kShutDown: return "shut_down";
  }
  return "unknown";
}

// --- DurabilityTicket -------------------------------------------------------------------

Durability DurabilityTicket::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return state_ != Durability::kPending; });
  return state_;
}

Durability DurabilityTicket::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void DurabilityTicket::Resolve(Durability d) {
  {
    std::lock_guard lock(mu_);
    if (state_ != Durability::kPending) return;
    state_ = d;
  }
  cv_.notify_all();
}

// --- PersistenceCore --------------------------------------------------------------------

PersistenceCore::PersistenceCore(CheckpointStore& store, const Clock& clock, PersistenceOptions options,
                                 FencedCallback on_fenced, PersistenceObserver* observer,
                                 std::optional<Logger> logger)
    : store_(store),
      clock_(clock),
      options_(options),
      on_fenced_(std::move(on_fenced)),
      observer_(observer),
      created_(clock.Now()),
      breaker_(clock, options.breaker_threshold, options.breaker_timeout),
      logger_(std::move(logger)),
      failure_log_(options.failure_log_interval),
      probe_log_(options.failure_log_interval) {
  auto shared = std::make_unique<Lane>();
  shared->store = &store_;
  shared->shared = true;
  lanes_.push_back(std::move(shared));
}

PersistenceCore::~PersistenceCore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  flusher_.Join();
  StopLanes();
  for (auto& lane : lanes_) {
    for (auto& q : lane->queue) q.promise.set_value(UnitResult::kShutDown);  // never started
  }
}

PersistenceCore::LaneId PersistenceCore::AddLane(CheckpointStore& store) {
  auto lane = std::make_unique<Lane>();
  lane->store = &store;
  std::lock_guard lock(mu_);
  lanes_.push_back(std::move(lane));
  return static_cast<LaneId>(lanes_.size() - 1);
}

void PersistenceCore::Start() {
  const auto first_tick = clock_.Now() + options_.interval;
  flusher_.Start([this, first_tick] { FlusherLoop(first_tick); });
  for (auto& lane : lanes_) lane->thread.Start([this, l = lane.get()] { UnitLoop(*l); });
}

void PersistenceCore::StopLanes() {
  // stopping_ was set under mu_, so a lane waiting on its cv sees it when woken.
  for (auto& lane : lanes_) lane->cv.notify_all();
  for (auto& lane : lanes_) lane->thread.Join();
}

std::vector<PersistenceCore::AbandonedLane> PersistenceCore::StopLanesBy(Clock::Monotonic::time_point deadline) {
  for (auto& lane : lanes_) lane->cv.notify_all();
  std::vector<AbandonedLane> abandoned;
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    const auto left = std::max(deadline - clock_.Now(), Clock::Monotonic::duration::zero());
    if (lanes_[i]->thread.JoinFor(left)) continue;
    abandoned.push_back({lanes_[i]->shared ? "persistence unit lane (shared)" : "persistence unit lane " + std::to_string(i),
                         lanes_[i]->shared});
  }
  return abandoned;
}

SubmitResult PersistenceCore::Submit(const Checkpoint& cp) {
  SubmitResult result;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) {
      result.code = SubmitCode::kRejectedFull;
    } else if (auto f = fenced_generation_.find(cp.key); f != fenced_generation_.end() && cp.generation <= f->second) {
      result.code = SubmitCode::kRejectedStale;
    } else if (auto d = durable_.find(cp.key);
               d != durable_.end() && d->second.generation == cp.generation && d->second.position >= cp.position &&
               !pending_.count(cp.key)) {
      result.code = SubmitCode::kUnchanged;
    } else if (auto p = pending_.find(cp.key); p != pending_.end()) {
      if (cp.generation < p->second.checkpoint.generation) {
        result.code = SubmitCode::kRejectedStale;
      } else {
        if (Supersedes(cp, p->second.checkpoint)) p->second.checkpoint = cp;
        result.code = SubmitCode::kCoalesced;
      }
    } else if (static_cast<int>(pending_.size() + in_flight_.size()) >= options_.max_pending) {
      result.code = SubmitCode::kRejectedFull;
    } else {
      pending_.emplace(cp.key, Pending{cp, clock_.Now()});
      result.code = SubmitCode::kAccepted;
    }
    switch (result.code) {
      case SubmitCode::kRejectedFull: ++stats_.rejected_full; break;
      case SubmitCode::kRejectedStale: ++stats_.rejected_stale; break;
      case SubmitCode::kCoalesced: ++stats_.coalesced; break;
      case SubmitCode::kUnchanged: ++stats_.unchanged; break;
      case SubmitCode::kAccepted: break;
    }
    if (result.ok()) {
      result.ticket = std::make_shared<DurabilityTicket>(cp.position);
      if (result.code == SubmitCode::kUnchanged) {
        result.ticket->Resolve(Durability::kDurable);
      } else {
        tickets_.emplace(cp.key, result.ticket);
      }
      const auto used = static_cast<std::int64_t>(pending_.size() + in_flight_.size());
      if (used * 5 >= static_cast<std::int64_t>(options_.max_pending) * 4) ++stats_.capacity_warnings;
      if (static_cast<int>(pending_.size()) >= options_.max_batch_size && !size_trigger_) {
        size_trigger_ = true;
        wake = true;
      }
      // The work triggers the flush long before a runner would have to pause for it. Only
      // this key's lag can have grown, so it is the only one measured here.
      if (!requested_ && result.code != SubmitCode::kUnchanged) {
        const auto position = pending_.find(cp.key)->second.checkpoint.position;
        PressureReading r;
        r.lag_events = position - DurablePosition(cp.key);
        r.unflushed_events = position - FlushedPosition(cp.key);
        r.used = static_cast<int>(used);
        if (AssessPressure(r, Limits(options_)) != PressureAction::kNone) wake = RequestFlush(Trigger::kLag) || wake;
      }
    }
  }
  if (wake) wake_.notify_all();
  if (!result.ok() && observer_) observer_->OnRefused(result.code);
  return result;
}

void PersistenceCore::MarkDurable(const Checkpoint& cp) {
  auto& d = durable_[cp.key];
  if (cp.generation > d.generation || (cp.generation == d.generation && cp.position > d.position)) {
    d = {cp.generation, cp.position};
  }
}

void PersistenceCore::ResolveTickets(const CheckpointKey& key) {
  const auto d = durable_.find(key);
  const auto f = fenced_generation_.find(key);
  auto [begin, end] = tickets_.equal_range(key);
  for (auto it = begin; it != end;) {
    if (d != durable_.end() && d->second.position >= it->second->target()) {
      it->second->Resolve(Durability::kDurable);
      it = tickets_.erase(it);
    } else if (f != fenced_generation_.end() && !pending_.count(key) && !in_flight_.count(key)) {
      it->second->Resolve(Durability::kFenced);
      it = tickets_.erase(it);
    } else {
      ++it;
    }
  }
}

void PersistenceCore::RecordAttempt(bool success, std::chrono::microseconds duration) {
  const double ms = duration.count() / 1000.0;
  ++stats_.total_requests;
  ++attempts_;
  total_response_ms_ += ms;
  stats_.average_response_time = total_response_ms_ / static_cast<double>(attempts_);
  stats_.max_response_time = std::max(stats_.max_response_time, ms);
  stats_.min_response_time = attempts_ == 1 ? ms : std::min(stats_.min_response_time, ms);
  const auto now = EpochMs(clock_.WallNow());
  if (success) {
    ++stats_.successful_requests;
    stats_.last_success_time = now;
    stats_.last_persistence_time = now;
  } else {
    ++stats_.failed_requests;
    stats_.last_failure_time = now;
  }
}

void PersistenceCore::NoteBreaker(BreakerState before) {
  BreakerState after;
  {
    std::lock_guard lock(mu_);
    after = breaker_.state();
  }
  if (after == before) return;
  LogBreakerChange(before, after, "");
  if (observer_) observer_->OnBreakerChange(after);
}

void PersistenceCore::LogBreakerChange(BreakerState before, BreakerState after, const std::string& error) {
  if (!logger_ || after == before) return;
  // Opening and closing are the edges of an outage: always logged. A failed probe (half-open
  // back to open, every CIRCUIT_BREAKER_TIMEOUT) is rate-limited in AfterAttempt.
  if (after == BreakerState::kOpen) {
    logger_->Error("persistence circuit breaker opened: checkpoints are kept pending, units and forced flushes "
                   "fail fast until a probe succeeds",
                   {{"after_failures", std::to_string(options_.breaker_threshold)},
                    {"probe_in_ms", std::to_string(options_.breaker_timeout.count())},
                    {"error", error}});
  } else if (after == BreakerState::kClosed) {
    logger_->Info("persistence circuit breaker closed", {{"was", ToString(before)}});
  } else {
    logger_->Info("persistence circuit breaker half-open: probing with one transaction");
  }
}

void PersistenceCore::AfterAttempt(const std::string& operation, const std::string& error, bool probe,
                                   BreakerState before) {
  BreakerState after;
  {
    std::lock_guard lock(mu_);
    after = breaker_.state();
  }
  if (logger_) {
    std::lock_guard lock(log_mu_);
    const auto now = clock_.Now();
    if (!error.empty()) {
      if (const auto covered = failure_log_.Occur(now)) {
        logger_->Warn("persistence transaction failed; pending checkpoints are kept and retried",
                      {{"operation", operation}, {"error", error},
                       {"failures", std::to_string(failure_log_.episode())},
                       {"since_last_log", std::to_string(covered)},
                       {"breaker", ToString(after)}});
      }
      if (probe && after == BreakerState::kOpen) {
        if (const auto covered = probe_log_.Occur(now)) {
          logger_->Warn("persistence circuit breaker probe failed; open again",
                        {{"error", error}, {"probes_failed", std::to_string(covered)},
                         {"probe_in_ms", std::to_string(options_.breaker_timeout.count())}});
        }
      }
    } else if (const auto failed = failure_log_.End()) {
      probe_log_.End();
      logger_->Info("persistence transactions succeed again", {{"operation", operation},
                                                               {"failed_before", std::to_string(failed)}});
    }
  }
  // A probe that failed went open -> half-open -> open: no change to report.
  if (after != before) LogBreakerChange(before, after, error);
  if (after != before && observer_) observer_->OnBreakerChange(after);
}

FlushOutcome PersistenceCore::FlushOnce(Trigger trigger) { return Flush(trigger, nullptr); }

FlushOutcome PersistenceCore::Flush(Trigger trigger, const std::set<CheckpointKey>* only,
                                    std::optional<Clock::Monotonic::time_point> not_after) {
  std::lock_guard flush_lock(flush_mu_);
  std::vector<Checkpoint> batch;
  BreakerState breaker_before;
  bool probe = false;
  {
    std::lock_guard lock(mu_);
    breaker_before = breaker_.state();
    bool has_work = false;
    for (const auto& [key, p] : pending_) {
      if (!only || only->count(key)) {
        has_work = true;
        break;
      }
    }
    if (!has_work) return FlushOutcome::kNothing;
    if (!breaker_.Allow()) {
      ++stats_.flushes[ToString(trigger) + "/skipped"];
      return FlushOutcome::kSkippedOpen;
    }
    // A half-open probe is one small batch.
    probe = breaker_.state() == BreakerState::kHalfOpen;
    const std::size_t limit =
        breaker_.state() == BreakerState::kHalfOpen ? 1 : static_cast<std::size_t>(options_.max_batch_size);
    // Oldest first, so no key starves behind busy ones.
    std::vector<std::pair<Clock::Monotonic::time_point, CheckpointKey>> order;
    for (const auto& [key, p] : pending_) {
      if (!only || only->count(key)) order.emplace_back(p.since, key);
    }
    std::sort(order.begin(), order.end());
    for (std::size_t i = 0; i < order.size() && batch.size() < limit; ++i) {
      auto it = pending_.find(order[i].second);
      batch.push_back(it->second.checkpoint);
      in_flight_.emplace(it->first, it->second.checkpoint);
      pending_.erase(it);
    }
    size_trigger_ = false;
  }

  const auto start = clock_.Now();
  auto timeout = options_.timeout;
  if (not_after) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*not_after - start);
    timeout = std::clamp(left, std::chrono::milliseconds(1), timeout);
  }
  std::optional<WriteOutcome> outcome;
  std::string error;
  try {
    outcome = store_.WriteBatch(batch, timeout);
  } catch (const std::exception& e) {
    // Transient, in doubt, permanent (disk full, a read-only server, no privilege) or a
    // bug below: the outcome is unknown; merge back and retry. Nothing leaves this thread.
    error = e.what();
    if (error.empty()) error = "checkpoint write failed";
  } catch (...) {
    error = "checkpoint write failed with a non-standard exception";
  }
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now() - start);

  std::vector<Checkpoint> fenced;
  {
    std::lock_guard lock(mu_);
    RecordAttempt(outcome.has_value(), took);
    if (outcome) {
      breaker_.RecordSuccess();
      std::set<CheckpointKey> fenced_keys(outcome->fenced.begin(), outcome->fenced.end());
      for (const auto& cp : batch) {
        in_flight_.erase(cp.key);
        if (fenced_keys.count(cp.key)) {
          fenced_generation_[cp.key] = std::max(fenced_generation_[cp.key], cp.generation);
          ++stats_.fenced;
          // A pending entry of the same or an older generation is fenced too.
          if (auto p = pending_.find(cp.key); p != pending_.end() && p->second.checkpoint.generation <= cp.generation) {
            pending_.erase(p);
          }
          fenced.push_back(cp);
        } else {
          MarkDurable(cp);
        }
        ResolveTickets(cp.key);
      }
    } else {
      breaker_.RecordFailure();
      last_error_ = error;
      // Outcome unknown or failed: merge back; a newer pending entry wins.
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
    if (outcome) last_error_.clear();
    ++stats_.flushes[ToString(trigger) + (outcome ? "/success" : "/failure")];
  }
  AfterAttempt(ToString(trigger), error, probe, breaker_before);
  if (on_fenced_) {
    for (const auto& cp : fenced) on_fenced_(cp.key, cp.generation);
  }
  const auto result = outcome ? FlushOutcome::kSuccess : FlushOutcome::kFailure;
  if (observer_) observer_->OnFlush(trigger, result, took, batch.size());
  return result;
}

bool PersistenceCore::Satisfied(const std::map<CheckpointKey, std::int64_t>& targets) const {
  for (const auto& [key, position] : targets) {
    if (auto f = fenced_generation_.find(key); f != fenced_generation_.end() && !pending_.count(key) &&
                                                 !in_flight_.count(key)) {
      continue;
    }
    const auto d = durable_.find(key);
    if (d == durable_.end() || d->second.position < position) return false;
  }
  return true;
}

ForceResult PersistenceCore::DrainUntil(std::map<CheckpointKey, std::int64_t> targets, Trigger trigger,
                                        Clock::Monotonic::time_point deadline) {
  std::set<CheckpointKey> only;
  for (const auto& [k, p] : targets) only.insert(k);
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (Satisfied(targets)) return ForceResult::kOk;
    }
    if (clock_.Now() >= deadline) return ForceResult::kTimeout;
    // The final drain must end by its deadline; a handover's drain keeps whole batches.
    const auto outcome =
        Flush(trigger, &only, trigger == Trigger::kShutdown ? std::optional(deadline) : std::nullopt);
    if (outcome == FlushOutcome::kSkippedOpen) return ForceResult::kCircuitOpen;
    if (outcome == FlushOutcome::kNothing) {
      bool in_flight = false;
      {
        std::lock_guard lock(mu_);
        for (const auto& key : only) in_flight = in_flight || in_flight_.count(key) > 0;
        if (!in_flight) return Satisfied(targets) ? ForceResult::kOk : ForceResult::kTimeout;
      }
      // What is left is in flight on another thread: wait for that flush to finish.
      std::lock_guard flush_lock(flush_mu_);
    }
  }
}

ForceResult PersistenceCore::ForcePersistence(std::chrono::milliseconds timeout) {
  std::map<CheckpointKey, std::int64_t> targets;
  {
    std::lock_guard lock(mu_);
    if (breaker_.state() == BreakerState::kOpen) {
      ++stats_.rejected_circuit_open;
      return ForceResult::kCircuitOpen;
    }
    for (const auto& [k, p] : pending_) targets[k] = p.checkpoint.position;
    for (const auto& [k, cp] : in_flight_) targets[k] = std::max(targets[k], cp.position);
  }
  return DrainUntil(std::move(targets), Trigger::kForce, clock_.Now() + timeout);
}

ForceResult PersistenceCore::Revoke(const std::vector<CheckpointKey>& keys, std::chrono::milliseconds timeout) {
  std::map<CheckpointKey, std::int64_t> targets;
  {
    std::lock_guard lock(mu_);
    for (const auto& k : keys) {
      if (auto p = pending_.find(k); p != pending_.end()) targets[k] = p->second.checkpoint.position;
      if (auto f = in_flight_.find(k); f != in_flight_.end()) targets[k] = std::max(targets[k], f->second.position);
    }
  }
  return DrainUntil(std::move(targets), Trigger::kRevoke, clock_.Now() + timeout);
}

ShutdownReport PersistenceCore::Shutdown() { return Shutdown(clock_.Now() + options_.shutdown_timeout); }

ShutdownReport PersistenceCore::Shutdown(Clock::Monotonic::time_point deadline) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  ShutdownReport report;
  // Real time to wait: the clock may be a test's fake one.
  const auto left = [&] { return std::max(deadline - clock_.Now(), Clock::Monotonic::duration::zero()); };
  bool store_held = false;  // a thread left inside a transaction on the core's own store
  for (auto& lane : lanes_) lane->cv.notify_all();  // idle lanes end while the flusher is awaited
  if (!flusher_.JoinFor(left())) {
    report.abandoned.push_back("persistence flusher");
    store_held = true;
  }
  for (const auto& lane : StopLanesBy(deadline)) {
    report.abandoned.push_back(lane.name);
    store_held = store_held || lane.shared;
  }
  std::map<CheckpointKey, std::int64_t> targets;
  {
    std::lock_guard lock(mu_);
    for (const auto& [k, p] : pending_) targets[k] = p.checkpoint.position;
  }
  // A thread left inside a transaction on the core's store holds it: a drain would wait
  // behind it. A stuck lane of its own connection does not stop the drain.
  if (!store_held) {
    // Even with the breaker open the final drain tries: the breaker protects the database
    // from a flood, and this is the last chance to save progress.
    {
      std::lock_guard lock(mu_);
      breaker_.Reset();
    }
    while (DrainUntil(targets, Trigger::kShutdown, deadline) == ForceResult::kCircuitOpen &&
           clock_.Now() < deadline) {
      // The breaker opened during the drain: back off briefly and try again until the deadline.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::lock_guard lock(mu_);
      breaker_.Reset();
    }
  }
  std::lock_guard lock(mu_);
  shut_down_ = true;
  for (const auto& [k, p] : pending_) report.unflushed.push_back(p.checkpoint);
  for (const auto& [k, cp] : in_flight_) report.unflushed.push_back(cp);
  report.drained = report.abandoned.empty() && Satisfied(targets) && report.unflushed.empty();
  for (auto& [k, t] : tickets_) t->Resolve(Durability::kAbandoned);
  tickets_.clear();
  return report;
}

std::int64_t PersistenceCore::Unflushed() const {
  std::lock_guard lock(mu_);
  return static_cast<std::int64_t>(pending_.size() + in_flight_.size());
}

std::vector<Checkpoint> PersistenceCore::ReadCheckpoints(const std::string& replica_set,
                                                         const std::string& projection) {
  std::lock_guard flush_lock(flush_mu_);
  return store_.Read(replica_set, projection);
}

std::future<UnitResult> PersistenceCore::SubmitUnit(TransactionalUnit unit, LaneId lane_id) {
  std::promise<UnitResult> promise;
  auto future = promise.get_future();
  std::lock_guard lock(mu_);
  if (stopping_ || shut_down_) {
    promise.set_value(UnitResult::kShutDown);
  } else if (breaker_.state() == BreakerState::kOpen && !breaker_.ProbeDue()) {
    // Once the probe is due the unit goes to the lane and may be the probe: a worker with
    // only transactional projections has no checkpoint flush to probe with, and its breaker
    // would otherwise stay open until an operator reset it.
    ++stats_.rejected_circuit_open;
    promise.set_value(UnitResult::kCircuitOpen);
  } else if (units_in_flight_ >= options_.max_units_in_flight) {
    ++stats_.rejected_full;
    promise.set_value(UnitResult::kRejectedFull);
  } else {
    ++units_in_flight_;
    auto& lane = *lanes_.at(static_cast<std::size_t>(lane_id));
    lane.queue.push_back({std::move(unit), std::move(promise)});
    lane.cv.notify_one();
  }
  return future;
}

UnitResult PersistenceCore::RunUnit(const TransactionalUnit& unit, Lane& lane, std::string& error, bool& ok) {
  ok = false;
  try {
    UnitResult result = UnitResult::kFailed;
    switch (lane.store->CommitUnit(unit, options_.timeout)) {
      case UnitOutcome::kCommitted: result = UnitResult::kCommitted; break;
      case UnitOutcome::kFenced: result = UnitResult::kFenced; break;
      case UnitOutcome::kMoved: result = UnitResult::kMoved; break;
    }
    ok = true;
    return result;
  } catch (const HandlerError&) {
    // The unit's own code failed (a poison event): not the database's fault.
    ok = true;
  } catch (const std::exception& e) {
    // Every database error, permanent ones included (disk full, read-only), and anything
    // else from below: a failed transaction; the runner retries the unit.
    error = e.what();
    if (error.empty()) error = "unit failed";
  } catch (...) {
    error = "unit failed with a non-standard exception";
  }
  return UnitResult::kFailed;
}

UnitResult PersistenceCore::CommitQueued(const TransactionalUnit& unit, Lane& lane) {
  UnitResult result = UnitResult::kFailed;
  BreakerState before;
  bool attempted = false;
  bool probe = false;
  std::string error;
  {
    // Only the shared lane uses the core's store, which it shares with the flusher. A lane
    // of its own never waits for a flush, nor a flush for it.
    std::unique_lock<std::mutex> flush_lock(flush_mu_, std::defer_lock);
    if (lane.shared) flush_lock.lock();
    bool allowed;
    {
      std::lock_guard lock(mu_);
      before = breaker_.state();
      allowed = breaker_.Allow();
      probe = allowed && breaker_.state() == BreakerState::kHalfOpen;
    }
    if (!allowed) {
      result = UnitResult::kCircuitOpen;
    } else {
      attempted = true;
      const auto start = clock_.Now();
      bool ok = false;
      result = RunUnit(unit, lane, error, ok);
      const auto took = std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now() - start);
      if (observer_) observer_->OnUnit(ok ? result : UnitResult::kFailed, took);
      std::lock_guard lock(mu_);
      RecordAttempt(ok && result != UnitResult::kFailed, took);
      if (ok) {
        breaker_.RecordSuccess();
        last_error_.clear();
      } else {
        breaker_.RecordFailure();
        last_error_ = error;
      }
      if (result == UnitResult::kCommitted) {
        ++stats_.units_committed;
        for (const auto& cp : unit.checkpoints) {
          MarkDurable(cp);
          ResolveTickets(cp.key);
        }
      } else if (result == UnitResult::kFenced) {
        ++stats_.units_fenced;
        ++stats_.fenced;
      }
    }
  }
  if (attempted) {
    AfterAttempt("unit", error, probe, before);
  } else {
    NoteBreaker(before);
  }
  if (result == UnitResult::kFenced && on_fenced_) {
    for (const auto& cp : unit.checkpoints) on_fenced_(cp.key, cp.generation);
  }
  return result;
}

void PersistenceCore::UnitLoop(Lane& lane) {
  while (true) {
    QueuedUnit q;
    {
      std::unique_lock lock(mu_);
      lane.cv.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
      if (lane.queue.empty()) return;
      q = std::move(lane.queue.front());
      lane.queue.pop_front();
    }
    UnitResult result = UnitResult::kFailed;
    try {
      result = CommitQueued(q.unit, lane);
    } catch (const std::exception& e) {
      // CommitQueued handles the store's errors; this is a callback failing. The unit lane
      // must go on (every transactional runner waits on it) and the promise must be kept.
      if (logger_) logger_->Error("persistence unit lane: a unit failed outside its transaction", {{"error", e.what()}});
    }
    {
      std::lock_guard lock(mu_);
      --units_in_flight_;
    }
    q.promise.set_value(result);
  }
}

void PersistenceCore::FlusherLoop(Clock::Monotonic::time_point next) {
  while (true) {
    Trigger trigger = Trigger::kInterval;
    std::size_t rounds = 1;
    {
      std::unique_lock lock(mu_);
      while (!stopping_ && !size_trigger_ && !requested_ && clock_.Now() < next) {
        // The clock may be a test's fake clock: re-check it at least every 20 ms.
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - clock_.Now());
        wake_.wait_for(lock, std::min(left, std::chrono::milliseconds(20)));
      }
      if (stopping_) return;
      if (clock_.Now() < next) trigger = requested_.value_or(Trigger::kSize);
      // Taken: a later submit may raise either again (a breaker that skips the flush must not
      // leave a flag set that would spin this loop).
      size_trigger_ = false;
      requested_.reset();
      // Enough batches for what is pending now, not for what runners add meanwhile: a
      // catch-up submits during every flush, and "until empty" flushed back to back.
      const auto batch = static_cast<std::size_t>(std::max(1, options_.max_batch_size));
      rounds = std::max<std::size_t>(1, (pending_.size() + batch - 1) / batch);
    }
    if (trigger == Trigger::kInterval) {
      // Fixed rate: the next tick does not drift with the flush's duration.
      while (next <= clock_.Now()) next += options_.interval;
    }
    // Flush everything pending at this tick, batch by batch.
    try {
      for (std::size_t round = 0; round < rounds; ++round) {
        const auto outcome = Flush(trigger, nullptr);
        if (outcome != FlushOutcome::kSuccess) break;
        std::lock_guard lock(mu_);
        if (pending_.empty() || stopping_) break;
        if (trigger == Trigger::kSize && static_cast<int>(pending_.size()) < options_.max_batch_size) break;
      }
    } catch (const std::exception& e) {
      // Flush handles the store's errors itself; this is a callback or observer failing.
      // The thread goes on with the next tick: a lost flusher would stall every checkpoint.
      if (logger_) logger_->Error("persistence flush round failed; retrying at the next tick", {{"error", e.what()}});
    }
  }
}

std::int64_t PersistenceCore::DurablePosition(const CheckpointKey& key) const {
  const auto d = durable_.find(key);
  return d == durable_.end() ? 0 : d->second.position;
}

std::int64_t PersistenceCore::FlushedPosition(const CheckpointKey& key) const {
  const auto f = in_flight_.find(key);
  return std::max(DurablePosition(key), f == in_flight_.end() ? 0 : f->second.position);
}

PressureReading PersistenceCore::ReadPressure() const {
  // Positions are global: one runner moving 64 partitions by 100 events each is 100 events
  // of lag, not 6,400. The widest distance between pending and durable is the lag.
  PressureReading r;
  const auto now = clock_.Now();
  auto oldest = now;
  for (const auto& [key, p] : pending_) {
    r.lag_events = std::max(r.lag_events, p.checkpoint.position - DurablePosition(key));
    r.unflushed_events = std::max(r.unflushed_events, p.checkpoint.position - FlushedPosition(key));
    oldest = std::min(oldest, p.since);
  }
  r.oldest_age = std::chrono::duration_cast<std::chrono::milliseconds>(now - oldest);
  r.used = static_cast<int>(pending_.size() + in_flight_.size());
  return r;
}

bool PersistenceCore::RequestFlush(Trigger trigger) {
  if (requested_ || pending_.empty() || breaker_.state() == BreakerState::kOpen) return false;
  requested_ = trigger;
  return true;
}

void PersistenceCore::FlushSoon() {
  bool wake;
  {
    std::lock_guard lock(mu_);
    wake = RequestFlush(Trigger::kCaughtUp);
  }
  if (wake) wake_.notify_all();
}

bool PersistenceCore::ShouldPause() {
  bool wake = false;
  PressureAction action;
  {
    std::lock_guard lock(mu_);
    action = AssessPressure(ReadPressure(), Limits(options_));
    if (action != PressureAction::kNone) wake = RequestFlush(Trigger::kLag);
  }
  if (wake) wake_.notify_all();
  return action == PressureAction::kPause;
}

PersistenceStats PersistenceCore::GetStats() const {
  std::lock_guard lock(mu_);
  PersistenceStats s = stats_;
  s.circuit_breaker_trips = breaker_.trips();
  s.circuit_breaker_state = ToString(breaker_.state());
  s.circuit_breaker_failure_count = breaker_.consecutive_failures();
  s.pending_count = static_cast<std::int64_t>(pending_.size());
  s.last_error = MaskSecrets(last_error_);
  s.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - created_).count();
  auto oldest = clock_.Now();
  for (const auto& [k, p] : pending_) oldest = std::min(oldest, p.since);
  s.oldest_pending_age = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - oldest).count();
  return s;
}

std::string PersistenceCore::LastError() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void PersistenceCore::ResetCircuitBreaker() {
  BreakerState before;
  {
    std::lock_guard lock(mu_);
    before = breaker_.state();
    breaker_.Reset();
  }
  NoteBreaker(before);
}

}  // namespace projd
