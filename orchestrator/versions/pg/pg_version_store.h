// PgVersionStore: VersionStore over projd_projection_versions, the checkpoints of each
// version and the stable-name views (migrations/0009_projection_versions.sql), on one
// connection it owns. Not thread-safe.
#pragma once

#include <memory>

#include <pqxx/connection>

#include "orchestrator/pg/connection.h"
#include "orchestrator/versions/version_store.h"

namespace projd::pg {

class PgVersionStore final : public VersionStore {
 public:
  // The stable names live in options.schema (DATABASE_SCHEMA), beside projd's tables.
  explicit PgVersionStore(ConnectionOptions options);
  ~PgVersionStore() override;

  std::vector<ProjectionVersion> Register(const std::string& replica_set, const std::string& projection,
                                          const std::vector<int>& versions) override;
  std::vector<ProjectionVersion> List(const std::string& replica_set) override;
  bool PointStableNames(const std::string& replica_set, const std::string& projection, int version) override;
  bool MarkReady(const std::string& replica_set, const std::string& projection, int version) override;
  SwitchResult Switch(const std::string& replica_set, const SwitchRequest& request) override;
  bool Resume(const std::string& replica_set, const std::string& projection, int version) override;
  DropResult Drop(const std::string& replica_set, const std::string& projection, int version) override;

 private:
  pqxx::connection& Conn();
  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
};

// Where version `version` of `projection` keeps its tables ("" beside projd's: a version 1 in
// place, or a projection no worker has registered yet). For commands that run its hooks.
std::string ReadModelSchemaOf(const ConnectionOptions& db, const std::string& replica_set,
                              const std::string& projection, int version);

}  // namespace projd::pg
