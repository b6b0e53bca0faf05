#include "orchestrator/coordination/pg/pg_coordination_store.h"

#include <map>

#include <pqxx/pqxx>

#include "orchestrator/coordination/assignment.h"
#include "orchestrator/common/errors.h"
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
// One round trip per heartbeat: refresh our row, evict stale peers (SKIP LOCKED: never wait
// on a peer that is heartbeating right now), and tell whether a generation is due. All CTEs
// share one snapshot, so `live` filters the stale rows out itself. A generation is due when
// an owner is gone, a member owns nothing while another owns two or more, or the counts of
// live owners differ by more than one (after a split).
constexpr const char* kHeartbeatSql =
    "WITH hb AS (UPDATE projd_workers SET last_heartbeat = now()"
    "            WHERE worker_id = $2 AND replica_set = $1 RETURNING 1),"
    " stale AS (DELETE FROM projd_workers WHERE worker_id IN ("
    "            SELECT worker_id FROM projd_workers WHERE replica_set = $1 AND worker_id <> $2"
    "            AND last_heartbeat < now() - make_interval(secs => $3::double precision / 1000)"
    "            FOR UPDATE SKIP LOCKED) RETURNING worker_id),"
    " live AS (SELECT worker_id, registered_at FROM projd_workers WHERE replica_set = $1"
    "          AND (worker_id = $2 OR last_heartbeat >= now() - make_interval(secs => $3::double precision / 1000))),"
    " owners AS (SELECT worker_id, count(*) AS n FROM projd_assignments"
    "            WHERE replica_set = $1 AND partition < (SELECT partitions FROM projd_replica_sets WHERE name = $1)"
    "            GROUP BY worker_id)"
    " SELECT (SELECT count(*) FROM hb) > 0, s.generation, s.partitions,"
    "  (EXISTS (SELECT 1 FROM owners o WHERE o.worker_id IS NULL"
    "           OR o.worker_id NOT IN (SELECT worker_id FROM live))"
    "   OR (NOT EXISTS (SELECT 1 FROM owners) AND EXISTS (SELECT 1 FROM live))"
    "   OR (EXISTS (SELECT 1 FROM live l WHERE l.worker_id NOT IN"
    "               (SELECT worker_id FROM owners WHERE worker_id IS NOT NULL))"
    "       AND EXISTS (SELECT 1 FROM owners WHERE n >= 2))"
    "   OR coalesce((SELECT max(n) - min(n) FROM owners WHERE worker_id IN (SELECT worker_id FROM live)) > 1,"
    "               false)),"
    "  coalesce((SELECT (extract(epoch FROM now() - max(registered_at)) * 1000)::bigint FROM live), 0),"
    "  coalesce((SELECT string_agg(worker_id, ',') FROM stale), ''),"
    "  (SELECT count(*) FROM live)"
    " FROM projd_replica_sets s WHERE s.name = $1";
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
constexpr const char* kEvictUnackedSql =
    "DELETE FROM projd_workers WHERE replica_set = $1 AND worker_id = ANY($2::text[])"
    " AND acked_generation < $3 RETURNING worker_id";
constexpr const char* kGenerationSql =
    "SELECT generation, partitions, (extract(epoch FROM now() - generation_formed_at) * 1000)::bigint,"
    " rebuild_generation FROM projd_replica_sets WHERE name = $1";
// Split: partition k of P becomes k and k+P of 2P. Checkpoint copies and the stamp of every
// row with the new generation happen under the replica-set row lock, in one transaction.
constexpr const char* kSplitCopyCheckpointsSql =
    "INSERT INTO projd_checkpoints (replica_set, projection, partition, position, generation, writer, replay_until)"
    " SELECT replica_set, projection, partition + $2, position, $3, 'split', replay_until"
    " FROM projd_checkpoints WHERE replica_set = $1 AND partition < $2"
    " ON CONFLICT (replica_set, projection, partition) DO UPDATE SET position = EXCLUDED.position,"
    "  replay_until = EXCLUDED.replay_until,"
    "  generation = EXCLUDED.generation, writer = EXCLUDED.writer, updated_at = now()";
constexpr const char* kSplitStampSql =
    "UPDATE projd_checkpoints SET generation = $3, updated_at = now()"
    " WHERE replica_set = $1 AND partition < $2 AND generation < $3";
constexpr const char* kSplitAssignmentsSql =
    "INSERT INTO projd_assignments (replica_set, partition, generation, worker_id, worker_name, previous_worker_id)"
    " SELECT replica_set, partition + $2, $3, worker_id, worker_name, worker_id"
    " FROM projd_assignments WHERE replica_set = $1 AND partition < $2"
    " ON CONFLICT (replica_set, partition) DO UPDATE SET generation = EXCLUDED.generation,"
    "  worker_id = EXCLUDED.worker_id, worker_name = EXCLUDED.worker_name,"
    "  previous_worker_id = EXCLUDED.previous_worker_id, assigned_at = now()";
constexpr const char* kSplitBumpAssignmentsSql =
    "UPDATE projd_assignments SET generation = $3, previous_worker_id = worker_id"
    " WHERE replica_set = $1 AND partition < $2";
// Rebuild: a projection's checkpoints back to 0 under generation $3 (remembering how far
// they had been: re-reading up to there is a replay), its dead letters gone.
constexpr const char* kRebuildCheckpointsSql =
    "UPDATE projd_checkpoints SET replay_until = greatest(replay_until, position), position = 0, generation = $3, writer = 'rebuild', updated_at = now()"
    " WHERE replica_set = $1 AND projection = $2";
constexpr const char* kRebuildDeadLettersSql =
    "DELETE FROM projd_dead_letters WHERE replica_set = $1 AND projection = $2";
constexpr const char* kRebuildBumpSql =
    "UPDATE projd_replica_sets SET generation = $2, rebuild_generation = $2, generation_formed_at = now()"
    " WHERE name = $1";
// Reset: one lane's checkpoints to $3 under generation $4. A row moving back remembers how
// far it had been (re-reading up to there is a replay); the dead letters above $3 go, as their
// events are read again (a row moving forward has none above its old position).
constexpr const char* kLatestEventSql = "SELECT coalesce(max(global_position), 0) FROM events";
constexpr const char* kResetLockSql =
    "SELECT partition, position FROM projd_checkpoints WHERE replica_set = $1 AND projection = $2"
    " ORDER BY partition FOR UPDATE";
constexpr const char* kResetCheckpointsSql =
    "UPDATE projd_checkpoints SET"
    " replay_until = CASE WHEN position > $3 THEN greatest(replay_until, position) ELSE replay_until END,"
    " position = $3, generation = $4, writer = 'reset', updated_at = now()"
    " WHERE replica_set = $1 AND projection = $2";
constexpr const char* kResetDeadLettersSql =
    "DELETE FROM projd_dead_letters WHERE replica_set = $1 AND projection = $2 AND global_position > $3";
// The plan: each row with the events of its partition between its position and $3, in one
// scan of the positions between the lowest and highest of them (primary key range).
constexpr const char* kResetPlanSql =
    "WITH c AS (SELECT partition, position FROM projd_checkpoints WHERE replica_set = $1 AND projection = $2),"
    " b AS (SELECT min(least(position, $3::bigint)) AS lo, max(greatest(position, $3::bigint)) AS hi FROM c),"
    " e AS (SELECT (coalesce(partition_hash, projd_fnv1a32(aggregate_id))"
    "              % (SELECT partitions FROM projd_replica_sets WHERE name = $1))::int AS partition,"
    "              global_position FROM events, b WHERE global_position > b.lo AND global_position <= b.hi)"
    " SELECT c.partition, c.position, count(e.global_position) FROM c LEFT JOIN e ON e.partition = c.partition"
    "  AND e.global_position > least(c.position, $3::bigint) AND e.global_position <= greatest(c.position, $3::bigint)"
    " GROUP BY c.partition, c.position ORDER BY c.partition";
constexpr const char* kPositionBeforeSql =
    "SELECT coalesce(min(global_position) - 1, (SELECT coalesce(max(global_position), 0) FROM events))"
    " FROM events WHERE created_at >= $1::timestamptz";
constexpr const char* kSplitSetSql =
    "UPDATE projd_replica_sets SET partitions = $2, generation = $3, generation_formed_at = now()"
    " WHERE name = $1";
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

HeartbeatResult PgCoordinationStore::Heartbeat(const std::string& replica_set, const std::string& worker_id,
                                               std::chrono::milliseconds stale_timeout) {
  try {
    pqxx::work tx(Conn());
    const auto r = tx.exec_params(kHeartbeatSql, replica_set, worker_id, static_cast<double>(stale_timeout.count()));
    tx.commit();
    HeartbeatResult out;
    if (r.empty()) return out;
    out.found = r[0][0].as<bool>();
    out.generation = r[0][1].as<std::int64_t>();
    out.partitions = r[0][2].as<int>();
    out.membership_changed = r[0][3].as<bool>();
    out.youngest_member_age = std::chrono::milliseconds(r[0][4].as<std::int64_t>());
    out.live_members = r[0][6].as<int>();
    const auto evicted = r[0][5].as<std::string>();
    for (std::size_t start = 0; start < evicted.size();) {
      const auto comma = evicted.find(',', start);
      const auto end = comma == std::string::npos ? evicted.size() : comma;
      out.evicted.push_back(evicted.substr(start, end - start));
      start = end + 1;
    }
    return out;
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
    tx.exec_params(kNotifySql, Channel(options_.schema), replica_set);
    tx.commit();
  });
}

std::vector<std::string> PgCoordinationStore::EvictUnacknowledged(const std::string& replica_set,
                                                                  const std::vector<std::string>& worker_ids,
                                                                  std::int64_t generation) {
  return Translate("evict unacknowledged workers", [&] {
    pqxx::work tx(Conn());
    std::vector<std::string> out;
    for (const auto& r : tx.exec_params(kEvictUnackedSql, replica_set, TextArray(worker_ids), generation)) {
      out.push_back(r[0].as<std::string>());
    }
    tx.commit();
    return out;
  });
}

std::int64_t PgCoordinationStore::SplitPartitions(const std::string& replica_set) {
  return Translate("split partitions", [&] {
    pqxx::work tx(Conn());
    const auto set = tx.exec_params(kLockSetSql, replica_set);
    if (set.empty()) throw PermanentError("replica set '" + replica_set + "' does not exist");
    const auto generation = set[0][0].as<std::int64_t>();
    const int partitions = set[0][1].as<int>();
    if (partitions * 2 > 4096) {
      throw PermanentError("replica set '" + replica_set + "' has " + std::to_string(partitions) +
                           " partitions; a split would exceed the maximum of 4096");
    }
    const std::int64_t next = generation + 1;
    tx.exec_params0(kSplitStampSql, replica_set, partitions, next);
    tx.exec_params0(kSplitCopyCheckpointsSql, replica_set, partitions, next);
    tx.exec_params0(kSplitAssignmentsSql, replica_set, partitions, next);
    tx.exec_params0(kSplitBumpAssignmentsSql, replica_set, partitions, next);
    tx.exec_params0(kSplitSetSql, replica_set, partitions * 2, next);
    tx.exec_params(kNotifySql, Channel(options_.schema), replica_set);
    tx.commit();
    return next;
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
    view.generation_age = std::chrono::milliseconds(set[0][2].as<std::int64_t>());
    view.rebuild_generation = set[0][3].as<std::int64_t>();
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

PgCoordinationStore::RebuildResult PgCoordinationStore::RebuildProjection(
    const std::string& replica_set, const std::string& projection, const std::function<void(pqxx::work&)>& reset_hook) {
  return Translate("rebuild " + projection, [&] {
    pqxx::work tx(Conn());
    RebuildResult out;
    const auto set = tx.exec_params(kLockSetSql, replica_set);
    out.generation = set.empty() ? 0 : set[0][0].as<std::int64_t>() + 1;
    reset_hook(tx);
    out.checkpoints = tx.exec_params(kRebuildCheckpointsSql, replica_set, projection, out.generation).affected_rows();
    tx.exec_params0(kRebuildDeadLettersSql, replica_set, projection);
    if (!set.empty()) {
      tx.exec_params0(kRebuildBumpSql, replica_set, out.generation);
      tx.exec_params(kNotifySql, Channel(options_.schema), replica_set);
    }
    tx.commit();
    return out;
  });
}

ResetPlan PgCoordinationStore::PlanReset(const std::string& replica_set, const std::string& projection,
                                         std::int64_t target) {
  return Translate("plan the reset of " + projection, [&] {
    pqxx::read_transaction tx(Conn());
    ResetPlan plan;
    plan.target = target;
    plan.latest = tx.exec1(kLatestEventSql)[0].as<std::int64_t>();
    for (const auto& r : tx.exec_params(kResetPlanSql, replica_set, projection, target)) {
      plan.moves.push_back({r[0].as<int>(), r[1].as<std::int64_t>(), target, r[2].as<std::int64_t>()});
    }
    plan.refusal = CheckReset(target, plan.latest, plan.moves, SkipPolicy::kRefuse);
    return plan;
  });
}

ResetResult PgCoordinationStore::ResetProjection(const std::string& replica_set, const std::string& projection,
                                                 std::int64_t target, SkipPolicy skip) {
  return Translate("reset " + projection, [&] {
    pqxx::work tx(Conn());
    ResetResult out;
    const auto set = tx.exec_params(kLockSetSql, replica_set);
    out.latest = tx.exec1(kLatestEventSql)[0].as<std::int64_t>();
    std::vector<PartitionMove> moves;
    if (!set.empty()) {
      for (const auto& r : tx.exec_params(kResetLockSql, replica_set, projection)) {
        moves.push_back({r[0].as<int>(), r[1].as<std::int64_t>(), target, 0});
      }
    }
    out.refusal = CheckReset(target, out.latest, moves, skip);
    if (out.refusal != ResetRefusal::kNone) return out;  // rolled back: nothing changed
    out.generation = set[0][0].as<std::int64_t>() + 1;
    tx.exec_params0(kResetCheckpointsSql, replica_set, projection, target, out.generation);
    out.dead_letters_removed = tx.exec_params(kResetDeadLettersSql, replica_set, projection, target).affected_rows();
    tx.exec_params0(kRebuildBumpSql, replica_set, out.generation);
    tx.exec_params(kNotifySql, Channel(options_.schema), replica_set);
    tx.commit();
    out.moves = std::move(moves);
    return out;
  });
}

std::int64_t PgCoordinationStore::PositionBefore(const std::string& rfc3339) {
  return Translate("find the position before " + rfc3339, [&] {
    pqxx::read_transaction tx(Conn());
    return tx.exec_params1(kPositionBeforeSql, rfc3339)[0].as<std::int64_t>();
  });
}

}  // namespace projd::pg
