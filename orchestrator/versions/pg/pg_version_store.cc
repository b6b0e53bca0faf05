#include "orchestrator/versions/pg/pg_version_store.h"

#include <algorithm>
#include <map>
#include <thread>

#include <pqxx/pqxx>

#include "orchestrator/common/errors.h"
#include "orchestrator/coordination/pg/pg_coordination_store.h"
#include "orchestrator/pg/error_translation.h"

namespace projd::pg {
namespace {

// The lane key of a version in SQL, as LaneKey() makes it (lane_key.h).
#define PROJD_LANE_SQL(v) "CASE WHEN " v ".version = 1 THEN " v ".projection ELSE " v ".projection || '@' || " v ".version END"

constexpr const char* kRegisterLockSql =
    "SELECT pg_advisory_xact_lock(hashtext('projd_versions:' || $1 || ':' || $2))";
constexpr const char* kVersionsOfSql =
    "SELECT version, state, coalesce(read_model_schema, ''),"
    " extract(epoch FROM now() - state_changed_at)::float8"
    " FROM projd_projection_versions WHERE replica_set = $1 AND projection = $2 ORDER BY version";
constexpr const char* kLockVersionsSql =
    "SELECT version, state, coalesce(read_model_schema, ''), 0::float8"
    " FROM projd_projection_versions WHERE replica_set = $1 AND projection = $2 ORDER BY version FOR UPDATE";
constexpr const char* kHasCheckpointsSql =
    "SELECT EXISTS (SELECT 1 FROM projd_checkpoints WHERE replica_set = $1 AND projection = $2)";
constexpr const char* kInsertVersionSql =
    "INSERT INTO projd_projection_versions (replica_set, projection, version, state, read_model_schema, activated_at)"
    " VALUES ($1, $2, $3, $4, nullif($5, ''), CASE WHEN $4 = 'active' THEN now() END)";
// A building version starts at 0 on every partition the active version has, remembering how
// far the active one was: re-reading up to there is a replay (AsyncContext::replaying).
constexpr const char* kSeedCheckpointsSql =
    "INSERT INTO projd_checkpoints (replica_set, projection, partition, replay_until)"
    " SELECT replica_set, $3, partition, position FROM projd_checkpoints"
    " WHERE replica_set = $1 AND projection = $2 ON CONFLICT DO NOTHING";
constexpr const char* kListSql =
    "WITH v AS (SELECT projection, version, state, coalesce(read_model_schema, '') AS schema,"
    "                  extract(epoch FROM now() - state_changed_at)::float8 AS age, " PROJD_LANE_SQL("pv") " AS lane"
    "           FROM projd_projection_versions pv WHERE replica_set = $1),"
    " c AS (SELECT projection AS lane, partition, position FROM projd_checkpoints"
    "       WHERE replica_set = $1 AND partition < coalesce("
    "         (SELECT partitions FROM projd_replica_sets WHERE name = $1), 2147483647)),"
    " a AS (SELECT v.projection, c.partition, c.position FROM v JOIN c USING (lane) WHERE v.state = 'active')"
    " SELECT v.projection, v.version, v.state, v.schema, v.age,"
    "  (SELECT count(*) FROM c WHERE c.lane = v.lane)::int,"
    "  coalesce((SELECT min(position) FROM c WHERE c.lane = v.lane), 0),"
    "  coalesce((SELECT max(position) FROM c WHERE c.lane = v.lane), 0),"
    "  (SELECT count(*) FROM a LEFT JOIN c ON c.lane = v.lane AND c.partition = a.partition"
    "   WHERE a.projection = v.projection AND coalesce(c.position, 0) < a.position)::int,"
    "  coalesce((SELECT max(a.position - coalesce(c.position, 0)) FROM a"
    "   LEFT JOIN c ON c.lane = v.lane AND c.partition = a.partition"
    "   WHERE a.projection = v.projection AND coalesce(c.position, 0) < a.position), 0)"
    " FROM v ORDER BY v.projection, v.version";
constexpr const char* kStableNamesCurrentSql = "SELECT projd_stable_names_current($1, $2)";
constexpr const char* kPointStableNamesSql = "SELECT projd_point_stable_names($1, $2, nullif($3, ''))";
constexpr const char* kLockTimeoutSql = "SET LOCAL lock_timeout = '5s'";
constexpr const char* kMarkReadySql =
    "UPDATE projd_projection_versions SET state = 'ready', state_changed_at = now()"
    " WHERE replica_set = $1 AND projection = $2 AND version = $3 AND state = 'building'";
constexpr const char* kResumeSql =
    "UPDATE projd_projection_versions SET state = 'building', state_changed_at = now()"
    " WHERE replica_set = $1 AND projection = $2 AND version = $3 AND state = 'retired'";
constexpr const char* kLockSetSql = "SELECT generation FROM projd_replica_sets WHERE name = $1 FOR UPDATE";
// Tables of the stable schema that a version moving away from it takes along: those the
// new version also has (the stable names that become views).
constexpr const char* kLegacyTablesSql =
    "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname IN ("
    "  SELECT c2.relname FROM pg_catalog.pg_class c2 JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace"
    "  WHERE n2.nspname = $2 AND c2.relkind IN ('r', 'p', 'v', 'm', 'f'))"
    " ORDER BY c.relname";
constexpr const char* kLockLaneSql =
    "SELECT partition FROM projd_checkpoints WHERE replica_set = $1 AND projection = $2"
    " ORDER BY partition FOR UPDATE";
// Partitions where lane $3 is behind lane $2 (a missing row is at 0).
constexpr const char* kBehindSql =
    "SELECT count(*)::int FROM projd_checkpoints a"
    " LEFT JOIN projd_checkpoints n ON n.replica_set = a.replica_set AND n.projection = $3 AND n.partition = a.partition"
    " WHERE a.replica_set = $1 AND a.projection = $2 AND coalesce(n.position, 0) < a.position"
    " AND a.partition < coalesce((SELECT partitions FROM projd_replica_sets WHERE name = $1), 2147483647)";
constexpr const char* kSetSchemaSql =
    "UPDATE projd_projection_versions SET read_model_schema = $4"
    " WHERE replica_set = $1 AND projection = $2 AND version = $3";
constexpr const char* kFenceLaneSql =
    "UPDATE projd_checkpoints SET generation = $3, writer = 'version switch', updated_at = now()"
    " WHERE replica_set = $1 AND projection = $2 AND generation < $3";
// Every worker restarts every partition from the checkpoints (as after a rebuild), taking
// the versions' new states along.
constexpr const char* kBumpSql =
    "UPDATE projd_replica_sets SET generation = $2, rebuild_generation = $2, generation_formed_at = now()"
    " WHERE name = $1";
constexpr const char* kNotifySql = "SELECT pg_notify($1, $2)";
constexpr const char* kSwitchStatesSql =
    "UPDATE projd_projection_versions SET"
    " state = CASE WHEN version = $3 THEN 'active' ELSE 'retired' END, state_changed_at = now(),"
    " activated_at = CASE WHEN version = $3 THEN now() ELSE activated_at END"
    " WHERE replica_set = $1 AND projection = $2 AND version IN ($3, $4)";
constexpr const char* kForgetDeadLettersSql =
    "DELETE FROM projd_dead_letters WHERE replica_set = $1 AND projection = $2";
constexpr const char* kDropStateSql =
    "UPDATE projd_projection_versions SET state = 'dropped', state_changed_at = now()"
    " WHERE replica_set = $1 AND projection = $2 AND version = $3";

std::vector<ProjectionVersion> VersionsOf(const pqxx::result& rows, const std::string& projection) {
  std::vector<ProjectionVersion> out;
  for (const auto& r : rows) {
    ProjectionVersion v;
    v.projection = projection;
    v.version = r[0].as<int>();
    v.state = ParseVersionState(r[1].as<std::string>());
    v.schema = r[2].as<std::string>();
    v.state_age_seconds = r[3].as<double>();
    out.push_back(std::move(v));
  }
  return out;
}

const ProjectionVersion* Find(const std::vector<ProjectionVersion>& versions, int version) {
  for (const auto& v : versions) {
    if (v.version == version) return &v;
  }
  return nullptr;
}

const ProjectionVersion* ActiveOf(const std::vector<ProjectionVersion>& versions) {
  for (const auto& v : versions) {
    if (v.state == VersionState::kActive) return &v;
  }
  return nullptr;
}

// The state a version new to the replica set starts in (VersionStore::Register).
VersionState NewVersionState(const std::vector<ProjectionVersion>& known, int version) {
  if (!ActiveOf(known)) return VersionState::kActive;
  const bool highest = std::all_of(known.begin(), known.end(), [&](const auto& v) { return v.version < version; });
  return highest ? VersionState::kBuilding : VersionState::kRetired;
}

void NotifyGeneration(pqxx::work& tx, const std::string& schema, const std::string& replica_set) {
  tx.exec_params(kNotifySql, PgCoordinationStore::Channel(schema), replica_set);
}

// A new generation recorded as a layout restart, after fencing `lane`'s batches in flight.
std::int64_t FenceAndRestart(pqxx::work& tx, const std::string& schema, const std::string& replica_set,
                             const pqxx::result& set, const std::string& lane) {
  if (set.empty()) return 0;  // no worker has ever run: nothing to fence or restart
  const auto generation = set[0][0].as<std::int64_t>() + 1;
  tx.exec_params(kFenceLaneSql, replica_set, lane, generation);
  tx.exec_params0(kBumpSql, replica_set, generation);
  NotifyGeneration(tx, schema, replica_set);
  return generation;
}

}  // namespace

PgVersionStore::PgVersionStore(ConnectionOptions options) : options_(std::move(options)) {}
PgVersionStore::~PgVersionStore() = default;

pqxx::connection& PgVersionStore::Conn() {
  if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
  return *conn_;
}

std::vector<ProjectionVersion> PgVersionStore::Register(const std::string& replica_set, const std::string& projection,
                                                        const std::vector<int>& versions) {
  return Translate("register the versions of " + projection, [&] {
    pqxx::work tx(Conn());
    tx.exec_params(kRegisterLockSql, replica_set, projection);
    auto known = VersionsOf(tx.exec_params(kVersionsOfSql, replica_set, projection), projection);
    const bool has_v1 = std::find(versions.begin(), versions.end(), 1) != versions.end();
    if (known.empty() && !has_v1 && tx.exec_params1(kHasCheckpointsSql, replica_set, projection)[0].as<bool>()) {
      // Checkpoints from before versions existed: they and the tables beside projd's are version 1.
      tx.exec_params0(kInsertVersionSql, replica_set, projection, 1, ToString(VersionState::kActive), "");
      known = VersionsOf(tx.exec_params(kVersionsOfSql, replica_set, projection), projection);
    }
    for (const int version : versions) {
      if (Find(known, version)) continue;
      const auto state = NewVersionState(known, version);
      // A first version 1 keeps today's place: its tables are the stable names themselves.
      const bool in_place = version == 1 && state == VersionState::kActive;
      const auto schema = in_place ? std::string() : VersionSchemaName(options_.schema, projection, version);
      if (!schema.empty()) tx.exec0("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(schema));
      tx.exec_params0(kInsertVersionSql, replica_set, projection, version, ToString(state), schema);
      if (state == VersionState::kBuilding) {
        const auto* active = ActiveOf(known);
        tx.exec_params(kSeedCheckpointsSql, replica_set, LaneKey(projection, active->version),
                       LaneKey(projection, version));
      }
      known = VersionsOf(tx.exec_params(kVersionsOfSql, replica_set, projection), projection);
    }
    tx.commit();
    return known;
  });
}

std::vector<ProjectionVersion> PgVersionStore::List(const std::string& replica_set) {
  return Translate("list projection versions", [&] {
    pqxx::work tx(Conn());
    std::vector<ProjectionVersion> out;
    for (const auto& r : tx.exec_params(kListSql, replica_set)) {
      ProjectionVersion v;
      v.projection = r[0].as<std::string>();
      v.version = r[1].as<int>();
      v.state = ParseVersionState(r[2].as<std::string>());
      v.schema = r[3].as<std::string>();
      v.state_age_seconds = r[4].as<double>();
      v.partitions_with_checkpoints = r[5].as<int>();
      v.min_position = r[6].as<std::int64_t>();
      v.max_position = r[7].as<std::int64_t>();
      v.partitions_behind = r[8].as<int>();
      v.max_behind = r[9].as<std::int64_t>();
      out.push_back(std::move(v));
    }
    tx.commit();
    return out;
  });
}

bool PgVersionStore::PointStableNames(const std::string& replica_set, const std::string& projection, int version) {
  return Translate("point the stable names of " + projection, [&] {
    pqxx::work tx(Conn());
    const auto known = VersionsOf(tx.exec_params(kLockVersionsSql, replica_set, projection), projection);
    const auto* v = Find(known, version);
    if (!v || v->state != VersionState::kActive || v->schema.empty()) return false;
    if (tx.exec_params1(kStableNamesCurrentSql, options_.schema, v->schema)[0].as<bool>()) return false;
    tx.exec0(kLockTimeoutSql);
    tx.exec_params1(kPointStableNamesSql, options_.schema, v->schema, "");
    tx.commit();
    return true;
  });
}

bool PgVersionStore::MarkReady(const std::string& replica_set, const std::string& projection, int version) {
  return Translate("mark " + LaneKey(projection, version) + " ready", [&] {
    pqxx::work tx(Conn());
    const bool marked = tx.exec_params(kMarkReadySql, replica_set, projection, version).affected_rows() > 0;
    tx.commit();
    return marked;
  });
}

namespace {

// Why `target` cannot become active now (empty: it can).
std::string SwitchRefusal(const ProjectionVersion* target, const ProjectionVersion* active, const SwitchRequest& request) {
  const auto name = LaneKey(request.projection, request.to_version);
  if (!target) return "no version " + std::to_string(request.to_version) + " of " + request.projection + " is known";
  if (!active) return request.projection + " has no active version";
  if (target == active) return name + " is already active";
  if (target->state == VersionState::kDropped) return name + " was dropped";
  if (request.require == SwitchRequest::Require::kCaughtUp && !VersionRuns(target->state)) {
    return name + " is " + ToString(target->state) + ": only a building or ready version is promoted when caught up";
  }
  if (target->schema.empty()) return name + " has no schema of its own";
  return {};
}

// Holds the active lane's checkpoints (its batches wait) and waits up to `wait` for `lane`
// to reach them on every partition; then holds `lane`'s too. Returns the partitions behind.
int HoldUntilCaughtUp(pqxx::work& tx, const std::string& replica_set, const std::string& active_lane,
                      const std::string& lane, std::chrono::milliseconds wait) {
  tx.exec_params(kLockLaneSql, replica_set, active_lane);
  const auto until = std::chrono::steady_clock::now() + wait;
  int behind = tx.exec_params1(kBehindSql, replica_set, active_lane, lane)[0].as<int>();
  while (behind > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the new version's batches commit meanwhile
    behind = tx.exec_params1(kBehindSql, replica_set, active_lane, lane)[0].as<int>();
  }
  if (behind > 0) return behind;
  tx.exec_params(kLockLaneSql, replica_set, lane);
  return tx.exec_params1(kBehindSql, replica_set, active_lane, lane)[0].as<int>();
}

}  // namespace

SwitchResult PgVersionStore::Switch(const std::string& replica_set, const SwitchRequest& request) {
  const auto& projection = request.projection;
  return Translate("switch " + projection + " to version " + std::to_string(request.to_version), [&] {
    pqxx::work tx(Conn());
    tx.exec0(kLockTimeoutSql);
    SwitchResult out;
    const auto set = tx.exec_params(kLockSetSql, replica_set);
    const auto known = VersionsOf(tx.exec_params(kLockVersionsSql, replica_set, projection), projection);
    const auto* target = Find(known, request.to_version);
    const auto* active = ActiveOf(known);
    out.reason = SwitchRefusal(target, active, request);
    if (!out.reason.empty()) return out;
    out.from_version = active->version;
    const auto& stable = options_.schema;
    const auto active_lane = LaneKey(projection, active->version);
    // The active version's checkpoints before its tables: a transactional batch takes them in
    // this order (its checkpoint rows, then its writes), so a batch and the switch never wait
    // for each other in a circle (a deadlock the server ends by aborting one of them).
    tx.exec_params(kLockLaneSql, replica_set, active_lane);
    // Version 1 in place: its tables move to a schema of their own, and writers of them wait
    // (readers do not) until they have moved.
    std::vector<std::string> in_place;
    if (active->schema.empty()) {
      for (const auto& r : tx.exec_params(kLegacyTablesSql, stable, target->schema)) in_place.push_back(r[0].as<std::string>());
      for (const auto& t : in_place) tx.exec0("LOCK TABLE " + tx.quote_name(stable) + "." + tx.quote_name(t) + " IN SHARE MODE");
    }
    if (request.require == SwitchRequest::Require::kCaughtUp) {
      out.partitions_behind =
          HoldUntilCaughtUp(tx, replica_set, active_lane, LaneKey(projection, target->version), request.catch_up_wait);
      if (out.partitions_behind > 0) {
        out.outcome = SwitchOutcome::kNotCaughtUp;
        out.reason = LaneKey(projection, target->version) + " is behind the active version on " +
                     std::to_string(out.partitions_behind) + " partitions";
        return out;
      }
    }
    auto previous_schema = active->schema;
    if (previous_schema.empty()) {
      previous_schema = VersionSchemaName(stable, projection, active->version);
      tx.exec0("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(previous_schema));
      for (const auto& t : in_place) {
        tx.exec0("ALTER TABLE " + tx.quote_name(stable) + "." + tx.quote_name(t) + " SET SCHEMA " +
                 tx.quote_name(previous_schema));
      }
      tx.exec_params0(kSetSchemaSql, replica_set, projection, active->version, previous_schema);
    }
    out.stable_names = tx.exec_params1(kPointStableNamesSql, stable, target->schema, previous_schema)[0].as<int>();
    out.generation = FenceAndRestart(tx, stable, replica_set, set, active_lane);
    tx.exec_params0(kSwitchStatesSql, replica_set, projection, target->version, active->version);
    tx.commit();
    out.outcome = SwitchOutcome::kSwitched;
    return out;
  });
}

bool PgVersionStore::Resume(const std::string& replica_set, const std::string& projection, int version) {
  return Translate("resume " + LaneKey(projection, version), [&] {
    pqxx::work tx(Conn());
    const auto set = tx.exec_params(kLockSetSql, replica_set);
    if (tx.exec_params(kResumeSql, replica_set, projection, version).affected_rows() == 0) return false;
    if (!set.empty()) {  // workers restart their partitions and give the version its share
      tx.exec_params0(kBumpSql, replica_set, set[0][0].as<std::int64_t>() + 1);
      NotifyGeneration(tx, options_.schema, replica_set);
    }
    tx.commit();
    return true;
  });
}

DropResult PgVersionStore::Drop(const std::string& replica_set, const std::string& projection, int version) {
  return Translate("drop " + LaneKey(projection, version), [&] {
    pqxx::work tx(Conn());
    tx.exec0(kLockTimeoutSql);
    DropResult out;
    const auto set = tx.exec_params(kLockSetSql, replica_set);
    const auto known = VersionsOf(tx.exec_params(kLockVersionsSql, replica_set, projection), projection);
    const auto* v = Find(known, version);
    const auto name = LaneKey(projection, version);
    if (!v) out.reason = "no version " + std::to_string(version) + " of " + projection + " is known";
    else if (v->state == VersionState::kActive) out.reason = name + " is active: switch to another version first";
    else if (v->state == VersionState::kDropped) out.reason = name + " was dropped already";
    if (!out.reason.empty()) return out;
    if (VersionRuns(v->state)) FenceAndRestart(tx, options_.schema, replica_set, set, name);  // its workers stop it
    tx.exec_params(kForgetDeadLettersSql, replica_set, name);
    if (!v->schema.empty()) tx.exec0("DROP SCHEMA IF EXISTS " + tx.quote_name(v->schema) + " CASCADE");
    tx.exec_params0(kDropStateSql, replica_set, projection, version);
    tx.commit();
    out.dropped = true;
    return out;
  });
}

std::string ReadModelSchemaOf(const ConnectionOptions& db, const std::string& replica_set,
                              const std::string& projection, int version) {
  PgVersionStore store(db);
  for (const auto& v : store.List(replica_set)) {
    if (v.projection == projection && v.version == version) return v.schema;
  }
  return {};
}

}  // namespace projd::pg
