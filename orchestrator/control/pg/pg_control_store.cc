#include "orchestrator/control/pg/pg_control_store.h"

#include <pqxx/result>
#include <pqxx/transaction>

#include "orchestrator/pg/error_translation.h"
#include "orchestrator/pg/sql_array.h"

namespace projd::pg {
namespace {

constexpr const char* kReadPausesSql =
    "SELECT projection, partition, paused_by, reason FROM projd_projection_pauses"
    " WHERE replica_set = $1 ORDER BY projection, partition";
// One statement for every changed state: the arrays are zipped by unnest.
constexpr const char* kWriteStatesSql =
    "INSERT INTO projd_partition_states AS s (replica_set, projection, partition, worker_id, state, last_error, error_at)"
    " SELECT $1, u.lane, u.part, $2, u.state, u.err, CASE WHEN u.err = '' THEN NULL ELSE now() END"
    " FROM unnest($3::text[], $4::int[], $5::text[], $6::text[]) AS u(lane, part, state, err)"
    " ON CONFLICT (replica_set, projection, partition) DO UPDATE SET worker_id = EXCLUDED.worker_id,"
    "  state = EXCLUDED.state, last_error = EXCLUDED.last_error,"
    "  error_at = CASE WHEN EXCLUDED.last_error = '' THEN NULL"
    "                  WHEN EXCLUDED.last_error = s.last_error THEN s.error_at ELSE now() END,"
    "  updated_at = now()";
constexpr const char* kPauseSql =
    "INSERT INTO projd_projection_pauses (replica_set, projection, partition, paused_by, reason)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
constexpr const char* kPausedWholeSql =
    "SELECT 1 FROM projd_projection_pauses WHERE replica_set = $1 AND projection = $2 AND partition = -1";
constexpr const char* kResumeAllSql =
    "DELETE FROM projd_projection_pauses WHERE replica_set = $1 AND projection = $2";
constexpr const char* kResumeOneSql =
    "DELETE FROM projd_projection_pauses WHERE replica_set = $1 AND projection = $2 AND partition = $3";
constexpr const char* kPartitionCountSql = "SELECT partitions FROM projd_replica_sets WHERE name = $1";
// Version 1's checkpoints carry the name; a version N >= 2's carry "name@N".
constexpr const char* kProjectionKnownSql =
    "SELECT EXISTS (SELECT 1 FROM projd_checkpoints WHERE replica_set = $1"
    "                AND (projection = $2 OR starts_with(projection, $2 || '@')))"
    "    OR EXISTS (SELECT 1 FROM projd_projection_versions WHERE replica_set = $1 AND projection = $2)";

}  // namespace

PgControlStore::PgControlStore(ConnectionOptions options) : options_(std::move(options)) {}
PgControlStore::~PgControlStore() = default;

pqxx::connection& PgControlStore::Conn() {
  if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
  return *conn_;
}

std::vector<Pause> PgControlStore::ReadPauses(const std::string& replica_set) {
  return Translate("read pauses", [&] {
    pqxx::read_transaction tx(Conn());
    std::vector<Pause> out;
    for (const auto& row : tx.exec_params(kReadPausesSql, replica_set)) {
      out.push_back({row[0].as<std::string>(), row[1].as<int>(), row[2].as<std::string>(), row[3].as<std::string>()});
    }
    return out;
  });
}

void PgControlStore::WritePartitionStates(const std::string& replica_set, const std::string& worker_id,
                                          const std::vector<PartitionState>& states) {
  if (states.empty()) return;
  std::vector<std::string> lanes, names, errors;
  std::vector<int> partitions;
  for (const auto& s : states) {
    lanes.push_back(s.lane);
    partitions.push_back(s.partition);
    names.push_back(s.state);
    errors.push_back(s.last_error);
  }
  Translate("write partition states", [&] {
    pqxx::work tx(Conn());
    tx.exec_params0(kWriteStatesSql, replica_set, worker_id, TextArray(lanes), IntArray(partitions), TextArray(names),
                    TextArray(errors));
    tx.commit();
  });
}

PgControlStore::Change PgControlStore::PauseProjection(const std::string& replica_set, const Pause& pause) {
  return Translate("pause " + pause.projection, [&] {
    pqxx::work tx(Conn());
    if (pause.partition != kEveryPartition && !tx.exec_params(kPausedWholeSql, replica_set, pause.projection).empty()) {
      return Change::kAlready;
    }
    const auto added = tx.exec_params(kPauseSql, replica_set, pause.projection, pause.partition, pause.paused_by,
                                      pause.reason).affected_rows();
    tx.commit();
    return added > 0 ? Change::kDone : Change::kAlready;
  });
}

PgControlStore::Change PgControlStore::ResumeProjection(const std::string& replica_set, const std::string& projection,
                                                        std::optional<int> partition) {
  return Translate("resume " + projection, [&] {
    pqxx::work tx(Conn());
    if (partition && !tx.exec_params(kPausedWholeSql, replica_set, projection).empty()) return Change::kWholePause;
    const auto removed = partition ? tx.exec_params(kResumeOneSql, replica_set, projection, *partition).affected_rows()
                                   : tx.exec_params(kResumeAllSql, replica_set, projection).affected_rows();
    tx.commit();
    return removed > 0 ? Change::kDone : Change::kAlready;
  });
}

std::optional<int> PgControlStore::PartitionCount(const std::string& replica_set) {
  return Translate("read partition count", [&] {
    pqxx::read_transaction tx(Conn());
    const auto r = tx.exec_params(kPartitionCountSql, replica_set);
    return r.empty() ? std::nullopt : std::optional<int>(r[0][0].as<int>());
  });
}

bool PgControlStore::ProjectionKnown(const std::string& replica_set, const std::string& projection) {
  return Translate("look up " + projection, [&] {
    pqxx::read_transaction tx(Conn());
    return tx.exec_params1(kProjectionKnownSql, replica_set, projection)[0].as<bool>();
  });
}

}  // namespace projd::pg
