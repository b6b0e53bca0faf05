// Persistence core benchmark against a real PostgreSQL (run under projd-testpg):
// submit latency, flush of 100 checkpoints, a transactional unit of 100 read-model
// upserts plus its checkpoint, and coalescing. Prints figures; asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "orchestrator/persistence/persistence_core.h"
#include "orchestrator/pg/migrator.h"
#include "orchestrator/persistence/pg/pg_checkpoint_store.h"
#include "orchestrator/persistence/pg/pg_transaction.h"
#include "orchestrator/pg/sql_array.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Percentiles {
  double p50, p99, max;
};

Percentiles Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))]; };
  return {at(0.50), at(0.99), v.back()};
}

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

projd::Checkpoint Cp(int key, std::int64_t position) {
  return {{"bench", "p" + std::to_string(key % 10), key / 10}, position, 1, "bench"};
}

projd::PersistenceOptions Options() {
  projd::PersistenceOptions o;
  o.interval = std::chrono::hours(1);  // flushes only where the benchmark asks
  o.max_pending = 1'000'000;
  o.max_batch_size = 100;
  o.max_lag_events = 1LL << 60;
  return o;
}

}  // namespace

int main() {
  const char* url = std::getenv("DATABASE_URL");
  if (!url) {
    std::fprintf(stderr, "DATABASE_URL is not set (run under projd-testpg)\n");
    return 2;
  }
  const projd::pg::ConnectionOptions db{url, "bench_persistence", "projd-bench"};
  projd::pg::Migrator(db).Migrate();
  {
    auto c = projd::pg::Connect(db);
    pqxx::work tx(*c);
    tx.exec0("CREATE TABLE IF NOT EXISTS bench_model (id TEXT PRIMARY KEY, n BIGINT NOT NULL)");
    tx.commit();
  }
  projd::SystemClock clock;

  // 1. Submit latency (no I/O on the submit path; 1,000 keys, far more submits).
  {
    projd::pg::PgCheckpointStore store(db);
    projd::PersistenceCore core(store, clock, Options());
    std::vector<double> lat;
    lat.reserve(200000);
    for (int i = 0; i < 200000; ++i) {
      const auto t = Clock::now();
      core.Submit(Cp(i % 1000, i));
      lat.push_back(Us(Clock::now() - t));
    }
    const auto one = Summarize(lat);
    std::vector<std::vector<double>> per(8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        per[t].reserve(50000);
        for (int i = 0; i < 50000; ++i) {
          const auto s = Clock::now();
          core.Submit(Cp((t * 50000 + i) % 1000, 300000 + i));
          per[t].push_back(Us(Clock::now() - s));
        }
      });
    }
    for (auto& th : threads) th.join();
    std::vector<double> all;
    for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
    const auto eight = Summarize(all);
    std::printf("submit latency, 1 thread:  p50 %.2f us  p99 %.2f us  max %.1f us (200,000 submits)\n", one.p50,
                one.p99, one.max);
    std::printf("submit latency, 8 threads: p50 %.2f us  p99 %.2f us  max %.1f us (400,000 submits)\n", eight.p50,
                eight.p99, eight.max);
  }

  // 2. Flush of 100 checkpoints (one transaction, one statement).
  {
    projd::pg::PgCheckpointStore store(db);
    projd::PersistenceCore core(store, clock, Options());
    std::vector<double> lat;
    for (int round = 0; round < 300; ++round) {
      for (int k = 0; k < 100; ++k) core.Submit(Cp(k, 1000000 + round));
      const auto t = Clock::now();
      core.FlushOnce(projd::Trigger::kForce);
      lat.push_back(Us(Clock::now() - t) / 1000.0);
    }
    lat.erase(lat.begin(), lat.begin() + 20);  // warm-up
    const auto f = Summarize(lat);
    std::printf("flush of 100 checkpoints:  p50 %.2f ms  p99 %.2f ms  max %.2f ms (280 flushes)\n", f.p50, f.p99,
                f.max);
  }

  // 3. Transactional unit: 100 read-model upserts + its checkpoint in one transaction.
  {
    projd::pg::PgCheckpointStore store(db);
    projd::PersistenceCore core(store, clock, Options());
    core.Start();
    std::vector<double> lat;
    std::vector<std::string> ids;
    std::vector<std::int64_t> ones(100, 1);
    for (int i = 0; i < 100; ++i) ids.push_back("agg-" + std::to_string(i));
    const auto id_array = projd::pg::TextArray(ids);
    const auto one_array = projd::pg::IntArray(ones);
    for (int round = 0; round < 300; ++round) {
      projd::TransactionalUnit unit{{Cp(7, 2000000 + round)}, {}, [&](projd::TransactionHandle& h) {
                                      projd::pg::Work(h).exec_params0(
                                          "INSERT INTO bench_model AS m (id, n) SELECT * FROM unnest($1::text[], $2::bigint[])"
                                          " ON CONFLICT (id) DO UPDATE SET n = m.n + EXCLUDED.n",
                                          id_array, one_array);
                                    }};
      const auto t = Clock::now();
      core.SubmitUnit(std::move(unit)).get();
      lat.push_back(Us(Clock::now() - t) / 1000.0);
    }
    lat.erase(lat.begin(), lat.begin() + 20);
    const auto u = Summarize(lat);
    std::printf("unit of 100 upserts + checkpoint: p50 %.2f ms  p99 %.2f ms  max %.2f ms (280 units)\n", u.p50,
                u.p99, u.max);
    core.Shutdown();
  }

  // 4. Coalescing: 100,000 submits over 10 keys within one interval.
  {
    projd::pg::PgCheckpointStore store(db);
    projd::PersistenceCore core(store, clock, Options());
    for (int i = 0; i < 100000; ++i) core.Submit({{"bench", "coalesce", i % 10}, 3000000 + i, 1, "bench"});
    const auto pending = core.GetStats().pending_count;
    core.FlushOnce(projd::Trigger::kInterval);
    const auto s = core.GetStats();
    std::printf("coalescing: 100,000 submits over 10 keys -> %lld pending keys -> %lld flush(es), %lld coalesced\n",
                static_cast<long long>(pending), static_cast<long long>(s.successful_requests),
                static_cast<long long>(s.coalesced));
  }
  return 0;
}
