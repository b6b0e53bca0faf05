#include "bench/raw_scan.h"

#include <chrono>
#include <string>

#include <pqxx/pqxx>

#include "orchestrator/reading/pg/pg_event_store.h"

namespace projd::bench {

double RawScan(const pg::ConnectionOptions& db, int batch, std::int64_t total) {
  auto conn = pg::Connect(db);
  const std::string sql = std::string("SELECT ") + pg::kEventColumns +
                          " FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2";
  std::int64_t after = 0, n = 0;
  const auto start = std::chrono::steady_clock::now();
  while (n < total) {
    pqxx::read_transaction tx(*conn);
    const auto rows = tx.exec_params(sql, after, batch);
    if (rows.empty()) break;
    for (const auto& r : rows) {
      const auto e = pg::EventFromRow(r);
      after = e.global_position;
      ++n;
    }
  }
  return n / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace projd::bench
