// PgPositionSource: high-water-mark observations from PostgreSQL on its own connection,
// and the proven mark kept in projd_proven_marks (one row per events table).
//
// At construction it checks that the events position sequence has cache 1 (allocation
// order = time order) and throws PermanentError otherwise. Reconnects after a broken
// connection on the next call. Not thread-safe.
#pragma once

#include <memory>

#include <pqxx/connection>

#include "orchestrator/pg/connection.h"
#include "orchestrator/reading/position_source.h"

namespace projd::pg {

class PgPositionSource final : public PositionSource {
 public:
  explicit PgPositionSource(ConnectionOptions options);
  ~PgPositionSource() override;

  PositionObservation Observe(std::int64_t mark, std::int64_t window, WithWriters writers) override;
  LastPosition ReadLastPosition() override;
  WriterCensus ReadWriters() override;
  std::optional<HoldingTransaction> OldestWriter(const std::vector<WriteLockHolder>& writers) override;
  StoredMark LoadProvenMark() override;
  void SaveProvenMark(std::int64_t mark, const std::string& history) override;
  std::optional<WalPosition> ReadWalPosition() override;

 private:
  pqxx::connection& Conn();

  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
  std::string observe_sql_;
  std::string observe_with_writers_sql_;
  std::string last_position_sql_;
  std::string writers_sql_;
  std::string load_mark_sql_;
  std::string save_mark_sql_;
};

}  // namespace projd::pg
