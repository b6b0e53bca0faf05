#include "orchestrator/pg/pg_position_source.h"

#include <pqxx/pqxx>

#include "orchestrator/errors.h"
#include "orchestrator/pg/error_translation.h"

namespace projd::pg {
namespace {

constexpr const char* kSequenceSql =
    "SELECT s.seqrelid::regclass::text, s.seqcache"
    " FROM pg_sequence s WHERE s.seqrelid = pg_get_serial_sequence('events', 'global_position')::regclass";

// ONE statement, ONE snapshot: the snapshot's xmin/xmax and the positions missing from it.
// upper = max(highest visible position, the sequence's last value), capped by the window.
// @SEQ@ is the sequence's name as PostgreSQL quotes it (from the catalog, not from config).
constexpr const char* kObserveTemplate =
    "WITH top AS (SELECT max(global_position) AS v FROM events"
    "             WHERE global_position > $1 AND global_position <= $1 + $2),"
    " seq AS (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS v FROM @SEQ@),"
    " bound AS (SELECT least($1 + $2, greatest((SELECT v FROM top), (SELECT v FROM seq), $1)) AS upper)"
    " SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,"
    "        (SELECT upper FROM bound),"
    "        ARRAY(SELECT g FROM generate_series($1 + 1, (SELECT upper FROM bound)) AS g"
    "              LEFT JOIN events e ON e.global_position = g"
    "              WHERE e.global_position IS NULL ORDER BY g)::text";

// Assigning an id to an empty transaction reads the xid counter: every id handed out
// before is lower. The transaction commits at once (it wrote nothing).
constexpr const char* kNextXidSql = "SELECT pg_current_xact_id()::text::bigint";

// The oldest transaction with an id, across the cluster, and prepared transactions.
constexpr const char* kOldestSql =
    "SELECT * FROM ("
    " SELECT pid, backend_xid::text AS xid, xact_start::text AS started, coalesce(datname, '') AS db,"
    "        coalesce(state, '') AS state, coalesce(application_name, '') AS app, age(backend_xid) AS age"
    " FROM pg_stat_activity WHERE backend_xid IS NOT NULL"
    " UNION ALL"
    " SELECT 0, transaction::text, prepared::text, database, 'prepared', gid, age(transaction)"
    " FROM pg_prepared_xacts) t"
    " ORDER BY age DESC LIMIT 1";

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
    observe_sql_ = kObserveTemplate;
    observe_sql_.replace(observe_sql_.find("@SEQ@"), 5, name);
  });
}

PgPositionSource::~PgPositionSource() = default;

pqxx::connection& PgPositionSource::Conn() {
  if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
  return *conn_;
}

PositionObservation PgPositionSource::Observe(std::int64_t mark, std::int64_t window) {
  try {
    pqxx::read_transaction tx(Conn());
    const auto r = tx.exec_params1(observe_sql_, mark, window);
    PositionObservation obs;
    obs.snapshot_xmin = r[0].as<std::uint64_t>();
    obs.upper = r[1].as<std::int64_t>();
    obs.missing = ParseIntArray(r[2].as<std::string>());
    return obs;
  } catch (const std::exception&) {
    conn_.reset();
    Rethrow("observe positions");
  }
}

std::uint64_t PgPositionSource::NextXidBound() {
  try {
    pqxx::work tx(Conn());
    const auto xid = tx.exec1(kNextXidSql)[0].as<std::uint64_t>();
    tx.commit();
    return xid;
  } catch (const std::exception&) {
    conn_.reset();
    Rethrow("read the transaction id counter");
  }
}

std::optional<HoldingTransaction> PgPositionSource::OldestTransaction() {
  return Translate("find the oldest transaction", [&]() -> std::optional<HoldingTransaction> {
    pqxx::read_transaction tx(Conn());
    const auto r = tx.exec(kOldestSql);
    if (r.empty()) return std::nullopt;
    HoldingTransaction h;
    h.pid = r[0][0].as<int>();
    h.xid = r[0][1].as<std::string>();
    h.xact_start = r[0][2].is_null() ? "" : r[0][2].as<std::string>();
    h.database = r[0][3].as<std::string>();
    h.state = r[0][4].as<std::string>();
    h.application_name = r[0][5].as<std::string>();
    return h;
  });
}

}  // namespace projd::pg
