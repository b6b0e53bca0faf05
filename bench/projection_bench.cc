// Projection benchmark: real `projd run` workers catching up on N seeded events (default
// 5,000,000), against the raw keyset scan and a minimal hand-written stream_stats loop
// measured in the same run; the workers' resident memory under catch-up and once caught up;
// then the append-to-visible latency of single events appended at 200/s while caught up.
// Run under projd-testpg:
//
//   projd-testpg -- projd_projection_bench <path to projd> [--events N] [--before <older projd>]
//                   [--headline]
//
// Every figure is printed with the settings of its workers. The headline rows run with the
// defaults (BATCH_SIZE where named); the tuned rows beside them are labelled with what they
// change. --before runs the headline rows a second time with an older projd binary, in the
// same run, against the same raw scan; --headline skips the multi-worker rows.
//
// Catch-up time runs from the first checkpoint row stamped (the first worker has joined) to
// every one of the 64 checkpoints at the last position (durable, as a restarted worker would
// find it). Prints figures only.

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

#include "bench/machine_cpu.h"
#include "bench/process_memory.h"
#include "bench/raw_scan.h"
#include "bench/seeded_stream.h"
#include "orchestrator/reading/pg/pg_event_store.h"
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

using Settings = std::map<std::string, std::string>;

// The settings a figure is labelled with: "defaults" or "BATCH_SIZE=1000 PERSISTENCE_INTERVAL=200ms".
std::string Describe(const Settings& settings) {
  if (settings.empty()) return "defaults";
  std::string out;
  for (const auto& [k, v] : settings) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

// A worker with the defaults, plus `settings`; only what a benchmark must set besides
// (its database, replica set, projections, name, quiet logs, any free HTTP port).
std::unique_ptr<ChildProcess> StartWorker(const std::string& binary, const std::string& replica_set,
                                          const std::string& projection, const Settings& settings,
                                          const std::string& name) {
  Settings env{{"DATABASE_URL", g_url}, {"DATABASE_SCHEMA", kSchema}, {"REPLICA_SET", replica_set},
               {"PROJECTIONS", projection}, {"WORKER_NAME", name}, {"LOG_LEVEL", "warn"},
               {"HTTP_ADDR", "127.0.0.1:0"}};
  for (const auto& [k, v] : settings) env[k] = v;
  return std::make_unique<ChildProcess>(std::vector<std::string>{binary, "run"}, env,
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
  double cpu_busy = 0;          // share of the machine's CPU time busy during the catch-up
};

// Starts `workers` workers on a fresh replica set and waits until every checkpoint of
// `projection` is at `last`. The workers keep running when `keep` is given.
CatchUp RunCatchUp(pqxx::connection& c, const std::string& binary, const std::string& replica_set,
                   const std::string& projection, const Settings& settings, int workers, std::int64_t last,
                   std::vector<std::unique_ptr<ChildProcess>>* keep = nullptr) {
  std::vector<std::unique_ptr<ChildProcess>> started;
  for (int i = 0; i < workers; ++i) {
    started.push_back(StartWorker(binary, replica_set, projection, settings, "w" + std::to_string(i)));
  }
  std::vector<pid_t> pids;
  for (const auto& w : started) pids.push_back(w->pid());
  projd::bench::PeakResident rss(pids);
  std::optional<Clock::time_point> first;
  projd::bench::CpuSample cpu_at_first;
  CatchUp out;
  const auto bound = Clock::now() + 20min;
  while (Clock::now() < bound) {
    rss.Sample();
    pqxx::read_transaction tx(c);
    // Two projections in one worker (PROJECTIONS=a,b): every checkpoint of both.
    const auto r = tx.exec_params1(
        "SELECT count(*), coalesce(min(position), 0) FROM projd_checkpoints"
        " WHERE replica_set = $1 AND projection = ANY(string_to_array($2, ','))",
        replica_set, projection);
    tx.commit();
    const auto now = Clock::now();
    if (!first && r[0].as<int>() > 0) {
      first = now;
      cpu_at_first = projd::bench::SampleCpu();
    }
    const int expected = 64 * static_cast<int>(std::count(projection.begin(), projection.end(), ',') + 1);
    if (r[0].as<int>() == expected && r[1].as<std::int64_t>() >= last) {
      out.seconds = Seconds(*first, now);
      out.cpu_busy = projd::bench::BusyShare(cpu_at_first, projd::bench::SampleCpu());
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

struct Run {
  std::string projection;
  Settings settings;
  int workers;
  double compare_to;
  const char* against;
  bool headline;  // defaults (plus BATCH_SIZE): also run with --before
};

void PrintRun(const std::string& who, const Run& r, const CatchUp& c, double raw1000) {
  char label[160];
  std::snprintf(label, sizeof label, "%s %s, %s, %d worker%s", who.c_str(), r.projection.c_str(),
                Describe(r.settings).c_str(), r.workers, r.workers > 1 ? "s" : "");
  if (c.seconds < 0) {
    std::printf("%-72s did not catch up within 20 min\n", label);
    return;
  }
  char vs_raw[48] = "";
  if (r.compare_to != raw1000) std::snprintf(vs_raw, sizeof vs_raw, ", %.2fx raw scan 1000", c.rate / raw1000);
  std::printf("%-72s %10.0f  (%.1f s; %.2fx %s%s; peak RSS %.0f MiB, %.0f MiB in all; CPU %.0f%% busy)\n", label,
              c.rate, c.seconds, c.rate / r.compare_to, r.against, vs_raw, c.peak_rss_max_mib, c.peak_rss_sum_mib,
              100.0 * c.cpu_busy);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: projd_projection_bench <path to projd> [--events N] [--before <older projd>] [--headline]\n");
    return 2;
  }
  g_projd = argv[1];
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  std::int64_t events = 5'000'000;
  std::string before;
  bool headline_only = false;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--events") && i + 1 < argc) events = std::stoll(argv[++i]);
    if (!std::strcmp(argv[i], "--before") && i + 1 < argc) before = argv[++i];
    if (!std::strcmp(argv[i], "--headline")) headline_only = true;
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
  std::printf("%lld events over 10,000 aggregates, 64 partitions (the default), one worker unless noted;\n"
              "every other setting at its default unless named\n\n",
              static_cast<long long>(last));
  projd::bench::RawScan(db, 1000, 200'000);  // warm the cache
  const double raw100 = projd::bench::RawScan(db, 100, last);
  const double raw1000 = projd::bench::RawScan(db, 1000, last);
  const double baseline = Baseline(db, last);
  std::printf("%-72s %10s\n", "", "events/s");
  std::printf("%-72s %10.0f\n", "raw keyset scan, batch 100", raw100);
  std::printf("%-72s %10.0f\n", "raw keyset scan, batch 1000", raw1000);
  std::printf("%-72s %10.0f\n", "hand-written stream_stats loop, batch 1000, one connection", baseline);

  // The workers create stream_stats (the projection's Setup); empty it before each run.
  auto truncate = [&] {
    pqxx::work tx(*conn);
    for (const char* table : {"stream_stats", "stream_catalog"}) {
      if (!tx.exec_params1("SELECT to_regclass($1)", table)[0].is_null()) tx.exec0(std::string("TRUNCATE ") + table);
    }
    tx.commit();
  };
  const Settings b1000{{"BATCH_SIZE", "1000"}};
  const Settings tuned{{"BATCH_SIZE", "1000"}, {"PERSISTENCE_INTERVAL", "200ms"}};
  // Headline (defaults), tuned beside it, then stream_stats with 4, 2 and 1 workers: the
  // one-worker fleet stays up for the latency run.
  std::vector<Run> runs{{"noop", {}, 1, raw100, "raw scan 100", true},
                        {"noop", b1000, 1, raw1000, "raw scan 1000", true},
                        {"noop", tuned, 1, raw1000, "raw scan 1000", true}};
  if (!headline_only) {
    runs.push_back({"stream_stats", b1000, 4, baseline, "hand loop", false});
    runs.push_back({"stream_stats", b1000, 2, baseline, "hand loop", false});
  }
  // Two transactional projections in one worker, each on its own unit lane: each alone, then
  // both (the rate is the pair's: every checkpoint of both at the end).
  // (Not run with --before: older binaries lack stream_catalog.)
  runs.push_back({"stream_catalog", b1000, 1, baseline, "hand loop", false});
  runs.push_back({"stream_stats,stream_catalog", b1000, 1, baseline, "hand loop", false});
  runs.push_back({"stream_stats", b1000, 1, baseline, "hand loop", true});
  std::vector<std::unique_ptr<ChildProcess>> running;
  int n = 0;
  struct Measured {
    std::string who;
    Run run;
    CatchUp catch_up;
  };
  std::vector<Measured> measured;
  auto run_all = [&](const std::string& binary, const std::string& who, bool headline_rows_only) {
    for (const auto& r : runs) {
      const bool last_run = &r == &runs.back();
      if (headline_rows_only && !r.headline) continue;
      if (r.projection.find("stream_") != std::string::npos) truncate();
      const auto rs = "catchup-" + std::to_string(++n);
      const bool keep = last_run && !headline_rows_only;
      const auto c = RunCatchUp(*conn, binary, rs, r.projection, r.settings, r.workers, last, keep ? &running : nullptr);
      PrintRun(who, r, c, raw1000);
      measured.push_back({who, r, c});
    }
  };
  if (!before.empty()) {
    std::printf("\nbefore (%s):\n", before.c_str());
    run_all(before, "before", true);
    std::printf("\nafter (%s):\n", g_projd.c_str());
  }
  run_all(g_projd, "projd", false);
  // A shared machine can slow the first raw scans: scan again at the end and state every
  // ratio once more against the faster of the two (the stricter reference).
  const double raw100_end = projd::bench::RawScan(db, 100, last);
  const double raw1000_end = projd::bench::RawScan(db, 1000, last);
  const double best100 = std::max(raw100, raw100_end), best1000 = std::max(raw1000, raw1000_end);
  std::printf("\nraw keyset scan again at the end: batch 100 %.0f, batch 1000 %.0f events/s\n"
              "every row against the faster raw scan of start and end (100: %.0f, 1000: %.0f):\n",
              raw100_end, raw1000_end, best100, best1000);
  for (const auto& m : measured) {
    if (m.catch_up.seconds < 0) continue;
    const bool vs_hand = m.run.compare_to == baseline;
    const double reference = vs_hand ? baseline : (m.run.compare_to == raw100 ? best100 : best1000);
    std::printf("  %-8s %-28s %-44s %d worker%s %.2fx %s\n", m.who.c_str(), m.run.projection.c_str(),
                Describe(m.run.settings).c_str(), m.run.workers, m.run.workers > 1 ? "s" : " ",
                m.catch_up.rate / reference,
                vs_hand ? "hand loop" : (m.run.compare_to == raw100 ? "raw scan 100" : "raw scan 1000"));
  }
  if (!running.empty()) {
    std::printf("\nresident memory of the caught-up stream_stats worker: %.0f MiB\n",
                projd::bench::ResidentKiB(running.front()->pid()) / 1024.0);
  }
  const auto lat = AppendToVisible(db, 200, 10s);
  std::printf("\nappend-to-visible in stream_stats, 200 events/s for 10 s, caught up (BATCH_SIZE=1000):\n"
              "  p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu events, %zu never seen)\n",
              lat.p50, lat.p99, lat.max, lat.samples, lat.unseen);
  StopWorkers(running);
  return 0;
}
