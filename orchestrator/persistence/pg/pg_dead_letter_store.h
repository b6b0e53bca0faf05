// PgDeadLetterStore: DeadLetterStore over projd_dead_letters, plus what the
// `projd dead-letters` command needs (list, resolve a stream, replay one stream). A stream
// is the full identity (bounded_context, aggregate_type, aggregate_id). Records go through
// the unit's transaction; reads use a connection of its own. Not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>

#include <pqxx/connection>
#include <pqxx/transaction>

#include "orchestrator/persistence/dead_letter_store.h"
#include "orchestrator/reading/event.h"
#include "orchestrator/pg/connection.h"

namespace projd::pg {

struct DeadLetterRow {
  std::int64_t id = 0;
  std::string projection;
  std::int64_t global_position = 0;
  StreamId stream;
  std::string event_type;
  bool parked = false;
  std::string error;
  std::string created_at;
};

// A stream named by its aggregate id and, optionally, its type and bounded context
// (nullopt = any): what an operator typed, to be resolved to one StreamId.
struct StreamQuery {
  std::optional<std::string> bounded_context;
  std::optional<std::string> aggregate_type;
  std::string aggregate_id;
};

class PgDeadLetterStore final : public DeadLetterStore {
 public:
  explicit PgDeadLetterStore(ConnectionOptions options);
  ~PgDeadLetterStore() override;

  void Record(TransactionHandle& tx, const std::vector<DeadLetter>& letters) override;
  std::set<StreamId> ParkedStreams(const std::string& replica_set, const std::string& projection) override;

  // Dead letters not yet replayed, oldest first ("" = every projection).
  std::vector<DeadLetterRow> List(const std::string& replica_set, const std::string& projection);

  // The streams of `projection` with dead letters not yet replayed that match `query`,
  // ordered. More than one means the query is ambiguous (same id, other type or context).
  std::vector<StreamId> FindStreams(const std::string& replica_set, const std::string& projection,
                                    const StreamQuery& query);

  // Replays one stream's dead letters of a projection in position order, in one
  // transaction: `handle` gets the events and the transaction; on success they are marked
  // replayed and workers stop parking the stream. Returns the number replayed. Rows whose
  // event no longer exists are marked replayed without reaching `handle`.
  int Replay(const std::string& replica_set, const std::string& projection, const StreamId& stream,
             const std::function<void(std::span<const Event>, pqxx::work&)>& handle);

 private:
  pqxx::connection& Conn();

  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace projd::pg
