// PgControlStore: ControlStore over projd_projection_pauses and projd_partition_states on
// one connection it owns, plus the operator's side (`projd projections pause|resume`).
// Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <pqxx/connection>

#include "orchestrator/control/control_store.h"
#include "orchestrator/pg/connection.h"

namespace projd::pg {

class PgControlStore final : public ControlStore {
 public:
  explicit PgControlStore(ConnectionOptions options);
  ~PgControlStore() override;

  std::vector<Pause> ReadPauses(const std::string& replica_set) override;
  void WritePartitionStates(const std::string& replica_set, const std::string& worker_id,
                            const std::vector<PartitionState>& states) override;

  // The operator's side. What a pause or resume found:
  enum class Change {
    kDone,        // the row was added (pause) or removed (resume)
    kAlready,     // nothing to do: already paused / not paused
    kWholePause,  // resume of one partition while the projection is paused as a whole
  };
  Change PauseProjection(const std::string& replica_set, const Pause& pause);
  // Removes the pause of `partition`, or every pause of the projection when nullopt.
  Change ResumeProjection(const std::string& replica_set, const std::string& projection,
                          std::optional<int> partition);
  // The replica set's partition count (nullopt: no worker has created it yet), and whether
  // the database knows `projection` in it (checkpoints or version rows).
  std::optional<int> PartitionCount(const std::string& replica_set);
  bool ProjectionKnown(const std::string& replica_set, const std::string& projection);

 private:
  pqxx::connection& Conn();

  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace projd::pg
