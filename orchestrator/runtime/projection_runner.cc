#include "orchestrator/runtime/projection_runner.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "orchestrator/common/backoff.h"
#include "orchestrator/config/database_url.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/reading/prefetching_reader.h"

namespace projd {
namespace {

// The text of a unit that did not commit for a reason of the database's.
std::string UnitFailure(UnitResult result, const std::string& last_error) {
  if (result == UnitResult::kCircuitOpen) return "persistence circuit breaker open";
  if (result == UnitResult::kRejectedFull) return "persistence unit lane full";
  return last_error.empty() ? "unit " + ToString(result) : last_error;
}

}  // namespace

std::string ToString(RunnerState s) {
  switch (s) {
    case RunnerState::kIdle: return "idle";
    case RunnerState::kRunning: return "running";
    case RunnerState::kCaughtUp: return "caught_up";
    case RunnerState::kHeld: return "held";
    case RunnerState::kFailing: return "failing";
    case RunnerState::kStalled: return "stalled";
    case RunnerState::kStopped: return "stopped";
    case RunnerState::kPaused: return "paused";
  }
  return "unknown";
}

ProjectionRunner::ProjectionRunner(BatchSink& sink, std::unique_ptr<EventReader> reader,
                                   std::unique_ptr<DeadLetterStore> dead_letters, PersistenceCore& core,
                                   PublishedMark& mark, const Clock& clock, Logger logger, RunnerOptions options,
                                   FencedReport on_fenced)
    : sink_(sink),
      name_(sink.Name()),
      reader_(std::make_unique<PrefetchingReader>(std::move(reader))),  // one batch ahead
      dead_letters_(std::move(dead_letters)),
      policy_(sink.OnError()),
      core_(core),
      mark_(mark),
      clock_(clock),
      logger_(std::move(logger)),
      options_(std::move(options)),
      on_fenced_(std::move(on_fenced)),
      isolation_(policy_) {
  status_.projection = name_;
  paused_.every = options_.await_pauses;  // unknown yet: read nothing
  last_caught_up_ = clock_.Now();
}

ProjectionRunner::~ProjectionRunner() { Stop(); }

void ProjectionRunner::Start() {
  thread_.Start([this] { Run(); });
}

void ProjectionRunner::Stop() {
  RequestStop();
  thread_.Join();
  SetState(RunnerState::kStopped);
}

void ProjectionRunner::RequestStop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  sink_.RequestStop();  // a long Handle may observe it and return early
  cv_.notify_all();
  mark_.changed.Notify();
}

bool ProjectionRunner::AwaitStop(std::chrono::nanoseconds timeout) {
  if (!thread_.JoinFor(timeout)) return false;
  SetState(RunnerState::kStopped);
  return true;
}

void ProjectionRunner::Take(int partition_count, const std::vector<Checkpoint>& taken) {
  {
    std::lock_guard lock(mu_);
    if (partition_count != partition_count_) owned_.clear();  // a split renumbers partitions
    partition_count_ = partition_count;
    for (const auto& cp : taken) {
      if (cp.key.projection != name_) continue;
      if (auto it = owned_.find(cp.key.partition); it != owned_.end() && it->second.generation == cp.generation) continue;
      owned_[cp.key.partition] = OwnedPartition{cp.generation, cp.position, cp.replay_until};
      parked_stale_ = true;
    }
    last_progress_ = clock_.Now();
  }
  cv_.notify_all();
  mark_.changed.Notify();
}

void ProjectionRunner::Release(const std::vector<int>& partitions) {
  bool in_flight = false;
  {
    std::lock_guard lock(mu_);
    for (int p : partitions) {
      owned_.erase(p);
      stopped_.erase(p);  // the next owner retries the poison event and applies the policy again
      in_flight = in_flight || in_flight_.count(p) > 0;
    }
  }
  if (in_flight) sink_.InterruptBatch();  // a long handler may give the partitions up early
  // The batch in flight may still hold released partitions: Busy() tells when it is done.
  // Not waited for here, so that the coordinator's heartbeat never waits on projection work.
}

bool ProjectionRunner::Busy(const std::vector<int>& partitions) const {
  std::lock_guard lock(mu_);
  return std::any_of(partitions.begin(), partitions.end(), [&](int p) { return in_flight_.count(p) > 0; });
}

void ProjectionRunner::Fenced(int partition, std::int64_t generation) {
  bool dropped = false;
  {
    std::lock_guard lock(mu_);
    ++status_.fenced;
    if (auto it = owned_.find(partition); it != owned_.end() && it->second.generation <= generation) {
      owned_.erase(it);
      dropped = true;
    }
  }
  logger_.Warn("checkpoint write fenced: a newer generation owns the partition",
               {{"projection", name_}, {"partition", std::to_string(partition)},
                {"generation", std::to_string(generation)}});
  if (dropped && on_fenced_) on_fenced_(name_, partition);
}

void ProjectionRunner::SetPaused(const PausedPartitions& paused) {
  {
    std::lock_guard lock(mu_);
    const bool first = !pauses_known_;
    pauses_known_ = true;
    if (paused == paused_ || (first && paused.Empty())) {
      paused_ = paused;
      mark_.changed.Notify();
      return;
    }
    paused_ = paused;
  }
  logger_.Info(paused.Empty() ? "projection resumed" : "projection paused",
               {{"projection", name_}, {"paused", Describe(paused)}});
  mark_.changed.Notify();  // the next round plans with the new pauses now
}

RunnerStatus ProjectionRunner::Status() const {
  std::lock_guard lock(mu_);
  RunnerStatus s = status_;
  s.read_plan = reader_->Plan();
  s.partitions = static_cast<int>(owned_.size());
  for (const auto& [p, o] : owned_) s.owned.push_back(p);
  s.paused = paused_;
  for (const auto& [p, sp] : stopped_) s.stopped.push_back(sp);
  if (!stopped_.empty() && s.state != RunnerState::kFailing) s.state = RunnerState::kStopped;
  // Work to do (the runner is not at the mark) but nothing committed for stall_after.
  const bool at_mark = s.state == RunnerState::kCaughtUp || s.state == RunnerState::kHeld || owned_.empty();
  s.lag_time = at_mark ? std::chrono::milliseconds(0)
                       : std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - last_caught_up_);
  s.batch_durations = batch_durations_.Snapshot();
  // A failing runner stays `failing` (it knows why); stalled is for silence without an error.
  if (s.state == RunnerState::kRunning && !owned_.empty() && clock_.Now() - last_progress_ >= options_.stall_after) {
    s.state = RunnerState::kStalled;
  }
  s.min_position = 0;
  if (!owned_.empty()) {
    s.min_position = std::numeric_limits<std::int64_t>::max();
    for (const auto& [p, o] : owned_) s.min_position = std::min(s.min_position, o.position);
  }
  return s;
}

void ProjectionRunner::SetState(RunnerState s) {
  std::lock_guard lock(mu_);
  status_.state = s;
}

void ProjectionRunner::Fail(const std::string& error, Blame blame) {
  std::lock_guard lock(mu_);
  status_.state = RunnerState::kFailing;
  ++status_.errors;
  if (blame == Blame::kDatabase) ++status_.database_errors;
  status_.last_error = MaskSecrets(error);  // shown by /status and /readyz
  status_.database_error = blame == Blame::kDatabase;
}

bool ProjectionRunner::Pause(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, timeout, [&] { return stop_; });
}

void ProjectionRunner::RefreshParked() {
  if (!dead_letters_) return;
  const auto now = clock_.Now();
  bool stale = false;
  {
    std::lock_guard lock(mu_);
    stale = std::exchange(parked_stale_, false);
  }
  if (parked_loaded_ && !stale && now - parked_refreshed_ < options_.poll_interval) return;
  try {
    parked_ = dead_letters_->ParkedStreams(options_.replica_set, name_);
    parked_loaded_ = true;
    parked_refreshed_ = now;
    std::lock_guard lock(mu_);
    status_.parked_aggregates = static_cast<int>(parked_.size());
  } catch (const std::exception& e) {
    // Keep the last known set; a failed refresh is retried on the next batch.
    logger_.Warn("reading parked streams failed", {{"projection", name_}, {"error", e.what()}});
    std::lock_guard lock(mu_);
    parked_stale_ = parked_stale_ || stale;
  }
}

void ProjectionRunner::Run() {
  Backoff backoff(options_.retry_initial, options_.retry_max);
  while (true) {
    try {
      Loop();
      return;
    } catch (const std::exception& e) {
      // Loop handles database and handler errors itself; whatever else escapes (a bug, an
      // allocation failure) is logged and the loop restarts: this thread never ends the worker.
      Fail(std::string("runner loop: ") + e.what(), Blame::kDatabase);
      logger_.Error("projection runner failed; restarting it", {{"projection", name_}, {"error", e.what()}});
    } catch (...) {
      Fail("runner loop: non-standard exception", Blame::kDatabase);
      logger_.Error("projection runner failed with a non-standard exception; restarting it", {{"projection", name_}});
    }
    if (!Pause(backoff.Next())) return;
  }
}

void ProjectionRunner::Loop() {
  Backoff backoff(options_.retry_initial, options_.retry_max);  // the database's
  isolation_.RestartBackoff();                                   // the handler's
  while (true) {
    std::uint64_t seen = 0;
    const auto gate = AwaitReadable(seen);
    if (gate == Gate::kStop) return;
    if (gate == Gate::kAgain) continue;

    InFlight in_flight(*this);
    // Before the partitions show as in flight: a Release from then on interrupts this batch,
    // even while it is still being read.
    sink_.StartBatch();
    auto plan = PlanRound(mark_.value.load());
    if (plan.caught_up) {
      in_flight.unlock();
      AtMark(plan.paused);
      mark_.changed.WaitFor(seen, options_.poll_interval);
      continue;
    }
    plan.request.scope = sink_.Scope();
    const auto started = clock_.Now();
    auto batch = ReadPlanned(plan, in_flight);
    if (!batch) {  // the database failed the read (reported)
      if (!Pause(backoff.Next())) return;
      continue;
    }

    auto outcome = Deliver(batch->events, batch->progress, batch->replaying);
    if (outcome == Delivery::kHandlerFailed) outcome = HandlerFailed(*batch, plan.isolating);
    in_flight.unlock();
    if (outcome != Delivery::kDone) {
      if (!Recover(outcome, backoff)) return;
      continue;
    }
    backoff.Reset();
    BatchDone(*batch, started);
  }
}

ProjectionRunner::Gate ProjectionRunner::AwaitReadable(std::uint64_t& seen) {
  {
    std::unique_lock lock(mu_);
    if (owned_.empty() && !stop_) status_.state = RunnerState::kIdle;
    cv_.wait(lock, [&] { return stop_ || !owned_.empty(); });
    if (stop_) return Gate::kStop;
  }
  if (core_.ShouldPause()) {
    // Persistence pressure: durable progress lags too far; no new batch until it catches up.
    SetState(RunnerState::kStalled);
    return Pause(std::min(options_.poll_interval, std::chrono::milliseconds(50))) ? Gate::kAgain : Gate::kStop;
  }
  RefreshParked();
  seen = mark_.changed.version();
  if (!mark_.observed.load()) {
    // Start-up: the mark is unknown, so is the lag; never report caught_up on a mark of 0.
    SetState(RunnerState::kRunning);
    mark_.changed.WaitFor(seen, options_.poll_interval);
    return Gate::kAgain;
  }
  return Gate::kOpen;
}

BatchPlan ProjectionRunner::PlanRound(std::int64_t mark) {
  std::lock_guard lock(mu_);
  std::set<int> stopped;
  for (const auto& [p, sp] : stopped_) stopped.insert(p);
  auto plan = PlanBatch({.owned = owned_,
                         .stopped = stopped,
                         .paused = paused_,
                         .partition_count = partition_count_,
                         .mark = mark,
                         .isolation = isolation_,
                         .batch_size = options_.batch_size});
  for (const auto& [p, o] : plan.partitions) in_flight_.insert(p);
  if (!plan.caught_up && status_.state != RunnerState::kFailing) status_.state = RunnerState::kRunning;
  return plan;
}

void ProjectionRunner::AtMark(bool paused) {
  if (backlog_) {
    // At the mark after a backlog: the last checkpoints become durable now, not at the
    // next interval tick. A trickle of live events (partial batches) does not flush.
    core_.FlushSoon();
    backlog_ = false;
  }
  std::lock_guard lock(mu_);
  last_progress_ = clock_.Now();
  if (paused) {  // not at the mark: the lag goes on, but nothing is stalled or failing
    status_.state = RunnerState::kPaused;
    return;
  }
  last_caught_up_ = last_progress_;
  if (status_.state != RunnerState::kFailing) {
    status_.state = mark_.held.load() ? RunnerState::kHeld : RunnerState::kCaughtUp;
  }
}

std::optional<Batch> ProjectionRunner::ReadPlanned(const BatchPlan& plan, InFlight& in_flight) {
  ReadResult result;
  try {
    result = reader_->ReadBatch(plan.request);
  } catch (const std::exception& e) {
    in_flight.unlock();
    Fail(e.what(), Blame::kDatabase);
    logger_.Warn("reading events failed; retrying", {{"projection", name_}, {"error", e.what()}});
    return std::nullopt;
  }
  return ToBatch(plan, std::move(result), options_.replica_set, name_, options_.worker_id);
}

ProjectionRunner::Delivery ProjectionRunner::HandlerFailed(const Batch& batch, bool isolating) {
  switch (isolation_.OnHandlerFailure(isolating, batch.read, batch.last_position)) {
    case PoisonIsolation::Next::kRetry: return Delivery::kHandlerFailed;
    case PoisonIsolation::Next::kIsolate:
      logger_.Warn("batch keeps failing; isolating the failing event",
                   {{"projection", name_}, {"until_position", std::to_string(isolation_.isolate_until())}});
      return Delivery::kIsolating;
    case PoisonIsolation::Next::kApplyPolicy: break;
  }
  return ApplyPolicy(batch.only, batch.partitions.empty() ? 0 : batch.partitions.front(), batch.progress);
}

bool ProjectionRunner::Recover(Delivery outcome, Backoff& backoff) {
  switch (outcome) {
    case Delivery::kShutDown: return false;
    case Delivery::kHandlerFailed: return Pause(isolation_.RetryDelay());
    case Delivery::kFailed: return Pause(backoff.Next());
    case Delivery::kMoved:
      // A unit reported as failed (its commit was in doubt) had committed after all: this
      // batch overlaps it. Nothing was applied; continue from the stored positions.
      logger_.Warn("checkpoints moved since the batch was read (an earlier commit was in doubt and went through);"
                   " re-reading positions",
                   {{"projection", name_}});
      return RefreshPositions() || Pause(backoff.Next());
    case Delivery::kIsolating:  // re-read at once, one event at a time
    case Delivery::kFenced:     // the partition is gone (or stopped): read the others
    case Delivery::kDone: return true;
  }
  return true;
}

void ProjectionRunner::BatchDone(const Batch& batch, Clock::Monotonic::time_point started) {
  // A read that returned nothing and moved nothing (a standby not yet replayed that far) is
  // no progress: the runner may turn `stalled`.
  if (batch.events.empty() && batch.progress.checkpoints.empty()) return;
  isolation_.OnSuccess();
  backlog_ = backlog_ || batch.full;
  batch_durations_.Observe(clock_.Now() - started);
  std::lock_guard lock(mu_);
  for (const auto& cp : batch.progress.checkpoints) {
    if (auto it = owned_.find(cp.key.partition); it != owned_.end() && it->second.generation == cp.generation) {
      it->second.position = std::max(it->second.position, cp.position);
    }
  }
  status_.state = RunnerState::kRunning;
  status_.database_error = false;
  last_progress_ = clock_.Now();
  status_.events_processed += static_cast<std::int64_t>(batch.events.size());
  if (batch.replaying) status_.replayed += static_cast<std::int64_t>(batch.events.size());
  ++status_.batches;
}

bool ProjectionRunner::RefreshPositions() {
  std::vector<Checkpoint> stored;
  try {
    stored = core_.ReadCheckpoints(options_.replica_set, name_);
  } catch (const std::exception& e) {
    Fail(std::string("re-read positions: ") + e.what(), Blame::kDatabase);
    return false;
  }
  std::lock_guard lock(mu_);
  for (const auto& cp : stored) {
    // Under a newer generation the next unit is fenced and the partition handed over.
    if (auto it = owned_.find(cp.key.partition); it != owned_.end() && it->second.generation == cp.generation) {
      it->second.position = cp.position;
    }
  }
  return true;
}

std::vector<DeadLetter> ProjectionRunner::TakeParked(std::vector<Event>& events) {
  // Again here: a Take since the round's refresh (a restart after a rebuild or a reset) must
  // not park events behind dead letters that were deleted.
  RefreshParked();
  std::vector<DeadLetter> parked;
  if (parked_.empty()) return parked;
  std::vector<Event> kept;
  kept.reserve(events.size());
  for (auto& e : events) {
    // The full identity: another type or bounded context with the same id is not parked.
    auto stream = StreamOf(e);
    if (parked_.count(stream)) {
      parked.push_back({options_.replica_set, name_, e.global_position, std::move(stream), e.event_type, true,
                        "parked behind an earlier dead letter of the same stream", 0});
    } else {
      kept.push_back(std::move(e));
    }
  }
  events.swap(kept);
  return parked;
}

ProjectionRunner::Delivery ProjectionRunner::CommitDeadLetters(const std::vector<DeadLetter>& letters,
                                                               const BatchProgress& progress) {
  TransactionalUnit unit;
  unit.checkpoints = progress.checkpoints;
  unit.from = progress.from;
  unit.apply = [&](TransactionHandle& tx) { dead_letters_->Record(tx, letters); };
  const auto result = core_.SubmitUnit(std::move(unit), options_.unit_lane).get();
  if (result == UnitResult::kCommitted) {
    std::lock_guard lock(mu_);
    status_.dead_letters += static_cast<std::int64_t>(letters.size());
    return Delivery::kDone;
  }
  if (result == UnitResult::kFenced) return Delivery::kFenced;
  if (result == UnitResult::kMoved) return Delivery::kMoved;
  if (result == UnitResult::kShutDown) return Delivery::kShutDown;
  Fail("dead letters: " + UnitFailure(result, core_.LastError()), Blame::kDatabase);
  return Delivery::kFailed;
}

ProjectionRunner::Delivery ProjectionRunner::ApplyPolicy(const Event& poison, int partition,
                                                         const BatchProgress& progress) {
  if (policy_.skip && dead_letters_) {
    const DeadLetter letter{options_.replica_set, name_, poison.global_position, StreamOf(poison),
                            poison.event_type, false, handler_error_, policy_.max_attempts};
    const auto outcome = CommitDeadLetters({letter}, progress);
    if (outcome == Delivery::kDone) {
      parked_.insert(letter.stream);
      logger_.Error("poison event skipped into the dead letters; later events of its stream are parked",
                    {{"projection", name_}, {"position", std::to_string(poison.global_position)},
                     {"bounded_context", poison.bounded_context}, {"aggregate_type", poison.aggregate_type},
                     {"aggregate_id", poison.aggregate_id}, {"error", handler_error_}});
    }
    return outcome;
  }
  {
    std::lock_guard lock(mu_);
    stopped_[partition] = StoppedPartition{partition, poison.global_position, handler_error_};
  }
  logger_.Error("projection stopped on a partition by its error policy; the other partitions go on",
                {{"projection", name_}, {"partition", std::to_string(partition)},
                 {"position", std::to_string(poison.global_position)}, {"error", handler_error_}});
  return Delivery::kFenced;  // nothing to advance; the loop reads the other partitions
}

ProjectionRunner::Delivery ProjectionRunner::Deliver(std::vector<Event>& events, const BatchProgress& progress,
                                                     bool replaying) {
  auto parked = TakeParked(events);
  if (events.empty()) {
    if (!parked.empty()) return CommitDeadLetters(parked, progress);
    for (const auto& cp : progress.checkpoints) {
      if (!SubmitCheckpoint(cp)) return Delivery::kFenced;
    }
    return Delivery::kDone;
  }
  handler_error_.clear();
  if (sink_.Transactional()) {
    TransactionalUnit unit;
    unit.checkpoints = progress.checkpoints;
    unit.from = progress.from;
    unit.apply = [&](TransactionHandle& tx) {
      try {
        sink_.Apply(events, tx);
      } catch (const Error&) {
        throw;  // the database failed inside the projection's writes: not the event's fault
      } catch (const std::exception& e) {
        handler_error_ = e.what();
        throw HandlerError("projection " + name_ + " failed: " + e.what());
      }
      if (!parked.empty()) dead_letters_->Record(tx, parked);
    };
    // The reader fetches the next batch meanwhile (PrefetchingReader).
    const auto result = core_.SubmitUnit(std::move(unit), options_.unit_lane).get();
    switch (result) {
      case UnitResult::kCommitted:
        if (!parked.empty()) {
          std::lock_guard lock(mu_);
          status_.dead_letters += static_cast<std::int64_t>(parked.size());
        }
        return Delivery::kDone;
      case UnitResult::kFenced: return Delivery::kFenced;  // the core reported each key to Fenced()
      case UnitResult::kMoved: return Delivery::kMoved;
      case UnitResult::kShutDown: return Delivery::kShutDown;
      default: break;
    }
    if (handler_error_.empty()) {
      // The database failed (lock or statement timeout, deadlock, lost connection, disk
      // full, read-only, the breaker open...): not counted against the error policy.
      const auto error = UnitFailure(result, core_.LastError());
      Fail(error, Blame::kDatabase);
      logger_.Warn("batch failed on a database error; retrying until the database recovers",
                   {{"projection", name_}, {"error", error},
                    {"first_position", std::to_string(events.front().global_position)}});
      return Delivery::kFailed;
    }
    Fail(handler_error_, Blame::kHandler);
    logger_.Warn("batch failed; retrying", {{"projection", name_}, {"error", handler_error_},
                                            {"first_position", std::to_string(events.front().global_position)}});
    return Delivery::kHandlerFailed;
  }
  try {
    sink_.Handle(events, replaying);
  } catch (const Error& e) {
    Fail(e.what(), Blame::kDatabase);
    logger_.Warn("batch failed on a database error; retrying until the database recovers",
                 {{"projection", name_}, {"error", e.what()},
                  {"first_position", std::to_string(events.front().global_position)}});
    return Delivery::kFailed;
  } catch (const std::exception& e) {
    handler_error_ = e.what();
    Fail(e.what(), Blame::kHandler);
    logger_.Warn("batch failed; retrying", {{"projection", name_}, {"error", e.what()},
                                            {"first_position", std::to_string(events.front().global_position)}});
    return Delivery::kHandlerFailed;
  }
  if (!parked.empty()) return CommitDeadLetters(parked, progress);
  for (const auto& cp : progress.checkpoints) {
    if (!SubmitCheckpoint(cp)) return Delivery::kFenced;
  }
  return Delivery::kDone;
}

bool ProjectionRunner::SubmitCheckpoint(const Checkpoint& cp) {
  while (true) {
    const auto r = core_.Submit(cp);
    if (r.code == SubmitCode::kRejectedStale) {
      Fenced(cp.key.partition, cp.generation);
      return false;
    }
    if (r.code != SubmitCode::kRejectedFull) return true;
    // Backpressure: the core is full; wait for it to drain instead of dropping progress.
    SetState(RunnerState::kStalled);
    if (!Pause(std::chrono::milliseconds(20))) return false;
  }
}

}  // namespace projd
