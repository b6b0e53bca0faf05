// type_counts (async): number of events per event type, kept per partition so that a
// last-applied-position guard per row makes a replayed batch change nothing
// (at-least-once delivery, idempotent effect). Total per type = sum over partitions.
#include <map>

#include "orchestrator/partitioning.h"
#include "orchestrator/pg/sql_array.h"
#include "projections/registry.h"

namespace projd::examples {
namespace {

constexpr const char* kCreateSql =
    "CREATE TABLE IF NOT EXISTS type_counts ("
    " event_type TEXT NOT NULL,"
    " partition_key BIGINT NOT NULL,"
    " event_count BIGINT NOT NULL DEFAULT 0,"
    " last_position BIGINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (event_type, partition_key))";
constexpr const char* kResetSql = "TRUNCATE type_counts";
// Rows are keyed by the aggregate id's full 32-bit hash folded to 4096 buckets: a fixed
// key that does not change when PARTITIONS is split, so the guard survives a split.
constexpr const char* kEnsureRowsSql =
    "INSERT INTO type_counts (event_type, partition_key)"
    " SELECT DISTINCT * FROM unnest($1::text[], $2::bigint[])"
    " ON CONFLICT DO NOTHING";
constexpr const char* kLockRowsSql =
    "SELECT 1 FROM type_counts t"
    " JOIN unnest($1::text[], $2::bigint[]) AS k(event_type, partition_key)"
    "   USING (event_type, partition_key)"
    " ORDER BY t.event_type, t.partition_key FOR UPDATE OF t";
// Runs after the lock, so its snapshot sees every committed update of these rows.
constexpr const char* kApplySql =
    "WITH e AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])"
    "           AS e(event_type, partition_key, pos)),"
    " fresh AS (SELECT e.event_type, e.partition_key, count(*) AS n, max(e.pos) AS last"
    "           FROM e JOIN type_counts t USING (event_type, partition_key)"
    "           WHERE e.pos > t.last_position GROUP BY 1, 2)"
    " UPDATE type_counts t SET event_count = t.event_count + fresh.n,"
    "  last_position = fresh.last"
    " FROM fresh WHERE t.event_type = fresh.event_type AND t.partition_key = fresh.partition_key";

// 4096 = the largest PARTITIONS, so a bucket never spans two partitions.
constexpr std::uint32_t kBuckets = 4096;

class TypeCounts final : public AsyncProjection {
 public:
  std::string Name() const override { return "type_counts"; }
  void Setup(pqxx::work& tx) override { tx.exec0(kCreateSql); }
  void Reset(pqxx::work& tx) override { tx.exec0(kResetSql); }

  void Handle(std::span<const Event> batch, AsyncContext& context) override {
    if (batch.empty()) return;
    std::vector<std::string> types;
    std::vector<std::int64_t> keys, positions;
    for (const auto& e : batch) {
      types.push_back(e.event_type);
      keys.push_back(Fnv1a32(e.aggregate_id) % kBuckets);
      positions.push_back(e.global_position);
    }
    const auto t = pg::TextArray(types);
    const auto k = pg::IntArray(keys);
    pqxx::work tx(*context.connection);
    tx.exec_params0(kEnsureRowsSql, t, k);
    tx.exec_params(kLockRowsSql, t, k);
    tx.exec_params0(kApplySql, t, k, pg::IntArray(positions));
    tx.commit();
  }
};

}  // namespace
}  // namespace projd::examples

PROJD_REGISTER_PROJECTION(projd::examples::TypeCounts);
