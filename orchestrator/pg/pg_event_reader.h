// PgEventReader: EventReader over PostgreSQL on its own connection (opened with
// max_parallel_workers_per_gather=0: a batch is a short index range scan, and a parallel
// plan per page costs several times more). Reconnects on the next call after a broken
// connection. Not thread-safe.
#pragma once

#include <memory>

#include <pqxx/connection>

#include "orchestrator/event_reader.h"
#include "orchestrator/pg/connection.h"

namespace projd::pg {

class PgEventReader final : public EventReader {
 public:
  explicit PgEventReader(ConnectionOptions options);
  ~PgEventReader() override;

  ReadResult ReadBatch(const ReadRequest& request) override;

  // The SQL of a batch (for EXPLAIN in tests and docs).
  static const std::string& BatchSql();
  // The server settings of a reader session (planner settings that keep the batch an
  // ordered index scan whatever the table's statistics say).
  static const std::vector<std::pair<std::string, std::string>>& SessionSettings();

 private:
  pqxx::connection& Conn();

  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace projd::pg
