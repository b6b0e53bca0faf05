#include "orchestrator/reading/pg/partition_index.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "orchestrator/pg/error_translation.h"
#include "orchestrator/reading/pg/index_build_progress.h"

namespace projd::pg {
namespace {

// An index of that name on this schema's events: is it usable (1), invalid (0), or absent.
constexpr const char* kIndexStateSql =
    "SELECT i.indisvalid AND i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = 'events'::regclass AND c.relname = $1";
// Every partition index of this schema's events ('events' resolves through search_path =
// DATABASE_SCHEMA, so another schema's events is never listed): the names PartitionIndexName
// makes, with a count that fits an int. An index is always in its table's schema.
constexpr const char* kIndexesSql =
    "SELECT substr(c.relname, length('events_projd_partition_') + 1)::int, i.indisvalid AND i.indisready"
    " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = 'events'::regclass AND c.relname ~ '^events_projd_partition_[1-9][0-9]{0,8}$'";
constexpr const char* kEventsExistSql = "SELECT to_regclass('events') IS NOT NULL";
constexpr const char* kReplicaSetsExistSql = "SELECT to_regclass('projd_replica_sets') IS NOT NULL";
constexpr const char* kCountsSql = "SELECT DISTINCT partitions FROM projd_replica_sets";
// One builder or retirer per events table at a time (concurrent `projd migrate` runs, a
// split): a session lock, taken with short tries outside any transaction. A session waiting in pg_advisory_lock()
// would hold a snapshot that CREATE INDEX CONCURRENTLY waits for: a deadlock.
constexpr const char* kTryLockSql = "SELECT pg_try_advisory_lock(1886546532, 'events'::regclass::oid::int)";
constexpr const char* kUnlockSql = "SELECT pg_advisory_unlock(1886546532, 'events'::regclass::oid::int)";

std::string QualifiedName(pqxx::transaction_base& tx, int partitions) {
  // The index lives in the schema of events; name it there explicitly for DROP.
  const auto schema = tx.exec1("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                               " WHERE c.oid = 'events'::regclass")[0]
                          .as<std::string>();
  return tx.quote_name(schema) + "." + tx.quote_name(PartitionIndexName(partitions));
}

std::set<int> CountsInUse(pqxx::transaction_base& tx, int configured) {
  std::set<int> counts{configured};
  if (!tx.exec1(kReplicaSetsExistSql)[0].as<bool>()) return counts;  // before the migrations
  for (const auto& r : tx.exec(kCountsSql)) counts.insert(r[0].as<int>());
  return counts;
}

// Partition count -> usable, for each partition index of this schema's events.
std::map<int, bool> ExistingIndexes(pqxx::transaction_base& tx) {
  std::map<int, bool> out;
  if (!tx.exec1(kEventsExistSql)[0].as<bool>()) return out;
  for (const auto& r : tx.exec(kIndexesSql)) out[r[0].as<int>()] = r[1].as<bool>();
  return out;
}

std::string Seconds(std::chrono::steady_clock::time_point start) {
  char took[64];
  std::snprintf(took, sizeof took, "%.1f s",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return took;
}

void Drop(pqxx::transaction_base& tx, int partitions, int configured, const IndexProgress& progress) {
  const auto name = PartitionIndexName(partitions);
  progress("dropping index " + name + " concurrently: no replica set uses " + std::to_string(partitions) +
           " partitions and PARTITIONS is " + std::to_string(configured));
  const auto start = std::chrono::steady_clock::now();
  // Waits for the statements that use it (readers still on P finish their batch); later
  // statements, prepared ones included, are planned again without it.
  tx.exec0("DROP INDEX CONCURRENTLY IF EXISTS " + QualifiedName(tx, partitions));
  progress("index " + name + " dropped in " + Seconds(start));
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
    pqxx::nontransaction tx(conn);
    const auto counts = CountsInUse(tx, configured);
    return std::vector<int>(counts.begin(), counts.end());
  });
}

PartitionIndexLock::PartitionIndexLock(pqxx::connection& conn, const IndexProgress& progress) : conn_(conn) {
  Translate("take the partition index builder lock", [&] {
    bool told = false;
    while (!pqxx::nontransaction(conn_).exec1(kTryLockSql)[0].as<bool>()) {
      if (!told) progress("waiting for another projd process building a partition index");
      told = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
}

PartitionIndexLock::~PartitionIndexLock() {
  try {
    pqxx::nontransaction(conn_).exec(kUnlockSql);
  } catch (const std::exception&) {
    // A broken session released it already.
  }
}

void EnsurePartitionIndex(pqxx::connection& conn, const ConnectionOptions& options, int partitions,
                          const IndexProgress& progress) {
  Translate("create the partition index", [&] {
    PartitionIndexLock lock(conn, progress);
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
    {
      // The build takes minutes on a large events table: its phase is shown meanwhile, and
      // the watcher has stopped before the next line.
      IndexBuildProgress watch(options, conn.backendpid(), name, progress);
      tx.exec0("CREATE INDEX CONCURRENTLY IF NOT EXISTS " + tx.quote_name(name) + " ON events (" +
               PartitionExpression(partitions) + ", global_position)");
    }
    progress("index " + name + " created in " + Seconds(start));
  });
}

std::vector<int> RetireUnusedPartitionIndexes(pqxx::connection& conn, int configured, const IndexProgress& progress) {
  return Translate("retire unused partition indexes", [&] {
    PartitionIndexLock lock(conn, progress);
    pqxx::nontransaction tx(conn);
    // Read under the lock: a split holding it switches its replica set over before it lets go.
    const auto in_use = CountsInUse(tx, configured);
    std::vector<int> dropped;
    for (const auto& [partitions, usable] : ExistingIndexes(tx)) {
      if (in_use.contains(partitions)) continue;
      Drop(tx, partitions, configured, progress);
      dropped.push_back(partitions);
    }
    return dropped;
  });
}

PartitionIndexChanges PlanPartitionIndexes(pqxx::connection& conn, int configured) {
  return Translate("read the partition indexes", [&] {
    pqxx::nontransaction tx(conn);
    const auto in_use = CountsInUse(tx, configured);
    const auto existing = ExistingIndexes(tx);
    PartitionIndexChanges changes;
    for (const int p : in_use) {
      if (const auto it = existing.find(p); it == existing.end() || !it->second) changes.create.push_back(p);
    }
    for (const auto& [p, usable] : existing) {
      if (!in_use.contains(p)) changes.drop.push_back(p);
    }
    return changes;
  });
}

}  // namespace projd::pg
