#include "projections/examples/stream_stats_check.h"

#include <pqxx/pqxx>

namespace projd::examples {

std::int64_t StreamStatsMismatches(const pg::ConnectionOptions& db) {
  auto conn = pg::Connect(db);
  pqxx::read_transaction tx(*conn);
  return tx.exec1(
               "SELECT count(*) FROM (SELECT bounded_context, aggregate_type, aggregate_id, count(*) AS n,"
               "   sum(aggregate_version) AS vs FROM events GROUP BY 1, 2, 3) e"
               " FULL JOIN stream_stats s USING (bounded_context, aggregate_type, aggregate_id)"
               " WHERE s.event_count IS DISTINCT FROM e.n OR s.version_sum IS DISTINCT FROM e.vs")[0]
      .as<std::int64_t>();
}

}  // namespace projd::examples
