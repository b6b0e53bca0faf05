// Worker: one `projd run` process assembled from its parts: the coordinator (membership
// and handover), the high-water-mark follower thread, one ProjectionRunner per selected
// projection, and the persistence core they all share.
//
// The parts come in as interfaces (WorkerParts) so that this library stays free of
// libpqxx; cmd/run_command.cc fills them with the Postgres implementations.
// Threads: coordinator, mark follower, generation listener, operator control, one per runner, and the
// persistence core's flusher and unit lanes (one per transactional projection). Thread-safe: Status() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "orchestrator/common/awaitable_thread.h"
#include "orchestrator/runtime/batch_sink.h"
#include "orchestrator/persistence/checkpoint_store.h"
#include "orchestrator/common/clock.h"
#include "orchestrator/config/config.h"
#include "orchestrator/coordination/coordination_store.h"
#include "orchestrator/coordination/coordinator.h"
#include "orchestrator/persistence/dead_letter_store.h"
#include "orchestrator/reading/event_reader.h"
#include "orchestrator/reading/high_water_mark_follower.h"
#include "orchestrator/runtime/listen_monitor.h"
#include "orchestrator/runtime/operator_control.h"
#include "orchestrator/control/control_store.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/coordination/partition_owner.h"
#include "orchestrator/persistence/persistence_core.h"
#include "orchestrator/persistence/persistence_durations.h"
#include "orchestrator/reading/position_source.h"
#include "orchestrator/runtime/shutdown.h"
#include "orchestrator/runtime/worker_status.h"
#include "orchestrator/runtime/projection_runner.h"
#include "orchestrator/reading/published_mark.h"
#include "orchestrator/reading/standby_watch.h"
#include "orchestrator/reading/wal_marks.h"
#include "orchestrator/versions/version_steward.h"

namespace projd {

// Blocks up to the timeout for a notification; true when one arrived.
using NotificationWait = std::function<bool(std::chrono::milliseconds)>;

struct WorkerParts {
  std::unique_ptr<CoordinationStore> coordination;     // the coordinator's connection
  // A store on a fresh connection, for deregistering when the coordinator's thread is
  // still blocked in a statement at shutdown (optional).
  std::function<std::unique_ptr<CoordinationStore>()> make_coordination;
  std::unique_ptr<CheckpointStore> stamp_store;        // the coordinator's (handover stamps)
  std::unique_ptr<CheckpointStore> checkpoint_store;   // the persistence core's
  // One per transactional projection: the connection of its unit lane, searching the
  // version's read-model schema first (none: units share the core's store, one at a time).
  std::function<std::unique_ptr<CheckpointStore>(const std::string& read_model_schema)> make_unit_store;
  // The projection versions (optional: without, every projection runs as it is). `lanes` are
  // the states the start-up registered.
  std::unique_ptr<VersionStore> versions;
  LaneStates lanes;
  std::unique_ptr<PositionSource> positions;           // the mark follower's
  NotificationWait wait_for_events;                    // new events committed
  NotificationWait wait_for_generation;                // generation formed / acknowledged
  std::function<std::unique_ptr<EventReader>()> make_reader;  // one per runner
  // Reading events from hot standbys (EVENTS_READ_URL; all optional): the marks with the WAL
  // positions the follower records for the readers, the board their routers consult, and a
  // probe per standby for the standby watch.
  std::shared_ptr<WalMarks> wal_marks;
  std::shared_ptr<StandbyBoard> standby_board;
  std::vector<std::unique_ptr<StandbyProbe>> standby_probes;
  std::function<std::unique_ptr<DeadLetterStore>()> make_dead_letters;  // one per runner
  std::vector<std::unique_ptr<BatchSink>> sinks;       // the selected projections
  // Operator control (optional): the pauses the runners obey and the partition states
  // written for `projd status`. With it, runners read nothing until the pauses were read.
  std::unique_ptr<ControlStore> control;
  // The health of the LISTEN connections behind the two waits, for Status() (optional).
  std::vector<std::shared_ptr<const ListenMonitor>> listen_monitors;
};

class Worker final : public PartitionOwner {
 public:
  Worker(WorkerParts parts, const Config& config, WorkerInfo info, const Clock& clock, Logger logger);
  ~Worker() override;

  void Start();
  // Graceful stop (SIGTERM) along `plan` (shutdown.h): stop the coordinator, the runners,
  // the mark follower and the generation listener, waiting for their threads until
  // plan.stop_by; drain the persistence core until plan.drain_by; delete this worker's row
  // and form the next generation. Returns how far it got; logs "worker stopped" with it.
  // Returns by plan.deadline unless a database call ignores its timeouts; the caller
  // enforces the deadline (cmd/stop_signals.h). When the result lists abandoned threads
  // they still run: the process must end with std::_Exit, never destroy this Worker.
  ShutdownState Shutdown(const ShutdownPlan& plan);
  // How far a running Shutdown got, for the log line of a stop cut at its deadline.
  // Thread-safe.
  ShutdownState ShutdownProgress() const;

  WorkerStatus Status() const;
  // Operator action (POST /persistence/circuit-breaker/reset): closes the core's breaker.
  void ResetCircuitBreaker() { core_->ResetCircuitBreaker(); }

  // PartitionOwner (driven by the coordinator).
  std::vector<std::string> Projections() const override;
  void Take(int partition_count, const std::vector<Checkpoint>& taken) override;
  void Release(const std::vector<int>& partitions) override;
  bool Busy(const std::vector<int>& partitions) const override;

 private:
  void Supervise(const char* what, const std::function<void()>& round);
  void FollowMark();
  void ListenForGenerations();
  void StewardVersions();
  void WatchStandbys();
  void FollowOperator();
  void RecordWalPosition();
  // Tells the sinks where their read models live now; returns the lanes that run.
  LaneStates ApplyLanes(const LaneStates& lanes);
  ProjectionRunner* RunnerFor(const std::string& projection);

  WorkerParts parts_;
  const Config config_;
  const WorkerInfo info_;
  const Clock& clock_;
  Logger logger_;

  PublishedMark mark_;
  PersistenceDurations persistence_durations_;  // the core's observer: declared before it
  std::vector<std::unique_ptr<CheckpointStore>> unit_stores_;  // the core's lanes: declared before it
  std::unique_ptr<PersistenceCore> core_;
  std::vector<std::unique_ptr<ProjectionRunner>> runners_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<HighWaterMarkFollower> follower_;
  std::unique_ptr<VersionSteward> steward_;  // null without parts_.versions
  std::unique_ptr<StandbyWatch> standby_watch_;  // null without standbys
  std::unique_ptr<OperatorControl> control_;     // null without parts_.control

  void SetShutdown(const std::function<void(ShutdownState&)>& change);

  std::atomic<bool> stop_{false};
  mutable std::mutex mark_status_mu_;
  HighWaterMarkStatus mark_status_;
  AwaitableThread mark_thread_;
  AwaitableThread listen_thread_;
  AwaitableThread versions_thread_;
  AwaitableThread standby_thread_;
  AwaitableThread control_thread_;
  std::string wal_error_;  // the last failure to read the WAL position (mark thread only)
  std::atomic<bool> shut_down_{false};
  mutable std::mutex shutdown_mu_;
  ShutdownState shutdown_;
};

}  // namespace projd
