// Reader benchmark: the partitioned, gap-safe reader against a raw keyset scan of the
// same table, same batch size, same row conversion, same run.
//
//   projd-testpg -- projd_reader_bench [--events N] [--no-mallopt]
//
// Prints figures; asserts nothing.

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <pqxx/pqxx>

#include "bench/raw_scan.h"
#include "bench/seeded_stream.h"
#include "orchestrator/pg/pg_event_reader.h"
#include "orchestrator/pg/pg_event_store.h"

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

ReaderFigure Reader(const projd::pg::ConnectionOptions& db, int batch, int owned, std::int64_t hwm) {
  projd::pg::PgEventReader reader(db);
  projd::ReadRequest req;
  req.partition_count = 64;
  for (int p = 0; p < owned; ++p) req.after[p * (64 / owned)] = 0;
  req.high_water_mark = hwm;
  req.limit = batch;
  std::int64_t n = 0;
  const auto start = Clock::now();
  while (true) {
    const auto b = reader.ReadBatch(req);
    n += static_cast<std::int64_t>(b.events.size());
    for (auto& [p, a] : req.after) a = b.scanned_to;
    if (static_cast<int>(b.events.size()) < batch) break;
  }
  const double secs = Seconds(start);
  return {n / secs, secs, n};
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
  const auto all = Reader(db, 1000, 64, events);
  const auto quarter = Reader(db, 1000, 16, events);
  std::printf("16 of 64 partitions: %.2f s for %lld events; 64 of 64: %.2f s for %lld events; time ratio %.2f\n",
              quarter.seconds, static_cast<long long>(quarter.events), all.seconds,
              static_cast<long long>(all.events), quarter.seconds / all.seconds);
  return 0;
}
