#include "orchestrator/reading/pg/pg_position_source.h"

#include <pqxx/pqxx>

#include "orchestrator/common/errors.h"
#include "orchestrator/pg/error_translation.h"
#include "orchestrator/pg/sql_array.h"
#include "orchestrator/reading/pg/pg_standby_probe.h"

namespace projd::pg {
namespace {

// All SQL of the position source. @SEQ@ is the position sequence's name as PostgreSQL
// quotes it (from the catalog, not from configuration).
constexpr const char* kSequenceSql =
    "SELECT s.seqrelid::regclass::text, s.seqcache"
    " FROM pg_sequence s WHERE s.seqrelid = pg_get_serial_sequence('events', 'global_position')::regclass";

// The highest position the sequence handed out.
#define PROJD_SEQ_LAST "(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM @SEQ@)"

// The identity of the event history: the storage files of events and of its sequence.
// TRUNCATE (with or without RESTART IDENTITY), ALTER SEQUENCE ... RESTART and table
// rewrites replace them; inserts never do. Positions proven for one history say nothing
// about the next.
#define PROJD_HISTORY "(pg_relation_filenode('events')::text || '/' || pg_relation_filenode(pg_get_serial_sequence('events', 'global_position')))"

// Holders of a granted RowExclusiveLock on this database's events table: every writer of
// events takes it before its INSERT allocates a position and keeps it to its end.
#define PROJD_WRITE_LOCKS                                                          \
  " FROM pg_locks l WHERE l.locktype = 'relation' AND l.relation = 'events'::regclass" \
  " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())" \
  " AND l.mode = 'RowExclusiveLock' AND l.granted"

// ONE statement, ONE snapshot: upper = max(highest visible position, the sequence's last
// value) capped by the window, and the positions in (mark, upper] missing from the snapshot.
#define PROJD_OBSERVE                                                                        \
  "WITH top AS (SELECT max(global_position) AS v FROM events"                                \
  "             WHERE global_position > $1 AND global_position <= $1 + $2),"                 \
  " bound AS (SELECT least($1 + $2, greatest((SELECT v FROM top), " PROJD_SEQ_LAST ", $1)) AS upper)" \
  " SELECT (SELECT upper FROM bound),"                                                       \
  "        ARRAY(SELECT g FROM generate_series($1 + 1, (SELECT upper FROM bound)) AS g"      \
  "              LEFT JOIN events e ON e.global_position = g"                                \
  "              WHERE e.global_position IS NULL ORDER BY g)::text,"                         \
  "        " PROJD_HISTORY ", pg_is_in_recovery()"

constexpr const char* kObserveTemplate = PROJD_OBSERVE;
// The same, plus the write-lock holders read while the statement runs, i.e. after its
// snapshot was taken: "vxid" or "vxid:p" for a prepared transaction, comma-separated.
constexpr const char* kObserveWithWritersTemplate =
    PROJD_OBSERVE
    ", (SELECT coalesce(string_agg(DISTINCT l.virtualtransaction ||"
    "     CASE WHEN l.pid IS NULL THEN ':p' ELSE '' END, ','), '')" PROJD_WRITE_LOCKS ")";

// The oldest of the given writers still holding its lock, with what pg_stat_activity or
// pg_prepared_xacts says about it.
constexpr const char* kOldestWriterSql =
    "SELECT coalesce(l.pid, 0), coalesce(a.backend_xid::text, p.transaction::text, ''),"
    "       coalesce(coalesce(a.xact_start, p.prepared)::text, ''), coalesce(a.datname, p.database, ''),"
    "       CASE WHEN l.pid IS NULL THEN 'prepared' ELSE coalesce(a.state, '') END,"
    "       coalesce(a.application_name, p.gid, ''), coalesce(a.wait_event_type || '/' || a.wait_event, '')"
    " FROM (SELECT DISTINCT l.pid, l.virtualtransaction" PROJD_WRITE_LOCKS
    "       AND l.virtualtransaction = ANY($1::text[])) l"
    " LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
    " LEFT JOIN LATERAL (SELECT px.* FROM pg_prepared_xacts px JOIN pg_locks x"
    "   ON x.locktype = 'transactionid' AND x.transactionid = px.transaction"
    "   WHERE l.pid IS NULL AND x.virtualtransaction = l.virtualtransaction LIMIT 1) p ON true"
    " ORDER BY coalesce(a.xact_start, p.prepared) NULLS LAST LIMIT 1";

// A stored mark of another history (the table was emptied or rewritten since) is not
// this history's.
constexpr const char* kLoadMarkTemplate =
    "SELECT coalesce((SELECT m.mark FROM projd_proven_marks m"
    " WHERE m.events_relid = 'events'::regclass AND m.history = " PROJD_HISTORY "), 0), " PROJD_HISTORY;

// Only for the history the mark was proven in; monotonic within a history.
constexpr const char* kSaveMarkTemplate =
    "INSERT INTO projd_proven_marks AS m (events_relid, events_table, history, mark)"
    " SELECT 'events'::regclass, 'events'::regclass::text, $2, $1 WHERE $2 = " PROJD_HISTORY
    " ON CONFLICT (events_relid) DO UPDATE SET mark = excluded.mark, history = excluded.history, proven_at = now()"
    " WHERE m.mark < excluded.mark OR m.history <> excluded.history";

// The backlog barrier's two statements: the sequence's last value (S1), and, later, the
// write-lock holders (the census), each with the history it belongs to.
constexpr const char* kLastPositionTemplate =
    "SELECT " PROJD_SEQ_LAST ", " PROJD_HISTORY ", pg_is_in_recovery()";
constexpr const char* kWritersTemplate =
    "SELECT coalesce(string_agg(DISTINCT l.virtualtransaction ||"
    " CASE WHEN l.pid IS NULL THEN ':p' ELSE '' END, ','), ''), " PROJD_HISTORY PROJD_WRITE_LOCKS;

#undef PROJD_OBSERVE
#undef PROJD_WRITE_LOCKS
#undef PROJD_SEQ_LAST
#undef PROJD_HISTORY

std::vector<std::int64_t> ParseIntArray(const std::string& text) {
  std::vector<std::int64_t> out;
  std::int64_t v = 0;
  bool in_number = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      v = v * 10 + (c - '0');
      in_number = true;
    } else if (in_number) {
      out.push_back(v);
      v = 0;
      in_number = false;
    }
  }
  if (in_number) out.push_back(v);
  return out;
}

std::vector<WriteLockHolder> ParseHolders(const std::string& text) {
  std::vector<WriteLockHolder> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    const bool prepared = item.size() > 2 && item.compare(item.size() - 2, 2, ":p") == 0;
    if (prepared) item.resize(item.size() - 2);
    out.push_back({item, prepared});
    start = end + 1;
  }
  return out;
}

std::string WithSequence(const char* sql_template, const std::string& sequence) {
  std::string sql = sql_template;
  for (auto at = sql.find("@SEQ@"); at != std::string::npos; at = sql.find("@SEQ@", at)) {
    sql.replace(at, 5, sequence);
  }
  return sql;
}

}  // namespace

PgPositionSource::PgPositionSource(ConnectionOptions options) : options_(std::move(options)) {
  Translate("check the events position sequence", [&] {
    pqxx::read_transaction tx(Conn());
    const auto r = tx.exec(kSequenceSql);
    if (r.empty()) throw PermanentError("events.global_position has no sequence (run projd migrate)");
    const auto name = r[0][0].as<std::string>();
    const auto cache = r[0][1].as<std::int64_t>();
    if (cache != 1) {
      throw PermanentError("sequence " + name + " has CACHE " + std::to_string(cache) +
                           "; projd needs CACHE 1 so that positions are handed out in time order"
                           " (ALTER SEQUENCE " + name + " CACHE 1)");
    }
    observe_sql_ = WithSequence(kObserveTemplate, name);
    observe_with_writers_sql_ = WithSequence(kObserveWithWritersTemplate, name);
    last_position_sql_ = WithSequence(kLastPositionTemplate, name);
    writers_sql_ = WithSequence(kWritersTemplate, name);
    load_mark_sql_ = WithSequence(kLoadMarkTemplate, name);
    save_mark_sql_ = WithSequence(kSaveMarkTemplate, name);
  });
}

PgPositionSource::~PgPositionSource() = default;

pqxx::connection& PgPositionSource::Conn() {
  if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
  return *conn_;
}

PositionObservation PgPositionSource::Observe(std::int64_t mark, std::int64_t window, WithWriters writers) {
  try {
    // One statement, one snapshot (READ COMMITTED): no BEGIN/SET/ROLLBACK round trips.
    pqxx::nontransaction tx(Conn());
    const bool with = writers == WithWriters::kYes;
    const auto r = tx.exec_params1(with ? observe_with_writers_sql_ : observe_sql_, mark, window);
    PositionObservation obs;
    obs.upper = r[0].as<std::int64_t>();
    obs.missing = ParseIntArray(r[1].as<std::string>());
    obs.history = r[2].as<std::string>();
    if (r[3].as<bool>()) {
      // A hot standby: its sequence runs ahead of the primary's and its pg_locks shows no
      // writer of the primary, so no gap can be proven there.
      throw PermanentError("the database is a hot standby (in recovery): the high-water mark is proven only on the"
                           " primary; point DATABASE_URL at the primary");
    }
    if (with) obs.writers = ParseHolders(r[4].as<std::string>());
    return obs;
  } catch (const std::exception&) {
    conn_.reset();
    Rethrow("observe positions");
  }
}

LastPosition PgPositionSource::ReadLastPosition() {
  return Translate("read the last position", [&] {
    pqxx::read_transaction tx(Conn());
    const auto r = tx.exec1(last_position_sql_);
    return LastPosition{r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<bool>()};
  });
}

WriterCensus PgPositionSource::ReadWriters() {
  return Translate("read the writers of events", [&] {
    pqxx::read_transaction tx(Conn());
    const auto r = tx.exec1(writers_sql_);
    return WriterCensus{ParseHolders(r[0].as<std::string>()), r[1].as<std::string>()};
  });
}

std::optional<HoldingTransaction> PgPositionSource::OldestWriter(const std::vector<WriteLockHolder>& writers) {
  std::vector<std::string> ids;
  for (const auto& w : writers) ids.push_back(w.vxid);
  return Translate("find the oldest writer", [&]() -> std::optional<HoldingTransaction> {
    pqxx::read_transaction tx(Conn());
    const auto r = tx.exec_params(kOldestWriterSql, TextArray(ids));
    if (r.empty()) return std::nullopt;
    HoldingTransaction h;
    h.pid = r[0][0].as<int>();
    h.xid = r[0][1].as<std::string>();
    h.xact_start = r[0][2].as<std::string>();
    h.database = r[0][3].as<std::string>();
    h.state = r[0][4].as<std::string>();
    h.application_name = r[0][5].as<std::string>();
    h.wait_event = r[0][6].as<std::string>();
    return h;
  });
}

StoredMark PgPositionSource::LoadProvenMark() {
  return Translate("load the proven mark", [&] {
    pqxx::read_transaction tx(Conn());
    const auto r = tx.exec1(load_mark_sql_);
    return StoredMark{r[0].as<std::int64_t>(), r[1].as<std::string>()};
  });
}

void PgPositionSource::SaveProvenMark(std::int64_t mark, const std::string& history) {
  Translate("save the proven mark", [&] {
    pqxx::work tx(Conn());
    tx.exec_params(save_mark_sql_, mark, history);
    tx.commit();
  });
}

std::optional<WalPosition> PgPositionSource::ReadWalPosition() {
  return Translate("read the WAL position", [&] { return ReadPrimaryWalPosition(Conn()); });
}

}  // namespace projd::pg
