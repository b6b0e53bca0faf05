// PartitionMerge: the per-partition read's client side returns exactly what one statement
// over all owned partitions would, batch after batch, while keeping rows between batches
// and reading each partition a chunk at a time.
#include <catch2/catch.hpp>

#include <random>

#include "orchestrator/reading/partition_merge.h"

using projd::EventWithPartition;
using projd::FillRequest;
using projd::PartitionMerge;
using projd::ReadRequest;

namespace {

constexpr int kPartitions = 16;

struct Store {
  std::vector<EventWithPartition> rows;  // position order
  int fills = 0;
  std::size_t largest_fill = 0;

  explicit Store(int events, unsigned seed) {
    std::mt19937 rng(seed);
    std::int64_t position = 0;
    for (int i = 0; i < events; ++i) {
      position += 1 + static_cast<std::int64_t>(rng() % 3);  // gaps, as rolled-back positions leave
      EventWithPartition e;
      e.event.global_position = position;
      e.event.aggregate_type = rng() % 3 == 0 ? "A" : "B";
      e.partition = static_cast<int>(rng() % kPartitions);
      rows.push_back(e);
    }
  }

  bool InScope(const EventWithPartition& e, const projd::ReadScope& scope) const {
    const auto& types = scope.aggregate_types;
    return types.empty() || std::find(types.begin(), types.end(), e.event.aggregate_type) != types.end();
  }

  // What the SQL fill returns: per partition its first `limit` rows in (after, mark].
  std::vector<EventWithPartition> Fill(const FillRequest& f) {
    ++fills;
    std::vector<EventWithPartition> out;
    for (const auto& [p, after] : f.after) {
      int n = 0;
      for (const auto& e : rows) {
        if (n == f.limit || e.event.global_position > f.high_water_mark) break;
        if (e.partition != p || e.event.global_position <= after || !InScope(e, f.scope)) continue;
        out.push_back(e);
        ++n;
      }
    }
    largest_fill = std::max(largest_fill, out.size());
    return out;
  }

  // What one statement over all owned partitions returns.
  std::vector<std::int64_t> Expected(const ReadRequest& r) const {
    std::vector<std::int64_t> out;
    for (const auto& e : rows) {
      if (static_cast<int>(out.size()) == r.limit || e.event.global_position > r.high_water_mark) break;
      const auto it = r.after.find(e.partition);
      if (it == r.after.end() || e.event.global_position <= it->second || !InScope(e, r.scope)) continue;
      out.push_back(e.event.global_position);
    }
    return out;
  }
};

std::vector<std::int64_t> Positions(const projd::ReadResult& r) {
  std::vector<std::int64_t> out;
  for (const auto& e : r.events) out.push_back(e.event.global_position);
  return out;
}

// Checks one batch against the truth and returns it.
projd::ReadResult CheckedRead(PartitionMerge& merge, Store& store, const ReadRequest& req, int chunk) {
  const auto got = merge.Read(req, chunk, [&](const FillRequest& f) { return store.Fill(f); });
  const auto expected = store.Expected(req);
  REQUIRE(Positions(got) == expected);
  const bool full = static_cast<int>(expected.size()) == req.limit;
  REQUIRE(got.scanned_to == (full ? expected.back() : req.high_water_mark));
  return got;
}

// Advances every position the way the runner does after a batch: to scanned_to.
void Advance(ReadRequest& req, const projd::ReadResult& got) {
  for (auto& [p, after] : req.after) after = std::max(after, got.scanned_to);
}

}  // namespace

TEST_CASE("a catch-up through the merge returns every owned row once, in order, with few fills",
          "[reader][merge][unit]") {
  Store store(20000, 1);
  PartitionMerge merge;
  ReadRequest req;
  req.partition_count = kPartitions;
  for (const int p : {1, 4, 9, 13}) req.after[p] = 0;
  req.high_water_mark = store.rows.back().event.global_position;
  req.limit = 100;
  const auto total = store.Expected(ReadRequest{kPartitions, req.after, req.high_water_mark, 1 << 30, {}}).size();
  std::size_t returned = 0;
  for (int batch = 0; batch < 1000; ++batch) {
    const auto got = CheckedRead(merge, store, req, 100);
    returned += got.events.size();
    Advance(req, got);
    if (got.scanned_to == req.high_water_mark) break;
  }
  CHECK(returned == total);
  INFO("fills " << store.fills);
  // About one statement per chunk of every partition: far fewer than one per batch.
  const auto batches = returned / 100;
  CHECK(store.fills * 2 < static_cast<int>(batches));
  CHECK(store.largest_fill <= 4 * 100);
}

TEST_CASE("random requests (rewinds, new partitions, lower and higher marks, scopes) read what one statement reads",
          "[reader][merge][unit]") {
  Store store(3000, 2);
  PartitionMerge merge;
  std::mt19937 rng(3);
  ReadRequest req;
  req.partition_count = kPartitions;
  req.after = {{0, 0}, {5, 0}};
  req.high_water_mark = store.rows[1000].event.global_position;
  req.limit = 10;
  for (int round = 0; round < 3000; ++round) {
    INFO("round " << round);
    const auto got = CheckedRead(merge, store, req, 1 + static_cast<int>(rng() % 40));
    Advance(req, got);
    switch (rng() % 10) {
      case 0: req.after[static_cast<int>(rng() % kPartitions)] = rng() % 4000; break;  // taken, or rewound
      case 1: req.after.erase(req.after.begin()); break;                          // handed over
      case 2: req.high_water_mark += rng() % 300; break;                          // the mark moves on
      case 3: req.high_water_mark -= rng() % 50; break;                           // an older mark
      case 4: req.scope.aggregate_types = rng() % 2 ? std::vector<std::string>{"A"} : std::vector<std::string>{}; break;
      case 5: req.limit = 1 + static_cast<int>(rng() % 200); break;
      case 6: for (auto& [p, after] : req.after) after = rng() % 2000; break;     // a unit failed: back
      default: break;
    }
    if (req.after.empty()) req.after[static_cast<int>(rng() % kPartitions)] = 0;
  }
}

TEST_CASE("a failed fill leaves the merge as it was: the next read returns the same batch", "[reader][merge][unit]") {
  Store store(2000, 4);
  PartitionMerge merge;
  ReadRequest req;
  req.partition_count = kPartitions;
  req.after = {{2, 0}, {3, 0}, {7, 0}};
  req.high_water_mark = store.rows.back().event.global_position;
  req.limit = 50;
  Advance(req, CheckedRead(merge, store, req, 20));
  int calls = 0;
  const auto failing = [&](const FillRequest& f) -> std::vector<EventWithPartition> {
    if (++calls == 1) throw std::runtime_error("connection lost");
    return store.Fill(f);
  };
  CHECK_THROWS(merge.Read(req, 20, failing));
  const auto got = merge.Read(req, 20, failing);
  CHECK(Positions(got) == store.Expected(req));
}

TEST_CASE("a batch served from kept rows issues no statement", "[reader][merge][unit]") {
  Store store(5000, 5);
  PartitionMerge merge;
  ReadRequest req;
  req.partition_count = kPartitions;
  req.after = {{6, 0}, {11, 0}};
  req.high_water_mark = store.rows.back().event.global_position;
  req.limit = 10;
  Advance(req, CheckedRead(merge, store, req, 100));
  CHECK(merge.last_fills() == 1);
  CHECK(merge.kept() > 0);
  Advance(req, CheckedRead(merge, store, req, 100));
  CHECK(merge.last_fills() == 0);
}
