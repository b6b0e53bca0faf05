// Worker: one `projd run` process assembled from its parts: the coordinator (membership
// and handover), the high-water-mark follower thread, one ProjectionRunner per selected
// projection, and the persistence core they all share.
//
// The parts come in as interfaces (WorkerParts) so that this library stays free of
// libpqxx; cmd/run_command.cc fills them with the Postgres implementations.
// Threads: coordinator, mark follower, generation listener, one per runner, and the
// persistence core's flusher and unit lane. Thread-safe: Status() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/batch_sink.h"
#include "orchestrator/checkpoint_store.h"
#include "orchestrator/clock.h"
#include "orchestrator/config.h"
#include "orchestrator/coordination_store.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/dead_letter_store.h"
#include "orchestrator/event_reader.h"
#include "orchestrator/high_water_mark_follower.h"
#include "orchestrator/listen_monitor.h"
#include "orchestrator/logging.h"
#include "orchestrator/partition_owner.h"
#include "orchestrator/persistence_core.h"
#include "orchestrator/persistence_durations.h"
#include "orchestrator/position_source.h"
#include "orchestrator/worker_status.h"
#include "orchestrator/projection_runner.h"
#include "orchestrator/published_mark.h"

namespace projd {

// Blocks up to the timeout for a notification; true when one arrived.
using NotificationWait = std::function<bool(std::chrono::milliseconds)>;

struct WorkerParts {
  std::unique_ptr<CoordinationStore> coordination;     // the coordinator's connection
  std::unique_ptr<CheckpointStore> stamp_store;        // the coordinator's (handover stamps)
  std::unique_ptr<CheckpointStore> checkpoint_store;   // the persistence core's
  std::unique_ptr<PositionSource> positions;           // the mark follower's
  NotificationWait wait_for_events;                    // new events committed
  NotificationWait wait_for_generation;                // generation formed / acknowledged
  std::function<std::unique_ptr<EventReader>()> make_reader;  // one per runner
  std::function<std::unique_ptr<DeadLetterStore>()> make_dead_letters;  // one per runner
  std::vector<std::unique_ptr<BatchSink>> sinks;       // the selected projections
  // The health of the LISTEN connections behind the two waits, for Status() (optional).
  std::vector<std::shared_ptr<const ListenMonitor>> listen_monitors;
};

class Worker final : public PartitionOwner {
 public:
  Worker(WorkerParts parts, const Config& config, WorkerInfo info, const Clock& clock, Logger logger);
  ~Worker() override;

  void Start();
  // Graceful stop (SIGTERM): stop reading, drain the persistence core within
  // SHUTDOWN_TIMEOUT, delete this worker's row and form the next generation. Returns
  // true when everything pending became durable.
  bool Shutdown();

  WorkerStatus Status() const;
  // Operator action (POST /persistence/circuit-breaker/reset): closes the core's breaker.
  void ResetCircuitBreaker() { core_->ResetCircuitBreaker(); }

  // PartitionOwner (driven by the coordinator).
  std::vector<std::string> Projections() const override;
  void Take(int partition_count, const std::vector<Checkpoint>& taken) override;
  void Release(const std::vector<int>& partitions) override;

 private:
  void Supervise(const char* what, const std::function<void()>& round);
  void FollowMark();
  void ListenForGenerations();
  ProjectionRunner* RunnerFor(const std::string& projection);

  WorkerParts parts_;
  const Config config_;
  const WorkerInfo info_;
  const Clock& clock_;
  Logger logger_;

  PublishedMark mark_;
  PersistenceDurations persistence_durations_;  // the core's observer: declared before it
  std::unique_ptr<PersistenceCore> core_;
  std::vector<std::unique_ptr<ProjectionRunner>> runners_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<HighWaterMarkFollower> follower_;

  std::atomic<bool> stop_{false};
  mutable std::mutex mark_status_mu_;
  HighWaterMarkStatus mark_status_;
  std::thread mark_thread_;
  std::thread listen_thread_;
  std::atomic<bool> shut_down_{false};
};

}  // namespace projd
