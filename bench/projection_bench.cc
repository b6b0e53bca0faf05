// Projection benchmark: real `projd run` workers catching up on N seeded events (default
// 5,000,000), against the raw keyset scan and a minimal hand-written stream_stats loop
// measured in the same run; stream_stats catch-up with 1, 2 and 4 workers; the workers'
// resident memory under catch-up and once caught up; then the append-to-visible latency of
// single events appended at 200/s while caught up. Run under projd-testpg:
//
//   projd-testpg -- projd_projection_bench <path to projd> [--events N]
//
// Catch-up time runs from the first checkpoint row stamped (the first worker has joined) to
// every one of the 64 checkpoints at the last position; the async `noop` checkpoints become
// durable every PERSISTENCE_INTERVAL (200 ms here), which the figure includes. Prints figures only.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <pqxx/pqxx>

#include "bench/process_memory.h"
#include "bench/raw_scan.h"
#include "bench/seeded_stream.h"
#include "orchestrator/pg/pg_event_store.h"
#include "orchestrator/pg/sql_array.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using projd::testing::ChildProcess;

namespace {

constexpr const char* kSchema = "bench_projection";
std::string g_projd;
std::string g_url;
std::string g_logs;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::unique_ptr<ChildProcess> StartWorker(const std::string& replica_set, const std::string& projection, int batch,
                                          const std::string& name) {
  const std::map<std::string, std::string> env{
      {"DATABASE_URL", g_url},          {"DATABASE_SCHEMA", kSchema},        {"REPLICA_SET", replica_set},
      {"PROJECTIONS", projection},      {"BATCH_SIZE", std::to_string(batch)}, {"PARTITIONS", "64"},
      {"PERSISTENCE_INTERVAL", "200ms"}, {"WORKER_NAME", name},              {"LOG_LEVEL", "warn"},
      {"HTTP_ADDR", "127.0.0.1:0"}};
  return std::make_unique<ChildProcess>(std::vector<std::string>{g_projd, "run"}, env,
                                        g_logs + "/" + replica_set + "-" + name + ".log");
}

void StopWorkers(std::vector<std::unique_ptr<ChildProcess>>& workers) {
  for (auto& w : workers) w->Signal(SIGTERM);
  for (auto& w : workers) w->Wait(30s);
  workers.clear();
}

// The minimal hand-written baseline: one connection; read 1000 events, upsert the
// per-aggregate counts, write one checkpoint, commit; repeat. Returns events/s.
double Baseline(const projd::pg::ConnectionOptions& db, std::int64_t total) {
  auto conn = projd::pg::Connect(db);
  {
    pqxx::work tx(*conn);
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS baseline_stats (bounded_context TEXT NOT NULL, aggregate_type TEXT NOT NULL,"
        " aggregate_id TEXT NOT NULL, event_count BIGINT NOT NULL, last_version BIGINT NOT NULL,"
        " version_sum BIGINT NOT NULL, last_position BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
        " PRIMARY KEY (bounded_context, aggregate_type, aggregate_id))");
    tx.exec0("CREATE TABLE IF NOT EXISTS baseline_checkpoint (id INT PRIMARY KEY, position BIGINT NOT NULL)");
    tx.exec0("TRUNCATE baseline_stats, baseline_checkpoint");
    tx.commit();
  }
  const std::string read_sql = std::string("SELECT ") + projd::pg::kEventColumns +
                               " FROM events WHERE global_position > $1 ORDER BY global_position LIMIT 1000";
  std::int64_t after = 0, n = 0;
  const auto start = Clock::now();
  while (n < total) {
    pqxx::work tx(*conn);
    const auto rows = tx.exec_params(read_sql, after);
    if (rows.empty()) break;
    std::map<std::tuple<std::string, std::string, std::string>, std::array<std::int64_t, 4>> agg;
    for (const auto& r : rows) {
      const auto e = projd::pg::EventFromRow(r);
      auto& s = agg[{e.bounded_context, e.aggregate_type, e.aggregate_id}];
      s[0] += 1;
      s[1] = std::max(s[1], e.aggregate_version);
      s[2] += e.aggregate_version;
      s[3] = std::max(s[3], e.global_position);
      after = e.global_position;
      ++n;
    }
    std::vector<std::string> contexts, types, ids;
    std::vector<std::int64_t> counts, versions, sums, positions;
    for (const auto& [k, s] : agg) {
      contexts.push_back(std::get<0>(k));
      types.push_back(std::get<1>(k));
      ids.push_back(std::get<2>(k));
      counts.push_back(s[0]);
      versions.push_back(s[1]);
      sums.push_back(s[2]);
      positions.push_back(s[3]);
    }
    tx.exec_params0(
        "INSERT INTO baseline_stats AS s (bounded_context, aggregate_type, aggregate_id, event_count, last_version,"
        " version_sum, last_position) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],"
        " $5::bigint[], $6::bigint[], $7::bigint[]) ON CONFLICT (bounded_context, aggregate_type, aggregate_id)"
        " DO UPDATE SET event_count = s.event_count + EXCLUDED.event_count,"
        " last_version = GREATEST(s.last_version, EXCLUDED.last_version), version_sum = s.version_sum + EXCLUDED.version_sum,"
        " last_position = GREATEST(s.last_position, EXCLUDED.last_position), updated_at = now()",
        projd::pg::TextArray(contexts), projd::pg::TextArray(types), projd::pg::TextArray(ids),
        projd::pg::IntArray(counts), projd::pg::IntArray(versions), projd::pg::IntArray(sums),
        projd::pg::IntArray(positions));
    tx.exec_params0("INSERT INTO baseline_checkpoint VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET position = $1",
                    after);
    tx.commit();
  }
  return n / Seconds(start, Clock::now());
}

struct CatchUp {
  double seconds = -1;
  double rate = 0;
  double peak_rss_max_mib = 0;  // the largest worker's peak resident memory during the run
  double peak_rss_sum_mib = 0;  // all workers' peaks added up
};

// Starts `workers` workers on a fresh replica set and waits until every checkpoint of
// `projection` is at `last`. The workers keep running when `keep` is given.
CatchUp RunCatchUp(pqxx::connection& c, const std::string& replica_set, const std::string& projection, int batch,
                   int workers, std::int64_t last, std::vector<std::unique_ptr<ChildProcess>>* keep = nullptr) {
  std::vector<std::unique_ptr<ChildProcess>> started;
  for (int i = 0; i < workers; ++i) started.push_back(StartWorker(replica_set, projection, batch, "w" + std::to_string(i)));
  std::vector<pid_t> pids;
  for (const auto& w : started) pids.push_back(w->pid());
  projd::bench::PeakResident rss(pids);
  std::optional<Clock::time_point> first;
  CatchUp out;
  const auto bound = Clock::now() + 20min;
  while (Clock::now() < bound) {
    rss.Sample();
    pqxx::read_transaction tx(c);
    const auto r = tx.exec_params1(
        "SELECT count(*), coalesce(min(position), 0) FROM projd_checkpoints WHERE replica_set = $1 AND projection = $2",
        replica_set, projection);
    tx.commit();
    const auto now = Clock::now();
    if (!first && r[0].as<int>() > 0) first = now;
    if (r[0].as<int>() == 64 && r[1].as<std::int64_t>() >= last) {
      out.seconds = Seconds(*first, now);
      out.rate = static_cast<double>(last) / out.seconds;
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  out.peak_rss_max_mib = rss.MaxMiB();
  out.peak_rss_sum_mib = rss.SumMiB();
  if (keep) {
    *keep = std::move(started);
  } else {
    StopWorkers(started);
  }
  return out;
}

struct Latency {
  double p50 = 0, p99 = 0, max = 0;
  std::size_t samples = 0, unseen = 0;
};

// Appends single events at `rate`/s for `duration` while a worker runs stream_stats; an
// observer polls the read model every millisecond. Latency: append call start -> first
// observation of the event's position in stream_stats.
Latency AppendToVisible(const projd::pg::ConnectionOptions& db, int rate, std::chrono::seconds duration) {
  struct Sample {
    std::int64_t position;
    Clock::time_point appended;
    std::optional<Clock::time_point> seen;
  };
  std::mutex mu;
  std::vector<Sample> samples;
  std::atomic<bool> done{false};
  std::thread observer([&] {
    auto conn = projd::pg::Connect(db);
    std::size_t next = 0;
    while (true) {
      pqxx::read_transaction tx(*conn);
      const auto max = tx.exec1(
          "SELECT coalesce(max(last_position), 0) FROM stream_stats"
          " WHERE bounded_context = 'bench' AND aggregate_type = 'latency'")[0].as<std::int64_t>();
      tx.commit();
      const auto now = Clock::now();
      {
        std::lock_guard lock(mu);
        while (next < samples.size() && samples[next].position <= max) samples[next++].seen = now;
        if (done && next == samples.size()) break;
      }
      if (done && Clock::now() - samples.back().appended > 30s) break;
      std::this_thread::sleep_for(1ms);
    }
  });
  projd::pg::PgEventStore store(db);
  const auto period = std::chrono::nanoseconds(1'000'000'000 / rate);
  const auto start = Clock::now();
  for (int i = 0; Clock::now() - start < duration; ++i) {
    std::this_thread::sleep_until(start + i * period);
    const projd::NewEvent e{"Pinged", "{}"};
    const auto t = Clock::now();
    const auto r = store.Append({"bench", "latency", "lat-" + std::to_string(i % 100)}, projd::ExpectedVersion::Any(),
                                std::span<const projd::NewEvent>(&e, 1));
    std::lock_guard lock(mu);
    samples.push_back({r.positions.at(0), t, std::nullopt});
  }
  done = true;
  observer.join();
  std::vector<double> ms;
  Latency out;
  for (const auto& s : samples) {
    if (s.seen) {
      ms.push_back(std::chrono::duration<double, std::milli>(*s.seen - s.appended).count());
    } else {
      ++out.unseen;
    }
  }
  std::sort(ms.begin(), ms.end());
  out.samples = ms.size();
  if (!ms.empty()) {
    out.p50 = ms[ms.size() / 2];
    out.p99 = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
    out.max = ms.back();
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: projd_projection_bench <path to projd> [--events N]\n");
    return 2;
  }
  g_projd = argv[1];
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  std::int64_t events = 5'000'000;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--events") && i + 1 < argc) events = std::stoll(argv[++i]);
  }
  const char* url = std::getenv("DATABASE_URL");
  if (!url) {
    std::fprintf(stderr, "DATABASE_URL is not set (run under projd-testpg)\n");
    return 2;
  }
  g_url = url;
  char dir[] = "/tmp/projd-projection-bench-XXXXXX";
  g_logs = mkdtemp(dir);
  projd::bench::TuneMalloc();  // as in the reader benchmark

  const projd::pg::ConnectionOptions db{g_url, kSchema, "projd-bench"};
  const std::int64_t last = projd::bench::PrepareSeededStream(db, events);
  auto conn = projd::pg::Connect(db);
  std::printf("%lld events over 10,000 aggregates, 64 partitions, one worker unless noted\n\n",
              static_cast<long long>(last));
  projd::bench::RawScan(db, 1000, 200'000);  // warm the cache
  const double raw100 = projd::bench::RawScan(db, 100, last);
  const double raw1000 = projd::bench::RawScan(db, 1000, last);
  const double baseline = Baseline(db, last);
  std::printf("%-44s %12s\n", "", "events/s");
  std::printf("%-44s %12.0f\n", "raw keyset scan, batch 100", raw100);
  std::printf("%-44s %12.0f\n", "raw keyset scan, batch 1000", raw1000);
  std::printf("%-44s %12.0f\n", "hand-written stream_stats baseline, 1000", baseline);

  // The workers create stream_stats (the projection's Setup); empty it before each run.
  auto truncate = [&] {
    pqxx::work tx(*conn);
    if (!tx.exec1("SELECT to_regclass('stream_stats')")[0].is_null()) tx.exec0("TRUNCATE stream_stats");
    tx.commit();
  };
  struct Run {
    std::string projection;
    int batch;
    int workers;
    double compare_to;
    const char* against;
  };
  // stream_stats with 4, 2, then 1 worker: the one-worker fleet stays up for the latency run.
  const std::vector<Run> runs{{"noop", 100, 1, raw100, "raw scan 100"},
                              {"noop", 1000, 1, raw1000, "raw scan 1000"},
                              {"stream_stats", 1000, 4, baseline, "baseline"},
                              {"stream_stats", 1000, 2, baseline, "baseline"},
                              {"stream_stats", 1000, 1, baseline, "baseline"}};
  std::vector<std::unique_ptr<ChildProcess>> running;
  int n = 0;
  for (const auto& r : runs) {
    if (r.projection == "stream_stats") truncate();
    const bool last_run = &r == &runs.back();
    const auto rs = "catchup-" + std::to_string(++n);
    const auto c = RunCatchUp(*conn, rs, r.projection, r.batch, r.workers, last, last_run ? &running : nullptr);
    char label[128];
    std::snprintf(label, sizeof label, "projd %s, BATCH_SIZE %d, %d worker%s", r.projection.c_str(), r.batch,
                  r.workers, r.workers > 1 ? "s" : "");
    if (c.seconds < 0) {
      std::printf("%-44s did not catch up within 20 min\n", label);
      continue;
    }
    char vs_raw[48] = "";
    if (r.compare_to != raw1000) std::snprintf(vs_raw, sizeof vs_raw, ", %.2fx raw scan 1000", c.rate / raw1000);
    std::printf("%-44s %12.0f  (%.1f s; %.2fx %s%s; peak RSS %.0f MiB, %.0f MiB in all)\n", label, c.rate,
                c.seconds, c.rate / r.compare_to, r.against, vs_raw, c.peak_rss_max_mib, c.peak_rss_sum_mib);
  }
  if (!running.empty()) {
    std::printf("\nresident memory of the caught-up stream_stats worker: %.0f MiB\n",
                projd::bench::ResidentKiB(running.front()->pid()) / 1024.0);
  }
  const auto lat = AppendToVisible(db, 200, 10s);
  std::printf("\nappend-to-visible in stream_stats, 200 events/s for 10 s, caught up (BATCH_SIZE 1000):\n"
              "  p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu events, %zu never seen)\n",
              lat.p50, lat.p99, lat.max, lat.samples, lat.unseen);
  StopWorkers(running);
  return 0;
}
