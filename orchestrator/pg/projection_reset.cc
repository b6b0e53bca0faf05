#include "orchestrator/pg/projection_reset.h"

#include <pqxx/pqxx>

#include "orchestrator/pg/error_translation.h"
#include "orchestrator/pg/pg_coordination_store.h"

namespace projd::pg {
namespace {

constexpr const char* kLockSetSql = "SELECT generation FROM projd_replica_sets WHERE name = $1 FOR UPDATE";
constexpr const char* kResetCheckpointsSql =
    "UPDATE projd_checkpoints SET position = 0, generation = $3, writer = 'rebuild', updated_at = now()"
    " WHERE replica_set = $1 AND projection = $2";
constexpr const char* kDropDeadLettersSql =
    "DELETE FROM projd_dead_letters WHERE replica_set = $1 AND projection = $2";
constexpr const char* kBumpSql =
    "UPDATE projd_replica_sets SET generation = $2, rebuild_generation = $2, generation_formed_at = now()"
    " WHERE name = $1";
constexpr const char* kNotifySql = "SELECT pg_notify($1, $2)";

}  // namespace

ResetResult ResetProjection(const ConnectionOptions& options, const std::string& replica_set,
                            const std::string& projection, const std::function<void(pqxx::work&)>& reset_hook) {
  return Translate("rebuild " + projection, [&] {
    auto conn = Connect(options);
    pqxx::work tx(*conn);
    ResetResult out;
    const auto set = tx.exec_params(kLockSetSql, replica_set);
    const std::int64_t next = set.empty() ? 0 : set[0][0].as<std::int64_t>() + 1;
    reset_hook(tx);
    out.checkpoints = tx.exec_params(kResetCheckpointsSql, replica_set, projection, next).affected_rows();
    tx.exec_params0(kDropDeadLettersSql, replica_set, projection);
    if (!set.empty()) {
      tx.exec_params0(kBumpSql, replica_set, next);
      tx.exec_params(kNotifySql, PgCoordinationStore::Channel(options.schema), replica_set);
    }
    tx.commit();
    out.generation = next;
    return out;
  });
}

}  // namespace projd::pg
