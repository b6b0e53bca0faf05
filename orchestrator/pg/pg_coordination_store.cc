#include "orchestrator/pg/pg_coordination_store.h"

#include <map>

#include <pqxx/pqxx>

#include "orchestrator/assignment.h"
#include "orchestrator/errors.h"
#include "orchestrator/pg/error_translation.h"
#include "orchestrator/pg/sql_array.h"

namespace projd::pg {
namespace {

constexpr const char* kEnsureSetSql =
    "INSERT INTO projd_replica_sets (name, partitions) VALUES ($1, $2)"
    " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING partitions";
constexpr const char* kRegisterSql =
    "INSERT INTO projd_workers (worker_id, replica_set, worker_name, host, pid, version)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (worker_id) DO UPDATE SET last_heartbeat = now()";
constexpr const char* kHeartbeatSql =
    "WITH hb AS (UPDATE projd_workers SET last_heartbeat = now()"
    "            WHERE worker_id = $2 AND replica_set = $1 RETURNING 1)"
    " SELECT (SELECT count(*) FROM hb) > 0, generation FROM projd_replica_sets WHERE name = $1";
constexpr const char* kMembersSql =
    "SELECT worker_id, worker_name, (extract(epoch FROM now() - last_heartbeat) * 1000)::bigint,"
    " acked_generation FROM projd_workers WHERE replica_set = $1 ORDER BY worker_name, worker_id";
constexpr const char* kEvictSql =
    "DELETE FROM projd_workers WHERE replica_set = $1"
    " AND last_heartbeat < now() - make_interval(secs => $2::double precision / 1000)"
    " RETURNING worker_id";
constexpr const char* kLockSetSql =
    "SELECT generation, partitions FROM projd_replica_sets WHERE name = $1 FOR UPDATE";
constexpr const char* kAssignmentSql =
    "SELECT partition, coalesce(worker_id, ''), coalesce(worker_name, '') FROM projd_assignments"
    " WHERE replica_set = $1 ORDER BY partition";
constexpr const char* kWriteAssignmentSql =
    "INSERT INTO projd_assignments (replica_set, partition, generation, worker_id, worker_name, previous_worker_id)"
    " SELECT $1, p, $2, w, n, nullif(prev, '')"
    " FROM unnest($3::int[], $4::text[], $5::text[], $6::text[]) AS a(p, w, n, prev)"
    " ON CONFLICT (replica_set, partition) DO UPDATE SET generation = EXCLUDED.generation,"
    "  worker_id = EXCLUDED.worker_id, worker_name = EXCLUDED.worker_name,"
    "  previous_worker_id = EXCLUDED.previous_worker_id, assigned_at = now()";
constexpr const char* kBumpSql =
    "UPDATE projd_replica_sets SET generation = $2, generation_formed_at = now() WHERE name = $1";
constexpr const char* kNotifySql = "SELECT pg_notify($1, $2)";
constexpr const char* kAckSql =
    "UPDATE projd_workers SET acked_generation = GREATEST(acked_generation, $3)"
    " WHERE replica_set = $1 AND worker_id = $2";
constexpr const char* kGenerationSql = "SELECT generation, partitions FROM projd_replica_sets WHERE name = $1";
constexpr const char* kDeregisterSql = "DELETE FROM projd_workers WHERE replica_set = $1 AND worker_id = $2";

}  // namespace

std::string PgCoordinationStore::Channel(const std::string& schema) {
  return ("projd_generation_" + schema).substr(0, 63);
}

PgCoordinationStore::PgCoordinationStore(ConnectionOptions options) : options_(std::move(options)) {}
PgCoordinationStore::~PgCoordinationStore() = default;

pqxx::connection& PgCoordinationStore::Conn() {
  if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
  return *conn_;
}

int PgCoordinationStore::EnsureReplicaSet(const std::string& replica_set, int partitions) {
  return Translate("ensure replica set", [&] {
    pqxx::work tx(Conn());
    const int stored = tx.exec_params1(kEnsureSetSql, replica_set, partitions)[0].as<int>();
    tx.commit();
    return stored;
  });
}

void PgCoordinationStore::Register(const std::string& replica_set, const WorkerInfo& w) {
  Translate("register worker", [&] {
    pqxx::work tx(Conn());
    tx.exec_params0(kRegisterSql, w.worker_id, replica_set, w.worker_name, w.host, w.pid, w.version);
    tx.commit();
  });
}

HeartbeatResult PgCoordinationStore::Heartbeat(const std::string& replica_set, const std::string& worker_id) {
  try {
    pqxx::work tx(Conn());
    const auto r = tx.exec_params(kHeartbeatSql, replica_set, worker_id);
    tx.commit();
    if (r.empty()) return {false, 0};
    return {r[0][0].as<bool>(), r[0][1].as<std::int64_t>()};
  } catch (const std::exception&) {
    conn_.reset();
    Rethrow("heartbeat");
  }
}

std::vector<Member> PgCoordinationStore::ListMembers(const std::string& replica_set) {
  return Translate("list members", [&] {
    pqxx::read_transaction tx(Conn());
    std::vector<Member> out;
    for (const auto& r : tx.exec_params(kMembersSql, replica_set)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), std::chrono::milliseconds(r[2].as<std::int64_t>()),
                     r[3].as<std::int64_t>()});
    }
    return out;
  });
}

std::vector<std::string> PgCoordinationStore::EvictStale(const std::string& replica_set,
                                                         std::chrono::milliseconds stale_timeout) {
  return Translate("evict stale workers", [&] {
    pqxx::work tx(Conn());
    std::vector<std::string> out;
    for (const auto& r : tx.exec_params(kEvictSql, replica_set, static_cast<double>(stale_timeout.count()))) {
      out.push_back(r[0].as<std::string>());
    }
    tx.commit();
    return out;
  });
}

std::optional<std::int64_t> PgCoordinationStore::FormGeneration(const std::string& replica_set) {
  return Translate("form generation", [&]() -> std::optional<std::int64_t> {
    pqxx::work tx(Conn());
    const auto set = tx.exec_params(kLockSetSql, replica_set);
    if (set.empty()) throw PermanentError("replica set '" + replica_set + "' does not exist");
    const auto generation = set[0][0].as<std::int64_t>();
    const int partitions = set[0][1].as<int>();

    // Live members, keyed by name for stickiness (name#id when two share a name).
    std::map<std::string, int> name_uses;
    const auto rows = tx.exec_params(kMembersSql, replica_set);
    for (const auto& r : rows) ++name_uses[r[1].as<std::string>()];
    std::map<std::string, std::pair<std::string, std::string>> by_key;  // key -> (id, name)
    std::map<std::string, std::string> key_of_id;
    for (const auto& r : rows) {
      const auto id = r[0].as<std::string>();
      const auto name = r[1].as<std::string>();
      const auto key = name_uses[name] > 1 ? name + "#" + id : name;
      by_key[key] = {id, name};
      key_of_id[id] = key;
    }

    std::vector<std::string> previous_ids(partitions), previous_keys(partitions);
    for (const auto& r : tx.exec_params(kAssignmentSql, replica_set)) {
      const int p = r[0].as<int>();
      if (p >= partitions) continue;
      previous_ids[p] = r[1].as<std::string>();
      // A restarted pod has a new id but the same name: its name still claims the partition.
      const auto name = r[2].as<std::string>();
      if (auto k = key_of_id.find(previous_ids[p]); k != key_of_id.end()) {
        previous_keys[p] = k->second;
      } else if (name_uses.count(name) && name_uses[name] == 1) {
        previous_keys[p] = name;
      }
    }
    std::vector<std::string> members;
    for (const auto& [key, v] : by_key) members.push_back(key);

    std::vector<std::string> next_keys(partitions);
    if (!members.empty()) next_keys = AssignPartitions(partitions, previous_keys, members);
    std::vector<std::string> next_ids(partitions), next_names(partitions);
    bool changed = false;
    for (int p = 0; p < partitions; ++p) {
      if (!next_keys[p].empty()) std::tie(next_ids[p], next_names[p]) = by_key[next_keys[p]];
      changed = changed || next_ids[p] != previous_ids[p];
    }
    if (!changed) return std::nullopt;  // rolls back: nothing to write

    const std::int64_t next = generation + 1;
    std::vector<int> parts(partitions);
    for (int p = 0; p < partitions; ++p) parts[p] = p;
    tx.exec_params0(kWriteAssignmentSql, replica_set, next, IntArray(parts), TextArray(next_ids),
                    TextArray(next_names), TextArray(previous_ids));
    tx.exec_params0(kBumpSql, replica_set, next);
    tx.exec_params(kNotifySql, Channel(options_.schema), replica_set);
    tx.commit();
    return next;
  });
}

void PgCoordinationStore::Acknowledge(const std::string& replica_set, const std::string& worker_id,
                                      std::int64_t generation) {
  Translate("acknowledge generation", [&] {
    pqxx::work tx(Conn());
    tx.exec_params0(kAckSql, replica_set, worker_id, generation);
    tx.commit();
  });
}

AssignmentView PgCoordinationStore::ReadAssignment(const std::string& replica_set) {
  return Translate("read assignment", [&] {
    pqxx::read_transaction tx(Conn());
    AssignmentView view;
    const auto set = tx.exec_params(kGenerationSql, replica_set);
    if (set.empty()) return view;
    view.generation = set[0][0].as<std::int64_t>();
    view.partitions = set[0][1].as<int>();
    view.owner_ids.assign(view.partitions, "");
    view.owner_names.assign(view.partitions, "");
    for (const auto& r : tx.exec_params(kAssignmentSql, replica_set)) {
      const int p = r[0].as<int>();
      if (p >= view.partitions) continue;
      view.owner_ids[p] = r[1].as<std::string>();
      view.owner_names[p] = r[2].as<std::string>();
    }
    return view;
  });
}

void PgCoordinationStore::Deregister(const std::string& replica_set, const std::string& worker_id) {
  Translate("deregister worker", [&] {
    pqxx::work tx(Conn());
    tx.exec_params0(kDeregisterSql, replica_set, worker_id);
    tx.commit();
  });
}

}  // namespace projd::pg
