#include "orchestrator/runtime/worker.h"

#include <algorithm>

#include "orchestrator/common/backoff.h"

namespace projd {

Worker::Worker(WorkerParts parts, const Config& config, WorkerInfo info, const Clock& clock, Logger logger)
    : parts_(std::move(parts)), config_(config), info_(std::move(info)), clock_(clock), logger_(std::move(logger)) {
  core_ = std::make_unique<PersistenceCore>(
      *parts_.checkpoint_store, clock_, PersistenceOptions::FromConfig(config_),
      [this](const CheckpointKey& key, std::int64_t generation) {
        if (auto* r = RunnerFor(key.projection)) r->Fenced(key.partition, generation);
      },
      &persistence_durations_, logger_.Child("persistence"));
  RunnerOptions ro;
  ro.replica_set = config_.replica_set;
  ro.worker_id = info_.worker_id;
  ro.batch_size = config_.batch_size;
  ro.poll_interval = config_.poll_interval;
  ro.stall_after = std::max(std::chrono::milliseconds(30000), 10 * config_.poll_interval);
  ro.await_pauses = parts_.control != nullptr;
  for (auto& sink : parts_.sinks) {
    ro.batch_size = sink->BatchSize() > 0 ? sink->BatchSize() : config_.batch_size;
    ro.unit_lane = PersistenceCore::kSharedLane;
    if (sink->Transactional() && parts_.make_unit_store) {
      unit_stores_.push_back(parts_.make_unit_store(sink->ReadModelSchema()));
      ro.unit_lane = core_->AddLane(*unit_stores_.back());
    }
    runners_.push_back(std::make_unique<ProjectionRunner>(
        *sink, parts_.make_reader(), parts_.make_dead_letters ? parts_.make_dead_letters() : nullptr, *core_, mark_, clock_, logger_.Child("runner"), ro,
        [this](const std::string&, int partition) {
          if (coordinator_) coordinator_->ReportFenced(partition);
        }));
  }
  CoordinatorOptions co;
  co.replica_set = config_.replica_set;
  co.worker = info_;
  co.partitions = config_.partitions;
  co.timings = {config_.heartbeat_interval, config_.stale_worker_timeout, config_.coordination_timeout};
  co.drain_timeout = config_.force_persistence_timeout;
  coordinator_ = std::make_unique<Coordinator>(*parts_.coordination, *parts_.stamp_store, *core_, *this, clock_,
                                               logger_.Child("coordinator"), co);
  follower_ = std::make_unique<HighWaterMarkFollower>(*parts_.positions, clock_, config_.gap_grace);
  if (parts_.versions) {
    VersionStewardOptions vo;
    vo.replica_set = config_.replica_set;
    vo.switch_auto = config_.version_switch_auto;
    vo.retention = config_.version_retention;
    vo.building_interval = std::min(config_.heartbeat_interval, std::chrono::milliseconds(1000));
    // A switch holds the active version's checkpoints: well inside one persistence batch.
    vo.catch_up_wait = std::min(std::chrono::milliseconds(1000), config_.persistence_timeout / 3);
    steward_ = std::make_unique<VersionSteward>(*parts_.versions, clock_, logger_.Child("versions"), vo, Projections());
    steward_->SetInitial(parts_.lanes);
  }
  if (parts_.control) {
    control_ = std::make_unique<OperatorControl>(*parts_.control, config_.replica_set, info_.worker_id,
                                                 logger_.Child("control"));
  }
  if (parts_.wal_marks && parts_.standby_board && !parts_.standby_probes.empty()) {
    standby_watch_ = std::make_unique<StandbyWatch>(std::move(parts_.standby_probes), *parts_.wal_marks,
                                                    *parts_.standby_board, clock_, logger_.Child("standby"),
                                                    config_.standby_max_lag);
  }
}

Worker::~Worker() {
  stop_ = true;
  coordinator_->Stop();
  for (auto& r : runners_) r->Stop();
  mark_thread_.Join();
  listen_thread_.Join();
  versions_thread_.Join();
  standby_thread_.Join();
  control_thread_.Join();
}

void Worker::Start() {
  core_->Start();
  mark_thread_.Start([this] { Supervise("high-water-mark follower", [this] { FollowMark(); }); });
  listen_thread_.Start([this] { Supervise("generation listener", [this] { ListenForGenerations(); }); });
  if (steward_) versions_thread_.Start([this] { Supervise("version steward", [this] { StewardVersions(); }); });
  if (standby_watch_) standby_thread_.Start([this] { Supervise("standby watch", [this] { WatchStandbys(); }); });
  if (control_) control_thread_.Start([this] { Supervise("operator control", [this] { FollowOperator(); }); });
  for (auto& r : runners_) r->Start();
  coordinator_->Start();
  logger_.Info("worker started", {{"replica_set", config_.replica_set}, {"worker_id", info_.worker_id},
                                  {"worker_name", info_.worker_name}, {"projections", std::to_string(runners_.size())}});
}

ShutdownState Worker::Shutdown(const ShutdownPlan& plan) {
  shut_down_ = true;
  const auto started = clock_.Now();
  // Time left until `until` on this worker's clock, as real time to wait.
  const auto left = [this](Clock::Monotonic::time_point until) {
    return std::max(until - clock_.Now(), Clock::Monotonic::duration::zero());
  };
  SetShutdown([](ShutdownState& s) { s.step = ShutdownStep::kStopping; });
  // Everything that reads or coordinates stops at once and shares one deadline, so a thread
  // blocked in a statement costs the drain nothing beyond plan.stop_by.
  coordinator_->RequestStop();                // no more takes or heartbeats
  for (auto& r : runners_) r->RequestStop();  // stop reading after the batch in flight
  stop_ = true;                               // the mark follower and the generation listener
  std::vector<std::string> abandoned;
  const bool coordinator_stopped = coordinator_->AwaitStop(left(plan.stop_by));
  if (!coordinator_stopped) abandoned.push_back("coordinator");
  for (auto& r : runners_) {
    if (!r->AwaitStop(left(plan.stop_by))) abandoned.push_back("runner " + r->projection());
  }
  SetShutdown([&](ShutdownState& s) {
    s.abandoned = abandoned;
    s.step = ShutdownStep::kDraining;
  });

  const auto report = core_->Shutdown(plan.drain_by);  // the final drain
  abandoned.insert(abandoned.end(), report.abandoned.begin(), report.abandoned.end());
  SetShutdown([&](ShutdownState& s) {
    s.abandoned = abandoned;
    s.drained = report.drained;
    s.unflushed = static_cast<std::int64_t>(report.unflushed.size());
    s.step = ShutdownStep::kLeaving;
  });

  // Delete our row and form the next generation, so peers take our partitions at once.
  bool deregistered = false;
  if (coordinator_stopped) {
    deregistered = coordinator_->Leave();
  } else if (parts_.make_coordination) {
    // The coordinator's own connection is busy in the statement its thread waits on.
    try {
      const auto store = parts_.make_coordination();
      deregistered = coordinator_->LeaveVia(*store);
    } catch (const std::exception& e) {
      logger_.Warn("could not deregister; peers evict this worker after STALE_WORKER_TIMEOUT", {{"error", e.what()}});
    }
  } else {
    logger_.Warn("not deregistering: the coordinator is still inside a statement; peers evict this worker after"
                 " STALE_WORKER_TIMEOUT");
  }
  // The mark follower and the generation listener wait up to a second on their LISTEN
  // connections and write nothing the drain or the deregistration needs: they are waited
  // for last, so peers do not wait that second for this worker's partitions.
  if (!mark_thread_.JoinFor(left(plan.stop_by))) abandoned.push_back("mark follower");
  if (!listen_thread_.JoinFor(left(plan.stop_by))) abandoned.push_back("generation listener");
  if (!versions_thread_.JoinFor(left(plan.stop_by))) abandoned.push_back("version steward");
  if (!standby_thread_.JoinFor(left(plan.stop_by))) abandoned.push_back("standby watch");
  if (!control_thread_.JoinFor(left(plan.stop_by))) abandoned.push_back("operator control");
  ShutdownState state;
  SetShutdown([&](ShutdownState& s) {
    s.abandoned = abandoned;
    s.deregistered = deregistered;
    s.step = ShutdownStep::kStopped;
    state = s;
  });
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - started);
  auto fields = DescribeShutdown(state);
  fields.push_back({"took_ms", std::to_string(took.count())});
  fields.push_back({"exit_code", std::to_string(ExitCodeOf(state))});
  if (ExitCodeOf(state) != 0) {
    logger_.Warn("worker stopped incompletely", fields);
  } else if (!state.abandoned.empty()) {
    logger_.Warn("worker stopped; threads still inside calls were left behind", fields);
  } else {
    logger_.Info("worker stopped", fields);
  }
  return state;
}

ShutdownState Worker::ShutdownProgress() const {
  ShutdownState s;
  {
    std::lock_guard lock(shutdown_mu_);
    s = shutdown_;
  }
  if (s.step < ShutdownStep::kLeaving) s.unflushed = core_->Unflushed();
  return s;
}

void Worker::SetShutdown(const std::function<void(ShutdownState&)>& change) {
  std::lock_guard lock(shutdown_mu_);
  change(shutdown_);
}

WorkerStatus Worker::Status() const {
  WorkerStatus s;
  s.worker_id = info_.worker_id;
  s.worker_name = info_.worker_name;
  s.replica_set = config_.replica_set;
  s.coordination = coordinator_->Status();
  for (const auto& r : runners_) s.runners.push_back(r->Status());
  s.persistence = core_->GetStats();
  s.persistence_durations = persistence_durations_.Snapshot();
  s.high_water_mark_known = mark_.observed.load();
  s.high_water_mark = mark_.value.load();
  s.stopping = shut_down_.load();
  for (const auto& m : parts_.listen_monitors) s.listeners.push_back(m->Status());
  if (steward_) s.versions = steward_->Status();
  if (parts_.standby_board) s.standby_reads = parts_.standby_board->Figures();
  if (control_) s.control = control_->Status();
  std::lock_guard lock(mark_status_mu_);
  s.mark = mark_status_;
  return s;
}

std::vector<std::string> Worker::Projections() const {
  std::vector<std::string> names;
  for (const auto& r : runners_) names.push_back(r->projection());
  return names;
}

// A take follows a generation change, and switching projection versions is one: the
// versions are read again first, so a retired version's runner takes nothing and a version
// switched back to runs in the schema it moved to.
void Worker::Take(int partition_count, const std::vector<Checkpoint>& taken) {
  const auto lanes = steward_ ? ApplyLanes(steward_->Refresh()) : LaneStates{};
  for (auto& r : runners_) {
    const auto lane = lanes.find(r->projection());
    if (lane == lanes.end() || lane->second.runs) r->Take(partition_count, taken);
  }
}

LaneStates Worker::ApplyLanes(const LaneStates& lanes) {
  for (auto& sink : parts_.sinks) {
    const auto lane = lanes.find(sink->Name());
    if (lane != lanes.end()) sink->SetReadModelSchema(lane->second.schema);
  }
  return lanes;
}

void Worker::Release(const std::vector<int>& partitions) {
  for (auto& r : runners_) r->Release(partitions);
}

bool Worker::Busy(const std::vector<int>& partitions) const {
  return std::any_of(runners_.begin(), runners_.end(), [&](const auto& r) { return r->Busy(partitions); });
}

ProjectionRunner* Worker::RunnerFor(const std::string& projection) {
  for (auto& r : runners_) {
    if (r->projection() == projection) return r.get();
  }
  return nullptr;
}

// Thread entries: whatever escapes a round is logged and the loop goes on after a pause;
// only Shutdown (stop_) ends them. The follower and the notifier handle database errors
// themselves, so reaching a catch here is a bug, never a reason to end the worker.
void Worker::Supervise(const char* what, const std::function<void()>& round) {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(10000));
  while (!stop_) {
    try {
      round();
      return;
    } catch (const std::exception& e) {
      logger_.Error(std::string(what) + " failed; restarting it", {{"error", e.what()}});
    } catch (...) {
      logger_.Error(std::string(what) + " failed with a non-standard exception; restarting it");
    }
    const auto pause = backoff.Next();
    for (auto waited = std::chrono::milliseconds(0); waited < pause && !stop_; waited += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

void Worker::FollowMark() {
  // Supervised: a failed observation is logged and the loop goes on from the kept state.
  std::string last_logged;
  while (!stop_) {
    const bool advanced = follower_->Advance();
    if (advanced) {
      if (!last_logged.empty()) logger_.Info("high-water mark follows again");
      last_logged.clear();
    } else {
      if (follower_->last_error() != last_logged) {
        logger_.Warn("advancing the high-water mark failed; retrying", {{"error", follower_->last_error()}});
        last_logged = follower_->last_error();
      }
    }
    // One extra query (the holder), only while the mark waits on a live transaction.
    auto status = follower_->Status();
    mark_.held.store(status.held);
    {
      std::lock_guard lock(mark_status_mu_);
      mark_status_ = std::move(status);
    }
    if (advanced) RecordWalPosition();
    mark_.Publish(follower_->mark(), advanced);
    if (stop_) break;
    parts_.wait_for_events(std::min(config_.poll_interval, std::chrono::milliseconds(1000)));
  }
}

void Worker::StewardVersions() {
  while (!stop_) {
    const auto next = clock_.Now() + steward_->Round();
    ApplyLanes(steward_->Lanes());
    while (!stop_ && clock_.Now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Standby reads: the WAL insert position read now, after the mark was proven, holds every
// commit the mark relies on. Recorded before the mark is published, so a runner that sees a
// mark finds its position. A failure records nothing: standbys serve older marks meanwhile.
void Worker::RecordWalPosition() {
  if (!parts_.wal_marks) return;
  try {
    if (const auto at = parts_.positions->ReadWalPosition()) {
      parts_.wal_marks->Record(follower_->mark(), *at, clock_.Now());
    }
    if (!wal_error_.empty()) logger_.Info("reading the WAL position works again");
    wal_error_.clear();
  } catch (const std::exception& e) {
    if (wal_error_ != e.what()) logger_.Warn("reading the WAL position failed; retrying", {{"error", e.what()}});
    wal_error_ = e.what();
  }
}

void Worker::WatchStandbys() {
  // The first probe waits for the first recorded WAL position: without it every standby
  // would be `primary_unknown` for a round, and the first batches would go to the primary.
  while (!stop_ && !parts_.wal_marks->Latest()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto interval = std::min(config_.poll_interval, std::chrono::milliseconds(1000));
  while (!stop_) {
    const auto next = clock_.Now() + interval;
    standby_watch_->Round();
    while (!stop_ && clock_.Now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Operator control: the pauses read (and the partition states written) once a second, or
// once per heartbeat interval when that is shorter; the first round runs at once, as the
// runners wait for it.
void Worker::FollowOperator() {
  const auto interval = std::min(config_.heartbeat_interval, std::chrono::milliseconds(1000));
  const auto lanes = Projections();
  const auto apply = [this](const std::string& lane, const PausedPartitions& paused) {
    if (auto* r = RunnerFor(lane)) r->SetPaused(paused);
  };
  while (!stop_) {
    const auto next = clock_.Now() + interval;
    std::vector<RunnerStatus> statuses;
    for (const auto& r : runners_) statuses.push_back(r->Status());
    control_->Round(lanes, apply, statuses);
    while (!stop_ && clock_.Now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Worker::ListenForGenerations() {
  while (!stop_) {
    if (parts_.wait_for_generation(std::chrono::milliseconds(250)) && !stop_) coordinator_->Wake();
  }
}

}  // namespace projd
