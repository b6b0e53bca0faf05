#include "orchestrator/persistence/pg/pg_checkpoint_store.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <pqxx/pqxx>

#include "orchestrator/common/errors.h"
#include "orchestrator/pg/error_translation.h"
#include "orchestrator/persistence/pg/pg_transaction.h"
#include "orchestrator/pg/sql_array.h"
#include "orchestrator/persistence/unit_check.h"

namespace projd::pg {
namespace {

// Fenced upsert: a row stamped or written by a newer generation is left alone (and its key
// is missing from RETURNING); within a generation the position never moves backwards.
constexpr const char* kWriteSql =
    "INSERT INTO projd_checkpoints AS c (replica_set, projection, partition, position, generation, writer)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::text[])"
    " ON CONFLICT (replica_set, projection, partition) DO UPDATE SET"
    "  position = GREATEST(c.position, EXCLUDED.position),"
    "  generation = EXCLUDED.generation, writer = EXCLUDED.writer, updated_at = now()"
    " WHERE c.generation <= EXCLUDED.generation"
    " RETURNING replica_set, projection, partition";

// A unit first locks its rows: a newer generation means fenced; positions already at the
// targets mean a retried unit that had committed (its reply was lost): do not apply twice.
constexpr const char* kLockForUnitSql =
    "SELECT c.partition, c.projection, c.generation, c.position"
    " FROM projd_checkpoints c"
    " JOIN unnest($1::text[], $2::text[], $3::int[]) AS k(replica_set, projection, partition)"
    "   USING (replica_set, projection, partition)"
    " ORDER BY c.replica_set, c.projection, c.partition FOR UPDATE OF c";

constexpr const char* kEnsureRowsSql =
    "INSERT INTO projd_checkpoints (replica_set, projection, partition)"
    " SELECT $1, p, part FROM unnest($2::text[]) AS p, unnest($3::int[]) AS part"
    " ON CONFLICT DO NOTHING";
constexpr const char* kStampSql =
    "WITH locked AS ("
    "  SELECT projection, partition, generation FROM projd_checkpoints"
    "  WHERE replica_set = $1 AND projection = ANY($2::text[]) AND partition = ANY($3::int[])"
    "  ORDER BY projection, partition FOR UPDATE SKIP LOCKED),"
    " stamped AS ("
    "  UPDATE projd_checkpoints c SET generation = $4, writer = $5, updated_at = now()"
    "  FROM locked l WHERE c.replica_set = $1 AND c.projection = l.projection"
    "   AND c.partition = l.partition AND l.generation <= $4"
    "  RETURNING c.projection, c.partition, c.position, c.replay_until)"
    " SELECT l.projection, l.partition, s.position, l.generation, s.replay_until"
    " FROM locked l LEFT JOIN stamped s USING (projection, partition)";
constexpr const char* kSummariesSql =
    "SELECT projection, count(*), min(position), max(position) FROM projd_checkpoints"
    " WHERE replica_set = $1 AND partition < coalesce("
    "   (SELECT partitions FROM projd_replica_sets WHERE name = $1), 2147483647)"
    " GROUP BY projection ORDER BY projection";
constexpr const char* kReadSql =
    "SELECT partition, position, generation, writer FROM projd_checkpoints"
    " WHERE replica_set = $1 AND projection = $2 ORDER BY partition";

// Cancels the running statement of `conn` when the deadline passes before Done().
class CancelWatchdog {
 public:
  CancelWatchdog(pqxx::connection& conn, std::chrono::milliseconds timeout)
      : thread_([this, &conn, timeout] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_for(lock, timeout, [&] { return done_; })) {
            fired_ = true;
            try {
              conn.cancel_query();
            } catch (const std::exception&) {
              // The connection is gone already; the statement fails on its own.
            }
          }
        }) {}
  ~CancelWatchdog() { Done(); }
  void Done() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool fired() const { return fired_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;
};

constexpr std::chrono::milliseconds kBackstopAfterCancel{100};

// A server-side backstop a little after the client-side cancel, unless the session's own
// statement_timeout (set at connect) already is one for `timeout`.
void SetDeadline(pqxx::work& tx, std::chrono::milliseconds timeout, std::chrono::milliseconds session_deadline) {
  if (session_deadline.count() > 0 && timeout >= session_deadline) return;
  tx.exec0("SET LOCAL statement_timeout = " + std::to_string((timeout + kBackstopAfterCancel).count()));
}

struct KeyArrays {
  std::vector<std::string> replica_sets, projections, writers;
  std::vector<int> partitions;
  std::vector<std::int64_t> positions, generations;
};

KeyArrays Arrays(std::span<const Checkpoint> batch) {
  KeyArrays a;
  for (const auto& cp : batch) {
    a.replica_sets.push_back(cp.key.replica_set);
    a.projections.push_back(cp.key.projection);
    a.partitions.push_back(cp.key.partition);
    a.positions.push_back(cp.position);
    a.generations.push_back(cp.generation);
    a.writers.push_back(cp.writer);
  }
  return a;
}

// Writes the batch in `tx`; returns the fenced keys.
std::vector<CheckpointKey> WriteFenced(pqxx::work& tx, std::span<const Checkpoint> batch) {
  const auto a = Arrays(batch);
  const auto rows = tx.exec_params(kWriteSql, TextArray(a.replica_sets), TextArray(a.projections),
                                   IntArray(a.partitions), IntArray(a.positions), IntArray(a.generations),
                                   TextArray(a.writers));
  std::set<CheckpointKey> written;
  for (const auto& r : rows) written.insert({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<int>()});
  std::vector<CheckpointKey> fenced;
  for (const auto& cp : batch) {
    if (!written.count(cp.key)) fenced.push_back(cp.key);
  }
  return fenced;
}

}  // namespace

PgCheckpointStore::PgCheckpointStore(ConnectionOptions options) : options_(std::move(options)) {}

PgCheckpointStore::PgCheckpointStore(ConnectionOptions options, std::chrono::milliseconds usual_timeout)
    : options_(std::move(options)), session_deadline_(usual_timeout) {
  // Appended last: it wins over any statement_timeout of the URL for this session, as the
  // SET LOCAL it replaces did.
  options_.settings.emplace_back("statement_timeout", std::to_string((usual_timeout + kBackstopAfterCancel).count()));
}
PgCheckpointStore::~PgCheckpointStore() = default;

pqxx::connection& PgCheckpointStore::Conn() {
  if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
  return *conn_;
}

WriteOutcome PgCheckpointStore::WriteBatch(std::span<const Checkpoint> batch, std::chrono::milliseconds timeout) {
  WriteOutcome out;
  if (batch.empty()) return out;
  pqxx::connection& conn = Conn();
  CancelWatchdog watchdog(conn, timeout);
  try {
    pqxx::work tx(conn);
    SetDeadline(tx, timeout, session_deadline_);
    out.fenced = WriteFenced(tx, batch);
    tx.commit();
    watchdog.Done();
    return out;
  } catch (const std::exception& e) {
    watchdog.Done();
    conn_.reset();
    if (watchdog.fired()) throw InDoubtError(std::string("checkpoint batch cut at its deadline: ") + e.what());
    Rethrow("write checkpoints");
  }
}

UnitOutcome PgCheckpointStore::CommitUnit(const TransactionalUnit& unit, std::chrono::milliseconds timeout) {
  pqxx::connection& conn = Conn();
  CancelWatchdog watchdog(conn, timeout);
  try {
    pqxx::work tx(conn);
    SetDeadline(tx, timeout, session_deadline_);
    const auto a = Arrays(unit.checkpoints);
    std::vector<std::optional<StoredPosition>> rows;
    {
      std::map<std::pair<std::string, int>, StoredPosition> current;
      for (const auto& r : tx.exec_params(kLockForUnitSql, TextArray(a.replica_sets), TextArray(a.projections),
                                          IntArray(a.partitions))) {
        current[{r[1].as<std::string>(), r[0].as<int>()}] = {r[2].as<std::int64_t>(), r[3].as<std::int64_t>()};
      }
      for (const auto& cp : unit.checkpoints) {
        const auto it = current.find({cp.key.projection, cp.key.partition});
        rows.push_back(it == current.end() ? std::nullopt : std::optional<StoredPosition>(it->second));
      }
    }
    if (const auto outcome = CheckUnit(unit, rows)) return *outcome;  // nothing applied; rolls back
    if (unit.apply) {
      PgTransactionHandle handle(tx);
      try {
        unit.apply(handle);
      } catch (const Error&) {
        throw;  // the database failed inside the projection's writes (already translated)
      } catch (const pqxx::failure&) {
        throw;  // the same, untranslated
      } catch (const HandlerError&) {
        throw;
      } catch (const std::exception& e) {
        throw HandlerError(e.what());
      }
    }
    if (!WriteFenced(tx, unit.checkpoints).empty()) return UnitOutcome::kFenced;  // rolls back
    tx.commit();
    watchdog.Done();
    return UnitOutcome::kCommitted;
  } catch (const HandlerError& e) {
    watchdog.Done();
    // Cut at the deadline, the projection's statement failed because of the cancel: that
    // is the database's time, not the event's fault (a handler that wrapped the cancel).
    if (watchdog.fired()) {
      conn_.reset();
      throw InDoubtError(std::string("unit cut at its deadline: ") + e.what());
    }
    throw;  // the session is fine: the transaction rolls back
  } catch (const std::exception& e) {
    watchdog.Done();
    conn_.reset();
    if (watchdog.fired()) throw InDoubtError(std::string("unit cut at its deadline: ") + e.what());
    Rethrow("commit unit");
  }
}

StampResult PgCheckpointStore::Stamp(const std::string& replica_set, const std::vector<std::string>& projections,
                                     const std::vector<int>& partitions, std::int64_t generation,
                                     const std::string& writer) {
  return Translate("stamp partitions", [&] {
    pqxx::work tx(Conn());
    tx.exec_params0(kEnsureRowsSql, replica_set, TextArray(projections), IntArray(partitions));
    StampResult out;
    std::set<std::pair<std::string, int>> answered;
    for (const auto& r : tx.exec_params(kStampSql, replica_set, TextArray(projections), IntArray(partitions),
                                        generation, writer)) {
      const CheckpointKey key{replica_set, r[0].as<std::string>(), r[1].as<int>()};
      answered.insert({key.projection, key.partition});
      if (r[2].is_null()) {
        out.lost.push_back(key);
      } else {
        out.taken.push_back({key, r[2].as<std::int64_t>(), generation, writer, r[4].as<std::int64_t>()});
      }
    }
    tx.commit();
    for (const auto& projection : projections) {
      for (int partition : partitions) {
        if (!answered.count({projection, partition})) out.busy.push_back({replica_set, projection, partition});
      }
    }
    return out;
  });
}

std::vector<Checkpoint> PgCheckpointStore::Read(const std::string& replica_set, const std::string& projection) {
  return Translate("read checkpoints", [&] {
    pqxx::read_transaction tx(Conn());
    std::vector<Checkpoint> out;
    for (const auto& r : tx.exec_params(kReadSql, replica_set, projection)) {
      out.push_back({{replica_set, projection, r[0].as<int>()},
                     r[1].as<std::int64_t>(),
                     r[2].as<std::int64_t>(),
                     r[3].as<std::string>()});
    }
    return out;
  });
}

}  // namespace projd::pg

namespace projd::pg {

std::vector<PgCheckpointStore::Progress> PgCheckpointStore::Summaries(const std::string& replica_set) {
  return Translate("checkpoint summaries", [&] {
    pqxx::read_transaction tx(Conn());
    std::vector<Progress> out;
    for (const auto& r : tx.exec_params(kSummariesSql, replica_set)) {
      out.push_back({r[0].as<std::string>(), r[1].as<int>(), r[2].as<std::int64_t>(), r[3].as<std::int64_t>()});
    }
    return out;
  });
}

}  // namespace projd::pg
