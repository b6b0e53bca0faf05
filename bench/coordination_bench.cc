// Coordination benchmark: real `projd run` workers with the default intervals on a
// private PostgreSQL (max_connections raised for 50 workers). Prints
//  * SIGTERM of one of 4 workers -> all its partitions processing again elsewhere,
//  * a new worker's start -> its first partition processing,
//  * kill -9 of one worker -> all its partitions processing again elsewhere,
//  * the database transactions and statements per second of 1, 10 and 50 idle workers on
//    one replica set (statements counted by pg_stat_statements), and their resident memory.
// "Processing" means: the partition's assignment names a live worker and that worker is
// the row's writer (a new owner stamps the row, with its id, right before it starts).
// Usage: projd_coordination_bench <path to projd> [idle worker counts, default 1,10,50]
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "bench/process_memory.h"
#include "devtools/embedded_postgres.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using projd::testing::ChildProcess;

namespace {

std::string g_projd;
std::string g_url;
std::string g_logs;

std::map<std::string, std::string> Env(const std::string& name) {
  return {{"DATABASE_URL", g_url}, {"REPLICA_SET", "bench"}, {"PARTITIONS", "64"},
          {"PROJECTIONS", "noop"}, {"WORKER_NAME", name},     {"LOG_LEVEL", "warn"},
          {"HTTP_ADDR", "127.0.0.1:0"}};
}

std::unique_ptr<ChildProcess> StartWorker(const std::string& name) {
  return std::make_unique<ChildProcess>(std::vector<std::string>{g_projd, "run"}, Env(name), g_logs + "/" + name + ".log");
}

// Partitions of worker `name` that are not yet processing under a live owner, or (with
// name empty) all such partitions.
int NotProcessing(pqxx::connection& c, const std::string& excluded_owner_name) {
  pqxx::read_transaction tx(c);
  return tx.exec_params1(
               "SELECT count(*) FROM projd_assignments a JOIN projd_replica_sets s ON s.name = a.replica_set"
               " LEFT JOIN projd_workers w ON w.worker_id = a.worker_id"
               " LEFT JOIN projd_checkpoints c ON c.replica_set = a.replica_set AND c.partition = a.partition"
               "  AND c.projection = 'noop'"
               " WHERE a.replica_set = 'bench' AND a.partition < s.partitions AND (w.worker_id IS NULL"
               "  OR w.worker_name = $1 OR c.writer IS DISTINCT FROM a.worker_id)",
               excluded_owner_name)[0]
      .as<int>();
}

bool Settled(pqxx::connection& c, int members) {
  pqxx::read_transaction tx(c);
  const auto r = tx.exec1(
      "SELECT count(*), coalesce(bool_and(acked_generation = (SELECT generation FROM projd_replica_sets"
      " WHERE name = 'bench')), false),"
      " (SELECT count(*) FROM projd_assignments a JOIN projd_workers w USING (worker_id)"
      "  JOIN projd_replica_sets s ON s.name = a.replica_set WHERE a.partition < s.partitions AND s.name = 'bench'),"
      " (SELECT partitions FROM projd_replica_sets WHERE name = 'bench')"
      " FROM projd_workers WHERE replica_set = 'bench'");
  tx.commit();
  // Every partition has a live owner, every member acknowledged, every owner stamped.
  return r[0].as<int>() == members && r[1].as<bool>() && !r[3].is_null() && r[2].as<int>() == r[3].as<int>() &&
         NotProcessing(c, "") == 0;
}

template <typename Fn>
double MillisUntil(Fn&& done, std::chrono::seconds bound) {
  const auto start = Clock::now();
  while (!done()) {
    if (Clock::now() - start > bound) return -1;
    std::this_thread::sleep_for(2ms);
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

bool WaitSettled(pqxx::connection& c, int members, std::chrono::seconds bound) {
  return MillisUntil([&] { return Settled(c, members); }, bound) >= 0;
}

std::int64_t Transactions(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  return tx.exec1("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")[0]
      .as<std::int64_t>();
}

// Statements since the last reset, by text, most frequent first (BEGIN/COMMIT included: they
// are round trips too). This benchmark's own reads of the statistics are left out.
std::vector<std::pair<std::string, std::int64_t>> Statements(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  std::vector<std::pair<std::string, std::int64_t>> out;
  const auto rows = tx.exec(
      "SELECT regexp_replace(query, '\\s+', ' ', 'g'), sum(calls)::bigint FROM pg_stat_statements"
      " WHERE query NOT LIKE '%pg_stat_%' GROUP BY 1 ORDER BY 2 DESC");
  for (const auto& r : rows) {
    out.emplace_back(r[0].as<std::string>(), r[1].as<std::int64_t>());
  }
  return out;
}

void ResetStatements(pqxx::connection& c) { pqxx::nontransaction(c).exec("SELECT pg_stat_statements_reset()"); }

std::vector<int> ParseCounts(const char* text) {
  std::vector<int> out;
  std::string s(text);
  std::size_t at = 0;
  while (at <= s.size()) {
    const auto comma = s.find(',', at);
    const auto part = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!part.empty()) out.push_back(std::stoi(part));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <path to projd> [idle workers]\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  g_projd = argv[1];
  const std::vector<int> idle_counts = ParseCounts(argc > 2 ? argv[2] : "1,10,50");
  projd::EmbeddedPostgres::Options options;
  options.settings["max_connections"] = "800";
  options.settings["shared_buffers"] = "128MB";
  options.settings["shared_preload_libraries"] = "pg_stat_statements";
  options.settings["pg_stat_statements.track"] = "all";
  projd::EmbeddedPostgres server(options);
  server.Start();
  g_url = server.Url();
  g_logs = server.base_dir();
  if (projd::testing::RunProcess({g_projd, "migrate"}, {{"DATABASE_URL", g_url}}).exit_code != 0 ||
      projd::testing::RunProcess({g_projd, "seed", "--events", "20000"}, {{"DATABASE_URL", g_url}}).exit_code != 0) {
    std::fprintf(stderr, "migrate/seed failed\n");
    return 1;
  }
  pqxx::connection conn(g_url);
  pqxx::nontransaction(conn).exec0("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  std::printf("defaults: HEARTBEAT_INTERVAL=5s STALE_WORKER_TIMEOUT=30s COORDINATION_TIMEOUT=60s, 64 partitions\n");

  std::map<std::string, std::unique_ptr<ChildProcess>> workers;
  for (const auto* n : {"w1", "w2", "w3", "w4"}) workers[n] = StartWorker(n);
  if (!WaitSettled(conn, 4, 60s)) {
    std::fprintf(stderr, "4 workers did not settle\n");
    return 1;
  }

  // SIGTERM, three rounds (the stopped worker is restarted under its name in between).
  for (int round = 1; round <= 3; ++round) {
    const std::string victim = "w" + std::to_string(1 + round % 4);
    if (NotProcessing(conn, victim) == 0) {
      std::fprintf(stderr, "%s owns nothing?\n", victim.c_str());
      return 1;
    }
    workers[victim]->Signal(SIGTERM);
    const double ms = MillisUntil([&] { return NotProcessing(conn, victim) == 0; }, 60s);
    workers[victim]->Wait(20s);
    std::printf("sigterm_handover_ms round=%d %.0f (goal < 1000)\n", round, ms);
    if (!WaitSettled(conn, 3, 60s)) return 1;
    // The name comes back: its start until its first partition is processing.
    const auto start = Clock::now();
    workers[victim] = StartWorker(victim);
    const double join_ms = MillisUntil(
        [&] {
          pqxx::read_transaction tx(conn);
          return tx.exec_params1("SELECT count(*) FROM projd_checkpoints c JOIN projd_workers w"
                                 " ON w.worker_id = c.writer WHERE w.worker_name = $1 AND c.replica_set = 'bench'",
                                 victim)[0]
                     .as<int>() > 0;
        },
        60s);
    (void)start;
    std::printf("join_first_partition_ms round=%d %.0f (goal < 2000)\n", round, join_ms);
    if (!WaitSettled(conn, 4, 60s)) return 1;
  }

  // kill -9: peers notice after STALE_WORKER_TIMEOUT.
  workers["w3"]->Signal(SIGKILL);
  const double kill_ms = MillisUntil([&] { return NotProcessing(conn, "w3") == 0; }, 120s);
  std::printf("kill9_handover_ms %.0f (goal <= 30000 + 2 x 5000 = 40000)\n", kill_ms);
  for (auto& [n, w] : workers) w->Signal(SIGTERM);
  for (auto& [n, w] : workers) w->Wait(30s);
  workers.clear();

  // Idle overhead: N workers on a caught-up stream, no new events.
  for (const int idle_workers : idle_counts) {
    for (int i = 0; i < idle_workers; ++i) {
      const auto name = "idle" + std::to_string(i);
      workers[name] = StartWorker(name);
    }
    if (!WaitSettled(conn, idle_workers, 180s)) {
      std::fprintf(stderr, "%d idle workers did not settle\n", idle_workers);
      return 1;
    }
    std::this_thread::sleep_for(6s);  // let start-up traffic pass (a measurement window, not a wait)
    const auto before = Transactions(conn);
    ResetStatements(conn);
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(30s);
    const auto after = Transactions(conn);
    const auto statements = Statements(conn);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double tps = (after - before) / secs;
    std::int64_t total = 0;
    for (const auto& [q, n] : statements) total += n;
    const double sps = total / secs;
    std::int64_t rss_sum = 0, rss_max = 0;
    for (auto& [n, w] : workers) {
      const auto kib = projd::bench::ResidentKiB(w->pid());
      rss_sum += kib;
      rss_max = std::max(rss_max, kib);
    }
    std::printf("idle_workers=%d database_transactions_per_s %.1f (%.2f per worker) statements_per_s %.1f"
                " (%.2f per worker) idle_rss_mib mean %.1f max %.1f\n",
                idle_workers, tps, tps / idle_workers, sps, sps / idle_workers,
                rss_sum / 1024.0 / idle_workers, rss_max / 1024.0);
    for (std::size_t i = 0; i < statements.size() && i < 8; ++i) {
      std::printf("  %7.2f/s per worker  %.90s\n", statements[i].second / secs / idle_workers,
                  statements[i].first.c_str());
    }
    for (auto& [n, w] : workers) w->Signal(SIGTERM);
    for (auto& [n, w] : workers) w->Wait(30s);
    workers.clear();
    const auto members = [&] {
      pqxx::read_transaction tx(conn);
      return tx.exec1("SELECT count(*) FROM projd_workers WHERE replica_set = 'bench'")[0].as<int>();
    };
    if (MillisUntil([&] { return members() == 0; }, 60s) < 0) {
      std::fprintf(stderr, "stopped workers did not leave\n");
      return 1;
    }
  }
  return 0;
}
