#include "orchestrator/pg/partition_index.h"

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "orchestrator/pg/error_translation.h"

namespace projd::pg {
namespace {

// An index of that name on this schema's events: is it usable (1), invalid (0), or absent.
constexpr const char* kIndexStateSql =
    "SELECT i.indisvalid AND i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = 'events'::regclass AND c.relname = $1";
constexpr const char* kCountsSql = "SELECT DISTINCT partitions FROM projd_replica_sets";
// One builder per events table at a time (concurrent `projd migrate` runs): a session lock,
// taken with short tries outside any transaction. A session waiting in pg_advisory_lock()
// would hold a snapshot that CREATE INDEX CONCURRENTLY waits for: a deadlock.
constexpr const char* kTryLockSql = "SELECT pg_try_advisory_lock(1886546532, 'events'::regclass::oid::int)";
constexpr const char* kUnlockSql = "SELECT pg_advisory_unlock(1886546532, 'events'::regclass::oid::int)";

// Holds the builder lock while in scope.
class BuilderLock {
 public:
  BuilderLock(pqxx::connection& conn, const std::function<void(const std::string&)>& progress) : conn_(conn) {
    bool told = false;
    while (!pqxx::nontransaction(conn_).exec1(kTryLockSql)[0].as<bool>()) {
      if (!told) progress("waiting for another projd process building a partition index");
      told = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  ~BuilderLock() {
    try {
      pqxx::nontransaction(conn_).exec(kUnlockSql);
    } catch (const std::exception&) {
      // A broken session released it already.
    }
  }
  BuilderLock(const BuilderLock&) = delete;
  BuilderLock& operator=(const BuilderLock&) = delete;

 private:
  pqxx::connection& conn_;
};

std::string QualifiedName(pqxx::transaction_base& tx, int partitions) {
  // The index lives in the schema of events; name it there explicitly for DROP.
  const auto schema = tx.exec1("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                               " WHERE c.oid = 'events'::regclass")[0]
                          .as<std::string>();
  return tx.quote_name(schema) + "." + tx.quote_name(PartitionIndexName(partitions));
}

}  // namespace

std::string PartitionIndexName(int partitions) { return "events_projd_partition_" + std::to_string(partitions); }

std::string PartitionExpression(int partitions) {
  return "(coalesce(partition_hash, projd_fnv1a32(aggregate_id)) % " + std::to_string(partitions) + ")";
}

bool HasPartitionIndex(pqxx::transaction_base& tx, int partitions) {
  const auto r = tx.exec_params(kIndexStateSql, PartitionIndexName(partitions));
  return !r.empty() && r[0][0].as<bool>();
}

std::vector<int> PartitionCountsInUse(pqxx::connection& conn, int configured) {
  return Translate("read the partition counts in use", [&] {
    std::set<int> counts{configured};
    pqxx::nontransaction tx(conn);
    for (const auto& r : tx.exec(kCountsSql)) counts.insert(r[0].as<int>());
    return std::vector<int>(counts.begin(), counts.end());
  });
}

void EnsurePartitionIndex(pqxx::connection& conn, int partitions,
                          const std::function<void(const std::string&)>& progress) {
  Translate("create the partition index", [&] {
    BuilderLock lock(conn, progress);
    pqxx::nontransaction tx(conn);
    const auto name = PartitionIndexName(partitions);
    const auto state = tx.exec_params(kIndexStateSql, name);
    if (!state.empty() && state[0][0].as<bool>()) {
      progress("index " + name + " exists");
      return;
    }
    const auto qualified = QualifiedName(tx, partitions);
    if (!state.empty()) {
      progress("index " + name + " is invalid (an interrupted build): dropping it");
      tx.exec0("DROP INDEX CONCURRENTLY IF EXISTS " + qualified);
    }
    progress("creating index " + name + " on events (" + PartitionExpression(partitions) +
             ", global_position) concurrently: writers are not blocked");
    const auto start = std::chrono::steady_clock::now();
    tx.exec0("CREATE INDEX CONCURRENTLY IF NOT EXISTS " + tx.quote_name(name) + " ON events (" +
             PartitionExpression(partitions) + ", global_position)");
    char took[64];
    std::snprintf(took, sizeof took, "%.1f s",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    progress("index " + name + " created in " + took);
  });
}

}  // namespace projd::pg
