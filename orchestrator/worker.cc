#include "orchestrator/worker.h"

#include <algorithm>

#include "orchestrator/backoff.h"

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
  for (auto& sink : parts_.sinks) {
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
}

Worker::~Worker() {
  if (!shut_down_) {
    stop_ = true;
    coordinator_->Stop();
    for (auto& r : runners_) r->Stop();
    if (mark_thread_.joinable()) mark_thread_.join();
    if (listen_thread_.joinable()) listen_thread_.join();
  }
}

void Worker::Start() {
  core_->Start();
  mark_thread_ = std::thread([this] { Supervise("high-water-mark follower", [this] { FollowMark(); }); });
  listen_thread_ = std::thread([this] { Supervise("generation listener", [this] { ListenForGenerations(); }); });
  for (auto& r : runners_) r->Start();
  coordinator_->Start();
  logger_.Info("worker started", {{"replica_set", config_.replica_set}, {"worker_id", info_.worker_id},
                                  {"worker_name", info_.worker_name}, {"projections", std::to_string(runners_.size())}});
}

bool Worker::Shutdown() {
  shut_down_ = true;
  const auto started = clock_.Now();
  coordinator_->Stop();                   // no more takes or heartbeats
  for (auto& r : runners_) r->Stop();     // stop reading after the batch in flight
  const auto report = core_->Shutdown();  // final drain within SHUTDOWN_TIMEOUT
  coordinator_->Leave();                  // delete our row, form the next generation
  stop_ = true;
  if (mark_thread_.joinable()) mark_thread_.join();
  if (listen_thread_.joinable()) listen_thread_.join();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - started);
  logger_.Info("worker stopped", {{"drained", report.drained ? "true" : "false"},
                                  {"unflushed", std::to_string(report.unflushed.size())},
                                  {"took_ms", std::to_string(took.count())}});
  return report.drained;
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
  s.high_water_mark = mark_.value.load();
  s.stopping = shut_down_.load();
  for (const auto& m : parts_.listen_monitors) s.listeners.push_back(m->Status());
  std::lock_guard lock(mark_status_mu_);
  s.mark = mark_status_;
  return s;
}

std::vector<std::string> Worker::Projections() const {
  std::vector<std::string> names;
  for (const auto& r : runners_) names.push_back(r->projection());
  return names;
}

void Worker::Take(int partition_count, const std::vector<Checkpoint>& taken) {
  for (auto& r : runners_) r->Take(partition_count, taken);
}

void Worker::Release(const std::vector<int>& partitions) {
  for (auto& r : runners_) r->Release(partitions);
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
    if (follower_->Advance()) {
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
    mark_.Publish(follower_->mark());
    if (stop_) break;
    parts_.wait_for_events(std::min(config_.poll_interval, std::chrono::milliseconds(1000)));
  }
}

void Worker::ListenForGenerations() {
  while (!stop_) {
    if (parts_.wait_for_generation(std::chrono::milliseconds(250)) && !stop_) coordinator_->Wake();
  }
}

}  // namespace projd
