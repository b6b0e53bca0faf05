#include "orchestrator/persistence/persistence_core.h"

#include <algorithm>
#include <thread>

#include "orchestrator/common/errors.h"

namespace projd {
namespace {

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

std::string ToString(ForceResult r) {
  switch (r) {
    case ForceResult::kOk: return "ok";
    case ForceResult::kTimeout: return "timeout";
    case ForceResult::kCircuitOpen: return "circuit_open";
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

// --- PersistenceCore: lifecycle ------------------------------------------------------------

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

std::vector<PersistenceCore::AbandonedLane> PersistenceCore::StopLanesBy(TimePoint deadline) {
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

// --- Submits -------------------------------------------------------------------------------

SubmitResult PersistenceCore::Submit(const Checkpoint& cp) {
  SubmitResult result;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    result.code = shut_down_ ? SubmitCode::kRejectedFull : pending_.Admit(cp, clock_.Now(), options_.max_pending);
    figures_.CountSubmit(result.code);
    if (result.ok()) {
      result.ticket = pending_.IssueTicket(cp, result.code);
      wake = AfterAccepted(cp, result.code);
    }
  }
  if (wake) wake_.notify_all();
  if (!result.ok() && observer_) observer_->OnRefused(result.code);
  return result;
}

bool PersistenceCore::AfterAccepted(const Checkpoint& cp, SubmitCode code) {
  figures_.NoteCapacity(pending_.used(), options_.max_pending);
  bool wake = signals_.NoteSize(pending_.pending_count(), options_.max_batch_size);
  // The work triggers the flush long before a runner would have to pause for it. Only this
  // key's lag can have grown, so it is the only one measured here.
  if (!signals_.requested() && code != SubmitCode::kUnchanged &&
      AssessPressure(pending_.PressureOf(cp.key), Limits(options_)) != PressureAction::kNone) {
    wake = RequestFlush(Trigger::kLag) || wake;
  }
  return wake;
}

bool PersistenceCore::RequestFlush(Trigger trigger) {
  return signals_.Request(trigger, pending_.pending_count() > 0, breaker_.state() == BreakerState::kOpen);
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
    action = AssessPressure(pending_.Pressure(clock_.Now()), Limits(options_));
    if (action != PressureAction::kNone) wake = RequestFlush(Trigger::kLag);
  }
  if (wake) wake_.notify_all();
  return action == PressureAction::kPause;
}

// --- Flushes -------------------------------------------------------------------------------

FlushOutcome PersistenceCore::FlushOnce(Trigger trigger) { return Flush(trigger, nullptr); }

FlushOutcome PersistenceCore::Flush(Trigger trigger, PendingCheckpoints::KeyFilter only,
                                    std::optional<TimePoint> not_after) {
  std::lock_guard flush_lock(flush_mu_);
  std::vector<Checkpoint> batch;
  const auto admission = BeginFlush(trigger, only, batch);
  switch (admission.verdict) {
    case FlushAdmission::Verdict::kNothing: return FlushOutcome::kNothing;
    case FlushAdmission::Verdict::kSkipped: return FlushOutcome::kSkippedOpen;
    case FlushAdmission::Verdict::kWrite: break;
  }
  const auto write = WriteBatch(batch, not_after);
  const auto fenced = EndFlush(trigger, batch, write);
  AfterAttempt(ToString(trigger), write.error, admission.breaker.probe, admission.breaker.before);
  ReportFenced(fenced);
  const auto outcome = OutcomeOf(write);
  if (observer_) observer_->OnFlush(trigger, outcome, write.took, batch.size());
  return outcome;
}

FlushAdmission PersistenceCore::BeginFlush(Trigger trigger, PendingCheckpoints::KeyFilter only,
                                           std::vector<Checkpoint>& batch) {
  std::lock_guard lock(mu_);
  const auto admission = AdmitFlush(pending_.HasWork(only), breaker_, options_.max_batch_size);
  if (admission.verdict == FlushAdmission::Verdict::kSkipped) figures_.CountFlush(trigger, FlushOutcome::kSkippedOpen);
  if (admission.verdict == FlushAdmission::Verdict::kWrite) {
    batch = pending_.Take(only, admission.limit);
    signals_.BatchTaken();
  }
  return admission;
}

BatchWrite PersistenceCore::WriteBatch(const std::vector<Checkpoint>& batch, std::optional<TimePoint> not_after) {
  BatchWrite write;
  write.start = clock_.Now();
  const auto timeout = AttemptTimeout(options_.timeout, write.start, not_after);
  try {
    write.outcome = store_.WriteBatch(batch, timeout);
  } catch (const std::exception& e) {
    // Transient, in doubt, permanent (disk full, a read-only server, no privilege) or a
    // bug below: the outcome is unknown; merge back and retry. Nothing leaves this thread.
    write.error = e.what();
    if (write.error.empty()) write.error = "checkpoint write failed";
  } catch (...) {
    write.error = "checkpoint write failed with a non-standard exception";
  }
  write.took = std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now() - write.start);
  return write;
}

std::vector<Checkpoint> PersistenceCore::EndFlush(Trigger trigger, const std::vector<Checkpoint>& batch,
                                                  const BatchWrite& write) {
  std::lock_guard lock(mu_);
  return ApplyFlushWrite(trigger, batch, write, EpochMs(clock_.WallNow()), pending_, breaker_, figures_);
}

void PersistenceCore::ReportFenced(const std::vector<Checkpoint>& fenced) {
  if (!on_fenced_) return;
  for (const auto& cp : fenced) on_fenced_(cp.key, cp.generation);
}

// --- The flusher thread --------------------------------------------------------------------

void PersistenceCore::FlusherLoop(TimePoint next_tick) {
  while (const auto turn = AwaitTurn(next_tick)) {
    // Fixed rate: the next tick does not drift with the flush's duration.
    if (turn->trigger == Trigger::kInterval) next_tick = NextTick(next_tick, clock_.Now(), options_.interval);
    FlushRounds(*turn);
  }
}

std::optional<PersistenceCore::FlusherTurn> PersistenceCore::AwaitTurn(TimePoint next_tick) {
  std::unique_lock lock(mu_);
  while (!stopping_ && !signals_.raised() && clock_.Now() < next_tick) {
    wake_.wait_for(lock, FlusherWait(next_tick, clock_.Now()));
  }
  if (stopping_) return std::nullopt;
  FlusherTurn turn;
  turn.trigger = signals_.Take(clock_.Now() >= next_tick);
  turn.rounds = RoundsFor(pending_.pending_count(), options_.max_batch_size);
  return turn;
}

void PersistenceCore::FlushRounds(const FlusherTurn& turn) {
  // Everything pending at this turn, batch by batch.
  try {
    for (std::size_t round = 0; round < turn.rounds; ++round) {
      if (Flush(turn.trigger, nullptr) != FlushOutcome::kSuccess) break;
      std::lock_guard lock(mu_);
      if (!AnotherRound(turn.trigger, pending_.pending_count(), stopping_, options_.max_batch_size)) break;
    }
  } catch (const std::exception& e) {
    // Flush handles the store's errors itself; this is a callback or observer failing.
    // The thread goes on with the next tick: a lost flusher would stall every checkpoint.
    if (logger_) logger_->Error("persistence flush round failed; retrying at the next tick", {{"error", e.what()}});
  }
}

// --- Barriers ------------------------------------------------------------------------------

ForceResult PersistenceCore::DrainUntil(Targets targets, Trigger trigger, TimePoint deadline) {
  std::set<CheckpointKey> only;
  for (const auto& [k, p] : targets) only.insert(k);
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (pending_.Satisfied(targets)) return ForceResult::kOk;
    }
    if (clock_.Now() >= deadline) return ForceResult::kTimeout;
    const auto outcome = Flush(trigger, &only, BatchDeadline(trigger, deadline));
    if (outcome == FlushOutcome::kSkippedOpen) return ForceResult::kCircuitOpen;
    if (outcome == FlushOutcome::kNothing) {
      {
        std::lock_guard lock(mu_);
        if (!pending_.AnyInFlight(only)) return pending_.Satisfied(targets) ? ForceResult::kOk : ForceResult::kTimeout;
      }
      // What is left is in flight on another thread: wait for that flush to finish.
      std::lock_guard flush_lock(flush_mu_);
    }
  }
}

ForceResult PersistenceCore::ForcePersistence(std::chrono::milliseconds timeout) {
  Targets targets;
  {
    std::lock_guard lock(mu_);
    if (breaker_.state() == BreakerState::kOpen) {
      figures_.CountRejectedCircuitOpen();
      return ForceResult::kCircuitOpen;
    }
    targets = pending_.AllTargets();
  }
  return DrainUntil(std::move(targets), Trigger::kForce, clock_.Now() + timeout);
}

ForceResult PersistenceCore::Revoke(const std::vector<CheckpointKey>& keys, std::chrono::milliseconds timeout) {
  Targets targets;
  {
    std::lock_guard lock(mu_);
    targets = pending_.TargetsOf(keys);
  }
  return DrainUntil(std::move(targets), Trigger::kRevoke, clock_.Now() + timeout);
}

// --- Shutdown ------------------------------------------------------------------------------

ShutdownReport PersistenceCore::Shutdown() { return Shutdown(clock_.Now() + options_.shutdown_timeout); }

ShutdownReport PersistenceCore::Shutdown(Clock::Monotonic::time_point deadline) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  ShutdownReport report;
  const bool store_held = AwaitThreads(deadline, report.abandoned);
  Targets targets;
  {
    std::lock_guard lock(mu_);
    targets = pending_.PendingTargets();
  }
  // A thread left inside a transaction on the core's store holds it: a drain would wait
  // behind it. A stuck lane of its own connection does not stop the drain.
  if (!store_held) FinalDrain(targets, deadline);
  Close(targets, report);
  return report;
}

bool PersistenceCore::AwaitThreads(TimePoint deadline, std::vector<std::string>& abandoned) {
  bool store_held = false;  // a thread left inside a transaction on the core's own store
  for (auto& lane : lanes_) lane->cv.notify_all();  // idle lanes end while the flusher is awaited
  // Real time to wait: the clock may be a test's fake one.
  if (!flusher_.JoinFor(std::max(deadline - clock_.Now(), Clock::Monotonic::duration::zero()))) {
    abandoned.push_back("persistence flusher");
    store_held = true;
  }
  for (const auto& lane : StopLanesBy(deadline)) {
    abandoned.push_back(lane.name);
    store_held = store_held || lane.shared;
  }
  return store_held;
}

void PersistenceCore::FinalDrain(const Targets& targets, TimePoint deadline) {
  // Even with the breaker open the final drain tries: the breaker protects the database
  // from a flood, and this is the last chance to save progress.
  {
    std::lock_guard lock(mu_);
    breaker_.Reset();
  }
  while (DrainUntil(targets, Trigger::kShutdown, deadline) == ForceResult::kCircuitOpen && clock_.Now() < deadline) {
    // The breaker opened during the drain: back off briefly and try again until the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::lock_guard lock(mu_);
    breaker_.Reset();
  }
}

void PersistenceCore::Close(const Targets& targets, ShutdownReport& report) {
  std::lock_guard lock(mu_);
  shut_down_ = true;
  report.unflushed = pending_.Unflushed();
  report.drained = report.abandoned.empty() && pending_.Satisfied(targets) && report.unflushed.empty();
  pending_.AbandonTickets();
}

std::int64_t PersistenceCore::Unflushed() const {
  std::lock_guard lock(mu_);
  return static_cast<std::int64_t>(pending_.used());
}

// --- Transactions: breaker transitions and logs --------------------------------------------

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
  if (logger_) LogAttempt(operation, error, probe, after);
  // A probe that failed went open -> half-open -> open: no change to report.
  if (after != before) LogBreakerChange(before, after, error);
  if (after != before && observer_) observer_->OnBreakerChange(after);
}

void PersistenceCore::LogAttempt(const std::string& operation, const std::string& error, bool probe,
                                 BreakerState after) {
  std::lock_guard lock(log_mu_);
  if (error.empty()) {
    if (const auto failed = failure_log_.End()) {
      probe_log_.End();
      logger_->Info("persistence transactions succeed again", {{"operation", operation},
                                                               {"failed_before", std::to_string(failed)}});
    }
    return;
  }
  const auto now = clock_.Now();
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
}

// --- Reads and unit lanes ------------------------------------------------------------------

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
    figures_.CountRejectedCircuitOpen();
    promise.set_value(UnitResult::kCircuitOpen);
  } else if (units_in_flight_ >= options_.max_units_in_flight) {
    figures_.CountRejectedFull();
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
  UnitResult result = UnitResult::kCircuitOpen;
  CircuitBreaker::Admission admission;
  std::string error;
  {
    // Only the shared lane uses the core's store, which it shares with the flusher. A lane
    // of its own never waits for a flush, nor a flush for it.
    std::unique_lock<std::mutex> flush_lock(flush_mu_, std::defer_lock);
    if (lane.shared) flush_lock.lock();
    {
      std::lock_guard lock(mu_);
      admission = breaker_.Admit();
    }
    if (admission.allowed) result = AttemptUnit(unit, lane, error);
  }
  if (admission.allowed) {
    AfterAttempt("unit", error, admission.probe, admission.before);
  } else {
    NoteBreaker(admission.before);
  }
  if (result == UnitResult::kFenced && on_fenced_) {
    for (const auto& cp : unit.checkpoints) on_fenced_(cp.key, cp.generation);
  }
  return result;
}

UnitResult PersistenceCore::AttemptUnit(const TransactionalUnit& unit, Lane& lane, std::string& error) {
  const auto start = clock_.Now();
  bool ok = false;
  const auto result = RunUnit(unit, lane, error, ok);
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now() - start);
  if (observer_) observer_->OnUnit(ok ? result : UnitResult::kFailed, took);
  std::lock_guard lock(mu_);
  RecordAttempt({ok, ok && result != UnitResult::kFailed, error, took}, EpochMs(clock_.WallNow()), breaker_,
                figures_);
  if (result == UnitResult::kCommitted) {
    figures_.CountUnitCommitted();
    pending_.UnitCommitted(unit.checkpoints);
  } else if (result == UnitResult::kFenced) {
    figures_.CountUnitFenced();
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

// --- Figures -------------------------------------------------------------------------------

PersistenceStats PersistenceCore::GetStats() const {
  std::lock_guard lock(mu_);
  const auto now = clock_.Now();
  PersistenceStats s = figures_.Snapshot();
  s.circuit_breaker_trips = breaker_.trips();
  s.circuit_breaker_state = ToString(breaker_.state());
  s.circuit_breaker_failure_count = breaker_.consecutive_failures();
  s.pending_count = static_cast<std::int64_t>(pending_.pending_count());
  s.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(now - created_).count();
  s.oldest_pending_age = std::chrono::duration_cast<std::chrono::milliseconds>(now - pending_.OldestSince(now)).count();
  return s;
}

std::string PersistenceCore::LastError() const {
  std::lock_guard lock(mu_);
  return figures_.last_error();
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
