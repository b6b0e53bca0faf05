#include "orchestrator/projection_runner.h"

#include <algorithm>
#include <limits>

#include "orchestrator/backoff.h"
#include "orchestrator/errors.h"

namespace projd {

std::string ToString(RunnerState s) {
  switch (s) {
    case RunnerState::kIdle: return "idle";
    case RunnerState::kRunning: return "running";
    case RunnerState::kCaughtUp: return "caught_up";
    case RunnerState::kFailing: return "failing";
    case RunnerState::kPaused: return "paused";
    case RunnerState::kStopped: return "stopped";
  }
  return "unknown";
}

ProjectionRunner::ProjectionRunner(BatchSink& sink, std::unique_ptr<EventReader> reader, PersistenceCore& core,
                                   PublishedMark& mark, const Clock& clock, Logger logger, RunnerOptions options,
                                   FencedReport on_fenced)
    : sink_(sink),
      name_(sink.Name()),
      reader_(std::move(reader)),
      core_(core),
      mark_(mark),
      clock_(clock),
      logger_(std::move(logger)),
      options_(std::move(options)),
      on_fenced_(std::move(on_fenced)) {
  status_.projection = name_;
}

ProjectionRunner::~ProjectionRunner() { Stop(); }

void ProjectionRunner::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ProjectionRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  mark_.changed.Notify();
  if (thread_.joinable()) thread_.join();
  SetState(RunnerState::kStopped);
}

void ProjectionRunner::Take(int partition_count, const std::vector<Checkpoint>& taken) {
  {
    std::lock_guard lock(mu_);
    if (partition_count != partition_count_) owned_.clear();  // a split renumbers partitions
    partition_count_ = partition_count;
    for (const auto& cp : taken) {
      if (cp.key.projection != name_) continue;
      if (auto it = owned_.find(cp.key.partition); it != owned_.end() && it->second.generation == cp.generation) continue;
      owned_[cp.key.partition] = Owned{cp.generation, cp.position};
    }
  }
  cv_.notify_all();
  mark_.changed.Notify();
}

void ProjectionRunner::Release(const std::vector<int>& partitions) {
  {
    std::lock_guard lock(mu_);
    for (int p : partitions) owned_.erase(p);
  }
  // Wait for the batch in flight (it may hold released partitions) to finish.
  std::lock_guard batch(batch_mu_);
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

RunnerStatus ProjectionRunner::Status() const {
  std::lock_guard lock(mu_);
  RunnerStatus s = status_;
  s.partitions = static_cast<int>(owned_.size());
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

void ProjectionRunner::Fail(const std::string& error) {
  std::lock_guard lock(mu_);
  status_.state = RunnerState::kFailing;
  ++status_.errors;
  status_.last_error = error;
}

bool ProjectionRunner::Pause(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, timeout, [&] { return stop_; });
}

void ProjectionRunner::Loop() {
  Backoff backoff(options_.retry_initial, options_.retry_max);
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (owned_.empty() && !stop_) status_.state = RunnerState::kIdle;
      cv_.wait(lock, [&] { return stop_ || !owned_.empty(); });
      if (stop_) return;
    }
    if (core_.ShouldPause()) {
      SetState(RunnerState::kPaused);
      if (!Pause(std::min(options_.poll_interval, std::chrono::milliseconds(50)))) return;
      continue;
    }
    const auto seen = mark_.changed.version();
    const std::int64_t mark = mark_.value.load();

    std::unique_lock batch(batch_mu_);
    ReadRequest request;
    std::map<int, Owned> owned;
    {
      std::lock_guard lock(mu_);
      owned = owned_;
      request.partition_count = partition_count_;
    }
    if (owned.empty()) continue;
    std::int64_t lowest = std::numeric_limits<std::int64_t>::max();
    for (const auto& [p, o] : owned) {
      request.after[p] = o.position;
      lowest = std::min(lowest, o.position);
    }
    if (lowest >= mark) {
      batch.unlock();
      SetState(RunnerState::kCaughtUp);
      mark_.changed.WaitFor(seen, options_.poll_interval);
      continue;
    }
    request.high_water_mark = mark;
    request.limit = options_.batch_size;
    request.scope = sink_.Scope();

    ReadResult result;
    try {
      result = reader_->ReadBatch(request);
    } catch (const std::exception& e) {
      batch.unlock();
      Fail(e.what());
      logger_.Warn("reading events failed; retrying", {{"projection", name_}, {"error", e.what()}});
      if (!Pause(backoff.Next())) return;
      continue;
    }

    std::vector<Event> events;
    events.reserve(result.events.size());
    for (auto& e : result.events) events.push_back(std::move(e.event));
    std::vector<Checkpoint> checkpoints;
    for (const auto& [p, o] : owned) {
      const auto next = std::max(o.position, result.scanned_to);
      if (next != o.position) {
        checkpoints.push_back({{options_.replica_set, name_, p}, next, o.generation, options_.worker_id});
      }
    }

    const auto outcome = Deliver(events, checkpoints);
    batch.unlock();
    if (outcome == Delivery::kShutDown) return;
    if (outcome == Delivery::kFailed) {
      if (!Pause(backoff.Next())) return;
      continue;
    }
    if (outcome == Delivery::kFenced) continue;
    backoff.Reset();
    std::lock_guard lock(mu_);
    for (const auto& cp : checkpoints) {
      if (auto it = owned_.find(cp.key.partition); it != owned_.end() && it->second.generation == cp.generation) {
        it->second.position = std::max(it->second.position, cp.position);
      }
    }
    status_.state = RunnerState::kRunning;
    status_.events_processed += static_cast<std::int64_t>(events.size());
    ++status_.batches;
  }
}

ProjectionRunner::Delivery ProjectionRunner::Deliver(std::vector<Event>& events,
                                                     const std::vector<Checkpoint>& checkpoints) {
  if (events.empty()) {
    for (const auto& cp : checkpoints) {
      if (!SubmitCheckpoint(cp)) return Delivery::kFenced;
    }
    return Delivery::kDone;
  }
  if (sink_.Transactional()) {
    std::string user_error;
    TransactionalUnit unit;
    unit.checkpoints = checkpoints;
    unit.apply = [&](TransactionHandle& tx) {
      try {
        sink_.Apply(events, tx);
      } catch (const std::exception& e) {
        user_error = e.what();
        throw PermanentError("projection " + name_ + " failed: " + e.what());
      }
    };
    const auto result = core_.SubmitUnit(std::move(unit)).get();
    switch (result) {
      case UnitResult::kCommitted: return Delivery::kDone;
      case UnitResult::kFenced: return Delivery::kFenced;  // the core reported each key to Fenced()
      case UnitResult::kShutDown: return Delivery::kShutDown;
      default: break;
    }
    const auto error = user_error.empty() ? "unit " + ToString(result) : user_error;
    Fail(error);
    logger_.Warn("batch failed; retrying", {{"projection", name_}, {"error", error},
                                            {"first_position", std::to_string(events.front().global_position)}});
    return Delivery::kFailed;
  }
  try {
    sink_.Handle(events, false);
  } catch (const std::exception& e) {
    Fail(e.what());
    logger_.Warn("batch failed; retrying", {{"projection", name_}, {"error", e.what()},
                                            {"first_position", std::to_string(events.front().global_position)}});
    return Delivery::kFailed;
  }
  for (const auto& cp : checkpoints) {
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
    SetState(RunnerState::kPaused);
    if (!Pause(std::chrono::milliseconds(20))) return false;
  }
}

}  // namespace projd
