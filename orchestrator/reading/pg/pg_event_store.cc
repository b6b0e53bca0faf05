#include "orchestrator/reading/pg/pg_event_store.h"

#include <pqxx/pqxx>

#include "orchestrator/common/errors.h"
#include "orchestrator/pg/error_translation.h"
#include "orchestrator/pg/sql_array.h"

namespace projd::pg {

const char* const kEventColumns =
    "global_position, bounded_context, aggregate_type, aggregate_id, aggregate_version,"
    " event_id::text, event_type, event_version, payload, trace_id, correlation_id,"
    " causation_id, metadata::text, (extract(epoch FROM created_at) * 1000000)::bigint";

namespace {

// The stream's current version: the newest of the head row and the events themselves
// (a plain INSERT may not have touched aggregate_heads). The head row is locked so
// concurrent projd appenders to one stream queue instead of racing.
constexpr const char* kLockHeadSql =
    "SELECT aggregate_version FROM aggregate_heads"
    " WHERE bounded_context = $1 AND aggregate_type = $2 AND aggregate_id = $3 FOR UPDATE";
constexpr const char* kMaxVersionSql =
    "SELECT coalesce(max(aggregate_version), 0) FROM events"
    " WHERE bounded_context = $1 AND aggregate_type = $2 AND aggregate_id = $3";
// Positions come from the column default inside this INSERT (never a separate nextval).
constexpr const char* kInsertSql =
    "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version,"
    " event_id, event_type, event_version, payload, trace_id, correlation_id, causation_id,"
    " metadata)"
    " SELECT $1, $2, $3, $4::bigint + n,"
    "  coalesce(nullif(e.event_id, '')::uuid, gen_random_uuid()), e.event_type, e.event_version,"
    "  decode(e.payload, 'hex'), e.trace_id, e.correlation_id, e.causation_id, e.metadata::jsonb"
    " FROM unnest($5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[],"
    "             $11::text[], $12::text[])"
    "      WITH ORDINALITY AS e(event_id, event_type, event_version, payload, trace_id,"
    "                           correlation_id, causation_id, metadata, n)"
    " ORDER BY n"
    " RETURNING global_position";
constexpr const char* kUpsertHeadSql =
    "INSERT INTO aggregate_heads (bounded_context, aggregate_type, aggregate_id, aggregate_version)"
    " VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (bounded_context, aggregate_type, aggregate_id) DO UPDATE"
    " SET aggregate_version = GREATEST(aggregate_heads.aggregate_version, EXCLUDED.aggregate_version),"
    "     updated_at = now()";
const std::string kReadStreamSql = std::string("SELECT ") + kEventColumns +
                                   " FROM events WHERE bounded_context = $1 AND aggregate_type = $2"
                                   " AND aggregate_id = $3 AND aggregate_version > $4"
                                   " ORDER BY aggregate_version";
const std::string kReadAllSql = std::string("SELECT ") + kEventColumns +
                                " FROM events WHERE global_position > $1"
                                " ORDER BY global_position LIMIT $2";

constexpr const char* kLatestSql = "SELECT coalesce(max(global_position), 0) FROM events";
constexpr const char* kSummarySql =
    "SELECT count(*), count(DISTINCT (bounded_context, aggregate_type, aggregate_id)),"
    " coalesce(max(global_position), 0) FROM events";
constexpr const char* kTypeCountsSql =
    "SELECT event_type, count(*) FROM events GROUP BY event_type ORDER BY event_type";

constexpr const char* kUniqueViolation = "23505";

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> OptionalText(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

std::string ConflictMessage(const StreamId& s, ExpectedVersion expected, std::int64_t actual) {
  return "concurrency conflict on " + s.bounded_context + "/" + s.aggregate_type + "/" +
         s.aggregate_id + ": expected " + expected.ToString() + ", stream is at version " +
         std::to_string(actual);
}

}  // namespace

Event EventFromRow(const pqxx::row& r) {
  Event e;
  e.global_position = r[0].as<std::int64_t>();
  e.bounded_context = r[1].as<std::string>();
  e.aggregate_type = r[2].as<std::string>();
  e.aggregate_id = r[3].as<std::string>();
  e.aggregate_version = r[4].as<std::int64_t>();
  e.event_id = r[5].as<std::string>();
  e.event_type = r[6].as<std::string>();
  e.event_version = r[7].as<int>();
  e.payload = pqxx::binarystring(r[8]).str();
  e.trace_id = OptionalText(r[9]);
  e.correlation_id = OptionalText(r[10]);
  e.causation_id = OptionalText(r[11]);
  e.metadata = OptionalText(r[12]);
  e.created_at = std::chrono::system_clock::time_point(std::chrono::microseconds(r[13].as<std::int64_t>()));
  return e;
}

PgEventStore::PgEventStore(ConnectionOptions options) : options_(std::move(options)) {}
PgEventStore::~PgEventStore() = default;

pqxx::connection& PgEventStore::Conn() {
  if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
  return *conn_;
}

AppendResult PgEventStore::Append(const StreamId& stream, ExpectedVersion expected,
                                  std::span<const NewEvent> events) {
  if (events.empty()) throw PermanentError("append: no events given");
  std::vector<std::optional<std::string>> ids, trace, corr, cause, meta;
  std::vector<std::string> types, payloads;
  std::vector<int> versions;
  for (const auto& e : events) {
    ids.push_back(e.event_id);
    types.push_back(e.event_type);
    versions.push_back(e.event_version);
    payloads.push_back(Hex(e.payload));
    trace.push_back(e.trace_id);
    corr.push_back(e.correlation_id);
    cause.push_back(e.causation_id);
    meta.push_back(e.metadata);
  }
  std::int64_t current = 0;
  try {
    pqxx::work tx(Conn());
    const auto head = tx.exec_params(kLockHeadSql, stream.bounded_context, stream.aggregate_type,
                                     stream.aggregate_id);
    current = tx.exec_params1(kMaxVersionSql, stream.bounded_context, stream.aggregate_type,
                              stream.aggregate_id)[0]
                  .as<std::int64_t>();
    if (!head.empty()) current = std::max(current, head[0][0].as<std::int64_t>());
    if (!expected.Matches(current)) throw ConcurrencyConflict(ConflictMessage(stream, expected, current));
    const auto rows = tx.exec_params(kInsertSql, stream.bounded_context, stream.aggregate_type,
                                     stream.aggregate_id, current, NullableTextArray(ids),
                                     TextArray(types), IntArray(versions), TextArray(payloads),
                                     NullableTextArray(trace), NullableTextArray(corr),
                                     NullableTextArray(cause), NullableTextArray(meta));
    AppendResult result;
    for (const auto& r : rows) result.positions.push_back(r[0].as<std::int64_t>());
    result.first_version = current + 1;
    result.last_version = current + static_cast<std::int64_t>(events.size());
    tx.exec_params0(kUpsertHeadSql, stream.bounded_context, stream.aggregate_type,
                    stream.aggregate_id, result.last_version);
    tx.commit();
    return result;
  } catch (const pqxx::unique_violation& e) {
    // Another writer (possibly a plain INSERT) took one of our versions first.
    if (std::string(e.what()).find("events_event_id_key") != std::string::npos) {
      throw PermanentError(std::string("append: duplicate event_id: ") + e.what());
    }
    throw ConcurrencyConflict(ConflictMessage(stream, expected, current) +
                              " (a concurrent writer appended first)");
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == kUniqueViolation) {
      throw ConcurrencyConflict(ConflictMessage(stream, expected, current));
    }
    Rethrow("append");
  } catch (const projd::Error&) {
    throw;
  } catch (const std::exception&) {
    conn_.reset();
    Rethrow("append");
  }
}

std::vector<Event> PgEventStore::ReadStream(const StreamId& stream, std::int64_t after_version) {
  return Translate("read stream", [&] {
    pqxx::read_transaction tx(Conn());
    std::vector<Event> out;
    for (const auto& r : tx.exec_params(kReadStreamSql, stream.bounded_context, stream.aggregate_type,
                                        stream.aggregate_id, after_version)) {
      out.push_back(EventFromRow(r));
    }
    return out;
  });
}

std::vector<Event> PgEventStore::ReadAll(std::int64_t after_position, int limit) {
  return Translate("read events", [&] {
    pqxx::read_transaction tx(Conn());
    std::vector<Event> out;
    for (const auto& r : tx.exec_params(kReadAllSql, after_position, limit)) out.push_back(EventFromRow(r));
    return out;
  });
}

std::int64_t PgEventStore::LatestPosition() {
  return Translate("latest position", [&] {
    pqxx::read_transaction tx(Conn());
    return tx.exec1(kLatestSql)[0].as<std::int64_t>();
  });
}

EventStoreSummary PgEventStore::Summarize() {
  return Translate("summarize events", [&] {
    pqxx::read_transaction tx(Conn());
    EventStoreSummary out;
    const auto r = tx.exec1(kSummarySql);
    out.events = r[0].as<std::int64_t>();
    out.aggregates = r[1].as<std::int64_t>();
    out.max_position = r[2].as<std::int64_t>();
    for (const auto& row : tx.exec(kTypeCountsSql)) {
      out.per_event_type.emplace_back(row[0].as<std::string>(), row[1].as<std::int64_t>());
    }
    return out;
  });
}

}  // namespace projd::pg
