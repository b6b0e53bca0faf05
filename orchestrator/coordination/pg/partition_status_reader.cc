#include "orchestrator/coordination/pg/partition_status_reader.h"

#include <optional>

#include <pqxx/pqxx>

#include "orchestrator/pg/error_translation.h"
#include "orchestrator/reading/pg/partition_index.h"

namespace projd::pg {
namespace {

// The replica set's partition count (the statement below is written for it) and the newest
// event position.
constexpr const char* kHeadSql =
    "SELECT (SELECT partitions FROM projd_replica_sets WHERE name = $1),"
    " (SELECT coalesce(max(global_position), 0) FROM events)";

// $1 replica set, $2 projection name ('' = all). @PART@ is the row's partition for the
// replica set's count, spelled as the per-partition index spells it (PartitionExpression) so
// the planner matches the index: the lateral subquery is then one index descent per row.
// A lane key is NAME or NAME@N, and '@' is not allowed in names: split_part gives NAME.
// A pause of the partition itself is preferred over one of the whole projection (both
// pause it; the row says which).
constexpr const char* kRowsSqlTemplate =
    "SELECT c.projection, c.partition, c.position,"
    "  coalesce(extract(epoch FROM greatest(now() - e.created_at, interval '0')), 0)::float8,"
    "  coalesce(a.worker_id, ''), coalesce(a.worker_name, ''), w.worker_id IS NOT NULL,"
    "  p.partition, p.paused_by, p.reason, extract(epoch FROM now() - p.paused_at)::float8,"
    "  s.worker_id, coalesce(sw.worker_name, ''), s.state, s.last_error,"
    "  extract(epoch FROM now() - s.error_at)::float8, extract(epoch FROM now() - s.updated_at)::float8"
    " FROM projd_checkpoints c"
    " LEFT JOIN projd_assignments a ON a.replica_set = c.replica_set AND a.partition = c.partition"
    " LEFT JOIN projd_workers w ON w.worker_id = a.worker_id AND w.replica_set = c.replica_set"
    " LEFT JOIN LATERAL (SELECT * FROM projd_projection_pauses pp WHERE pp.replica_set = c.replica_set"
    "   AND pp.projection = split_part(c.projection, '@', 1) AND pp.partition IN (-1, c.partition)"
    "   ORDER BY pp.partition DESC LIMIT 1) p ON true"
    " LEFT JOIN projd_partition_states s ON s.replica_set = c.replica_set AND s.projection = c.projection"
    "   AND s.partition = c.partition"
    " LEFT JOIN projd_workers sw ON sw.worker_id = s.worker_id AND sw.replica_set = c.replica_set"
    " LEFT JOIN LATERAL (SELECT created_at FROM events WHERE @PART@ = c.partition"
    "   AND global_position > c.position ORDER BY global_position LIMIT 1) e ON true"
    " WHERE c.replica_set = $1 AND c.partition < $3"
    "   AND ($2 = '' OR split_part(c.projection, '@', 1) = $2)"
    " ORDER BY c.projection, c.partition";

std::string RowsSql(int partitions) {
  std::string sql = kRowsSqlTemplate;
  const std::string marker = "@PART@";
  sql.replace(sql.find(marker), marker.size(), PartitionExpression(partitions));
  return sql;
}

std::optional<PauseFact> PauseOf(const pqxx::row& r) {
  if (r[7].is_null()) return std::nullopt;
  return PauseFact{r[7].as<int>() < 0, r[8].as<std::string>(), r[9].as<std::string>(), r[10].as<double>()};
}

std::optional<StateReport> ReportOf(const pqxx::row& r) {
  if (r[11].is_null()) return std::nullopt;
  StateReport report;
  report.worker_id = r[11].as<std::string>();
  report.worker_name = r[12].as<std::string>();
  report.state = r[13].as<std::string>();
  report.last_error = r[14].as<std::string>();
  if (!r[15].is_null()) report.error_age_seconds = r[15].as<double>();
  report.age_seconds = r[16].as<double>();
  return report;
}

PartitionFacts FactsOf(const pqxx::row& r, std::int64_t latest) {
  PartitionFacts f;
  f.projection = r[0].as<std::string>();
  f.partition = r[1].as<int>();
  f.position = r[2].as<std::int64_t>();
  f.latest_position = latest;
  f.oldest_pending_age_seconds = r[3].as<double>();
  f.owner_id = r[4].as<std::string>();
  f.owner_name = r[5].as<std::string>();
  f.owner_live = r[6].as<bool>();
  f.pause = PauseOf(r);
  f.report = ReportOf(r);
  return f;
}

}  // namespace

std::vector<PartitionStatus> ReadPartitionStatus(const ConnectionOptions& options, const std::string& replica_set,
                                                 const std::string& projection) {
  return Translate("read partition status", [&] {
    auto conn = Connect(options);
    // One snapshot for both statements: lags and positions agree with each other.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(*conn);
    const auto head = tx.exec_params1(kHeadSql, replica_set);
    std::vector<PartitionStatus> out;
    if (head[0].is_null()) return out;
    const int partitions = head[0].as<int>();
    const auto latest = head[1].as<std::int64_t>();
    for (const auto& r : tx.exec_params(RowsSql(partitions), replica_set, projection, partitions)) {
      out.push_back(DescribePartition(FactsOf(r, latest)));
    }
    return out;
  });
}

}  // namespace projd::pg
