#include "bench/seeded_stream.h"

#include <malloc.h>

#include <chrono>
#include <cstdio>

#include <pqxx/pqxx>

#include "orchestrator/pg/migrator.h"
#include "orchestrator/reading/pg/seeder.h"

namespace projd::bench {

std::int64_t PrepareSeededStream(const pg::ConnectionOptions& db, std::int64_t events) {
  pg::Migrator(db).Migrate();
  auto conn = pg::Connect(db);
  {
    pqxx::work tx(*conn);
    const auto have = tx.exec1("SELECT count(*) FROM events")[0].as<std::int64_t>();
    tx.commit();
    if (have < events) {
      const auto start = std::chrono::steady_clock::now();
      pg::Seed(db, {.aggregates = 10000, .events = events - have, .chunk = 100000, .prefix = "bench"});
      std::printf("seeded %lld events in %.1f s\n", static_cast<long long>(events - have),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  pqxx::work tx(*conn);
  tx.exec0("ANALYZE events");
  const auto last = tx.exec1("SELECT coalesce(max(global_position), 0) FROM events")[0].as<std::int64_t>();
  tx.commit();
  return last;
}

void TuneMalloc() {
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
}

}  // namespace projd::bench
