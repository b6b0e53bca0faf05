#include "orchestrator/persistence/pg/pg_dead_letter_store.h"

#include <pqxx/pqxx>

#include "orchestrator/pg/error_translation.h"
#include "orchestrator/reading/pg/pg_event_store.h"
#include "orchestrator/persistence/pg/pg_transaction.h"
#include "orchestrator/pg/sql_array.h"

namespace projd::pg {
namespace {

constexpr const char* kRecordSql =
    "INSERT INTO projd_dead_letters (replica_set, projection, global_position, bounded_context, aggregate_type,"
    " aggregate_id, event_type, parked, error, attempts)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],"
    "                      $8::boolean[], $9::text[], $10::int[])"
    " ON CONFLICT (replica_set, projection, global_position) DO NOTHING";
constexpr const char* kParkedSql =
    "SELECT DISTINCT bounded_context, aggregate_type, aggregate_id FROM projd_dead_letters"
    " WHERE replica_set = $1 AND projection = $2 AND replayed_at IS NULL";
constexpr const char* kListSql =
    "SELECT id, projection, global_position, bounded_context, aggregate_type, aggregate_id, event_type, parked,"
    " error, created_at::text"
    " FROM projd_dead_letters WHERE replica_set = $1 AND ($2 = '' OR projection = $2) AND replayed_at IS NULL"
    " ORDER BY projection, global_position";
// A NULL context or type matches any: the operator named only part of the identity.
constexpr const char* kFindStreamsSql =
    "SELECT DISTINCT bounded_context, aggregate_type, aggregate_id FROM projd_dead_letters"
    " WHERE replica_set = $1 AND projection = $2 AND replayed_at IS NULL AND aggregate_id = $3"
    " AND ($4::text IS NULL OR bounded_context = $4) AND ($5::text IS NULL OR aggregate_type = $5)"
    " ORDER BY 1, 2, 3";
constexpr const char* kLockStreamSql =
    "SELECT id, global_position FROM projd_dead_letters"
    " WHERE replica_set = $1 AND projection = $2 AND bounded_context = $3 AND aggregate_type = $4"
    " AND aggregate_id = $5 AND replayed_at IS NULL"
    " ORDER BY global_position FOR UPDATE";
const std::string kReplayEventsSql = std::string("SELECT ") + kEventColumns +
                                     " FROM events WHERE global_position = ANY($1::bigint[]) ORDER BY global_position";
constexpr const char* kMarkReplayedSql =
    "UPDATE projd_dead_letters SET replayed_at = now() WHERE id = ANY($1::bigint[])";

StreamId StreamFromRow(const pqxx::row& r, int first) {
  return {r[first].as<std::string>(), r[first + 1].as<std::string>(), r[first + 2].as<std::string>()};
}

}  // namespace

PgDeadLetterStore::PgDeadLetterStore(ConnectionOptions options) : options_(std::move(options)) {}
PgDeadLetterStore::~PgDeadLetterStore() = default;

pqxx::connection& PgDeadLetterStore::Conn() {
  if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
  return *conn_;
}

void PgDeadLetterStore::Record(TransactionHandle& handle, const std::vector<DeadLetter>& letters) {
  if (letters.empty()) return;
  std::vector<std::string> sets, projections, contexts, aggregate_types, aggregates, types, errors, parked;
  std::vector<std::int64_t> positions, attempts;
  for (const auto& l : letters) {
    sets.push_back(l.replica_set);
    projections.push_back(l.projection);
    positions.push_back(l.global_position);
    contexts.push_back(l.stream.bounded_context);
    aggregate_types.push_back(l.stream.aggregate_type);
    aggregates.push_back(l.stream.aggregate_id);
    types.push_back(l.event_type);
    parked.push_back(l.parked ? "true" : "false");
    errors.push_back(l.error);
    attempts.push_back(l.attempts);
  }
  auto& tx = Work(handle);
  tx.exec_params0(kRecordSql, TextArray(sets), TextArray(projections), IntArray(positions), TextArray(contexts),
                  TextArray(aggregate_types), TextArray(aggregates), TextArray(types), TextArray(parked),
                  TextArray(errors), IntArray(attempts));
}

std::set<StreamId> PgDeadLetterStore::ParkedStreams(const std::string& replica_set, const std::string& projection) {
  return Translate("read parked streams", [&] {
    // Every runner asks once per POLL_INTERVAL: one statement, no BEGIN/ROLLBACK around it.
    pqxx::nontransaction tx(Conn());
    std::set<StreamId> out;
    for (const auto& r : tx.exec_params(kParkedSql, replica_set, projection)) out.insert(StreamFromRow(r, 0));
    return out;
  });
}

std::vector<DeadLetterRow> PgDeadLetterStore::List(const std::string& replica_set, const std::string& projection) {
  return Translate("list dead letters", [&] {
    pqxx::read_transaction tx(Conn());
    std::vector<DeadLetterRow> out;
    for (const auto& r : tx.exec_params(kListSql, replica_set, projection)) {
      out.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::int64_t>(), StreamFromRow(r, 3),
                     r[6].as<std::string>(), r[7].as<bool>(), r[8].as<std::string>(), r[9].as<std::string>()});
    }
    return out;
  });
}

std::vector<StreamId> PgDeadLetterStore::FindStreams(const std::string& replica_set, const std::string& projection,
                                                     const StreamQuery& query) {
  return Translate("find dead-lettered streams", [&] {
    pqxx::read_transaction tx(Conn());
    std::vector<StreamId> out;
    for (const auto& r : tx.exec_params(kFindStreamsSql, replica_set, projection, query.aggregate_id,
                                        query.bounded_context, query.aggregate_type)) {
      out.push_back(StreamFromRow(r, 0));
    }
    return out;
  });
}

int PgDeadLetterStore::Replay(const std::string& replica_set, const std::string& projection, const StreamId& stream,
                              const std::function<void(std::span<const Event>, pqxx::work&)>& handle) {
  return Translate("replay dead letters", [&] {
    pqxx::work tx(Conn());
    std::vector<std::int64_t> ids, positions;
    for (const auto& r : tx.exec_params(kLockStreamSql, replica_set, projection, stream.bounded_context,
                                        stream.aggregate_type, stream.aggregate_id)) {
      ids.push_back(r[0].as<std::int64_t>());
      positions.push_back(r[1].as<std::int64_t>());
    }
    if (ids.empty()) return 0;
    std::vector<Event> events;
    for (const auto& r : tx.exec_params(kReplayEventsSql, IntArray(positions))) events.push_back(EventFromRow(r));
    handle(events, tx);
    tx.exec_params0(kMarkReplayedSql, IntArray(ids));
    tx.commit();
    return static_cast<int>(ids.size());
  });
}

}  // namespace projd::pg
