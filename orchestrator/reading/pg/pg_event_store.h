// PgEventStore: EventStore over libpqxx on one connection it owns. Not thread-safe.
#pragma once

#include <memory>

#include <pqxx/connection>

#include "orchestrator/reading/event_store.h"
#include "orchestrator/pg/connection.h"

namespace pqxx {
class row;
}

namespace projd::pg {

class PgEventStore final : public EventStore {
 public:
  explicit PgEventStore(ConnectionOptions options);
  ~PgEventStore() override;

  AppendResult Append(const StreamId& stream, ExpectedVersion expected,
                      std::span<const NewEvent> events) override;
  std::vector<Event> ReadStream(const StreamId& stream, std::int64_t after_version = 0) override;
  std::vector<Event> ReadAll(std::int64_t after_position, int limit) override;
  std::int64_t LatestPosition() override;
  EventStoreSummary Summarize() override;

 private:
  pqxx::connection& Conn();

  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
};

// The column list every event read selects, and the conversion of one such row.
extern const char* const kEventColumns;
Event EventFromRow(const pqxx::row& row);

}  // namespace projd::pg
