// Reader benchmark: the partitioned, gap-safe reader against a raw keyset scan of the
// same table, same batch size, same row conversion, same run.
//
//   projd-testpg -- projd_reader_bench [--events N] [--no-mallopt]
//
// Prints figures; asserts nothing.

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include <pqxx/pqxx>

#include "bench/raw_scan.h"
#include "bench/seeded_stream.h"
#include "orchestrator/common/clock.h"
#include "orchestrator/reading/high_water_mark_follower.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "orchestrator/reading/pg/pg_event_store.h"
#include "orchestrator/reading/pg/pg_position_source.h"

namespace {

using projd::bench::RawScan;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// The reader over `owned` of 64 partitions; returns {events/s, seconds, events}.
struct ReaderFigure {
  double rate;
  double seconds;
  std::int64_t events;
};

// Reads every owned event; `mark` gives the high-water mark before each batch.
ReaderFigure ReadAll(const projd::pg::ConnectionOptions& db, int batch, int owned,
                     const std::function<std::int64_t()>& mark) {
  projd::pg::PgEventReader reader(db);
  projd::ReadRequest req;
  req.partition_count = 64;
  for (int p = 0; p < owned; ++p) req.after[p * (64 / owned)] = 0;
  req.limit = batch;
  std::int64_t n = 0;
  const auto start = Clock::now();
  while (true) {
    req.high_water_mark = mark();
    const auto b = reader.ReadBatch(req);
    n += static_cast<std::int64_t>(b.events.size());
    for (auto& [p, a] : req.after) a = b.scanned_to;
    if (static_cast<int>(b.events.size()) < batch) break;
  }
  const double secs = Seconds(start);
  return {n / secs, secs, n};
}

ReaderFigure Reader(const projd::pg::ConnectionOptions& db, int batch, int owned, std::int64_t hwm) {
  return ReadAll(db, batch, owned, [hwm] { return hwm; });
}

// The read path as a follower uses it: the high-water mark advanced before every batch
// (one observation statement each), then the batch up to it. Every partition.
ReaderFigure FollowingReader(const projd::pg::ConnectionOptions& db, int batch) {
  projd::SystemClock clock;
  projd::pg::PgPositionSource source(db);
  projd::HighWaterMarkFollower follower(source, clock, std::chrono::milliseconds(2000));
  return ReadAll(db, batch, 64, [&] {
    if (!follower.Advance()) std::fprintf(stderr, "follower: %s\n", follower.last_error().c_str());
    return follower.mark();
  });
}

// How long a follower takes to reach the end of the stream from position 0 (any stored
// proven mark is forgotten first).
double FollowerCatchUp(const projd::pg::ConnectionOptions& db) {
  {
    auto conn = projd::pg::Connect(db);
    pqxx::nontransaction(*conn).exec0(
        "DO $$ BEGIN IF to_regclass('projd_proven_marks') IS NOT NULL THEN DELETE FROM projd_proven_marks;"
        " END IF; END $$");
  }
  projd::SystemClock clock;
  projd::pg::PgPositionSource source(db);
  projd::HighWaterMarkFollower follower(source, clock, std::chrono::milliseconds(2000));
  const auto start = Clock::now();
  if (!follower.Advance()) std::fprintf(stderr, "follower: %s\n", follower.last_error().c_str());
  return Seconds(start);
}

// The cost of one observation round at the top of the stream (nothing new): what every
// wake-up of a caught-up worker pays. Microseconds per Advance(), over `rounds`.
double AdvanceAtTop(const projd::pg::ConnectionOptions& db, int rounds) {
  projd::SystemClock clock;
  projd::pg::PgPositionSource source(db);
  projd::HighWaterMarkFollower follower(source, clock, std::chrono::milliseconds(2000));
  follower.Advance();
  const auto start = Clock::now();
  for (int i = 0; i < rounds; ++i) follower.Advance();
  return Seconds(start) * 1e6 / rounds;
}

// `gaps` rolled-back positions among committed ones in a schema of their own; the seconds
// a follower with GAP_GRACE 0 takes to prove them all and reach the top.
double ProveGaps(const std::string& url, int gaps) {
  const projd::pg::ConnectionOptions db{url, "bench_gaps", "projd-bench"};
  projd::bench::PrepareSeededStream(db, 0);
  auto conn = projd::pg::Connect(db);
  pqxx::connection& c = *conn;
  pqxx::nontransaction(c).exec0("TRUNCATE events RESTART IDENTITY");
  for (int i = 0; i < gaps; ++i) {
    const std::string insert =
        "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
        " VALUES ('b', 't', 'g" + std::to_string(i) + "', 1, 'E')";
    pqxx::work rolled_back(c);
    rolled_back.exec0(insert);
    rolled_back.abort();
    pqxx::work kept(c);
    kept.exec0(insert);
    kept.commit();
  }
  projd::SystemClock clock;
  projd::pg::PgPositionSource source(db);
  projd::HighWaterMarkFollower follower(source, clock, std::chrono::milliseconds(0));
  const auto start = Clock::now();
  while (follower.mark() < 2 * gaps) follower.Advance();
  return Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t events = 1'000'000;
  bool tune_malloc = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--events") && i + 1 < argc) events = std::stoll(argv[++i]);
    if (!std::strcmp(argv[i], "--no-mallopt")) tune_malloc = false;
  }
  if (tune_malloc) projd::bench::TuneMalloc();
  const char* url = std::getenv("DATABASE_URL");
  if (!url) {
    std::fprintf(stderr, "DATABASE_URL is not set (run under projd-testpg)\n");
    return 2;
  }
  const projd::pg::ConnectionOptions db{url, "bench_reader", "projd-bench"};
  projd::bench::PrepareSeededStream(db, events);
  std::printf("malloc tuning: %s\n", tune_malloc ? "on (M_TRIM_THRESHOLD 256MiB, M_MMAP_THRESHOLD 64MiB)" : "off");
  RawScan(db, 1000, 200'000);  // warm the cache
  std::printf("%-8s %14s %14s %7s\n", "batch", "raw events/s", "reader ev/s", "ratio");
  for (int batch : {100, 1000, 10000}) {
    const double raw = RawScan(db, batch, events);
    const auto reader = Reader(db, batch, 64, events);
    std::printf("%-8d %14.0f %14.0f %7.2f\n", batch, raw, reader.rate, reader.rate / raw);
  }
  std::printf("%-8s %14s %14s %7s   (H advanced before every batch)\n", "batch", "raw events/s", "following ev/s",
              "ratio");
  for (int batch : {100, 1000}) {
    const double raw = RawScan(db, batch, events);
    const auto following = FollowingReader(db, batch);
    std::printf("%-8d %14.0f %14.0f %7.2f\n", batch, raw, following.rate, following.rate / raw);
  }
  std::printf("a fresh follower from 0 to %lld: %.3f s\n", static_cast<long long>(events), FollowerCatchUp(db));
  std::printf("one observation round at the top: %.0f us (mean of 2000)\n", AdvanceAtTop(db, 2000));
  std::printf("proving 1000 rolled-back positions (GAP_GRACE 0): %.3f s\n", ProveGaps(url, 1000));
  const auto all = Reader(db, 1000, 64, events);
  const auto quarter = Reader(db, 1000, 16, events);
  std::printf("16 of 64 partitions: %.2f s for %lld events; 64 of 64: %.2f s for %lld events; time ratio %.2f\n",
              quarter.seconds, static_cast<long long>(quarter.events), all.seconds,
              static_cast<long long>(all.events), quarter.seconds / all.seconds);
  return 0;
}
