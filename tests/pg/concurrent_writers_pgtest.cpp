// Gap-safety under real concurrency: writers with pauses inside their transactions,
// rollbacks and transactions held open for a second, against a following reader, readers
// of disjoint partitions, and the naive "highest position seen" reader that loses events.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "orchestrator/common/clock.h"
#include "orchestrator/reading/high_water_mark_follower.h"
#include "orchestrator/reading/pg/partition_index.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "orchestrator/reading/pg/pg_position_source.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::testing::PgTestSchema;

namespace {

constexpr int kAggregates = 30;
constexpr int kPartitions = 8;

// One writer transaction: lock the aggregate's head, append 1-3 versions, pause, then
// commit or (10%) roll back. Some transactions stay open for a second.
void Writer(const PgTestSchema& db, int seed, int transactions, std::atomic<int>& rollbacks,
            std::atomic<int>& held) {
  std::mt19937 rng(seed);
  auto conn = db.Connect();
  for (int t = 0; t < transactions; ++t) {
    const std::string id = "agg-" + std::to_string(rng() % kAggregates);
    pqxx::work tx(*conn);
    tx.exec_params0(
        "INSERT INTO aggregate_heads (bounded_context, aggregate_type, aggregate_id, aggregate_version)"
        " VALUES ('c', 't', $1, 0) ON CONFLICT DO NOTHING",
        id);
    auto version = tx.exec_params1(
                         "SELECT aggregate_version FROM aggregate_heads WHERE bounded_context = 'c'"
                         " AND aggregate_type = 't' AND aggregate_id = $1 FOR UPDATE",
                         id)[0]
                       .as<std::int64_t>();
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) {
      tx.exec_params0("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version,"
                      " event_type) VALUES ('c', 't', $1, $2, 'E')",
                      id, ++version);
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 8));
    }
    tx.exec_params0("UPDATE aggregate_heads SET aggregate_version = $2 WHERE bounded_context = 'c'"
                    " AND aggregate_type = 't' AND aggregate_id = $1",
                    id, version);
    if (rng() % 40 == 0) {
      ++held;
      std::this_thread::sleep_for(1s);  // a long transaction holding a low position
    }
    if (rng() % 10 == 0) {
      ++rollbacks;
      tx.abort();
    } else {
      tx.commit();
    }
  }
}

struct Delivery {
  std::vector<std::int64_t> positions;              // in delivery order
  std::map<std::string, std::vector<std::int64_t>> versions;  // per aggregate, delivery order
};

// A gap-safe follower of the given partitions.
// A window of a few positions makes almost every round a backlog: the backlog barrier
// (orchestrator/reading/backlog_barrier.h) runs against the same writers.
void GapSafeReader(const PgTestSchema& db, std::set<int> partitions, std::atomic<bool>& writers_done,
                   std::int64_t& final_max, std::mutex& m, Delivery& out,
                   std::int64_t window = projd::HighWaterMarkFollower::kDefaultWindow) {
  projd::SystemClock clock;
  projd::pg::PgPositionSource source(db.options());
  projd::HighWaterMarkFollower follower(source, clock, 300ms, 0, window);
  projd::pg::PgEventReader reader(db.options());
  projd::ReadRequest req;
  req.partition_count = kPartitions;
  for (int p : partitions) req.after[p] = 0;
  req.limit = 50;
  while (true) {
    follower.Advance();
    req.high_water_mark = follower.mark();
    while (true) {
      const auto batch = reader.ReadBatch(req);
      for (const auto& e : batch.events) {
        out.positions.push_back(e.event.global_position);
        out.versions[e.event.aggregate_id].push_back(e.event.aggregate_version);
      }
      for (auto& [p, a] : req.after) a = batch.scanned_to;
      if (static_cast<int>(batch.events.size()) < req.limit) break;
    }
    std::lock_guard lock(m);
    if (writers_done && follower.mark() >= final_max) return;
    std::this_thread::sleep_for(5ms);
  }
}

// The naive reader: trusts the highest position it has seen.
void NaiveReader(const PgTestSchema& db, std::atomic<bool>& writers_done, std::int64_t& final_max,
                 std::mutex& m, Delivery& out) {
  auto conn = db.Connect();
  std::int64_t last = 0;
  while (true) {
    pqxx::read_transaction tx(*conn);
    for (const auto& r : tx.exec_params("SELECT global_position, aggregate_id, aggregate_version FROM events"
                                        " WHERE global_position > $1 ORDER BY global_position LIMIT 50",
                                        last)) {
      last = r[0].as<std::int64_t>();
      out.positions.push_back(last);
      out.versions[r[1].as<std::string>()].push_back(r[2].as<std::int64_t>());
    }
    tx.commit();
    std::lock_guard lock(m);
    if (writers_done && last >= final_max) return;
    std::this_thread::sleep_for(2ms);
  }
}

void CheckOrderedAndStrictlyIncreasing(const Delivery& d) {
  for (std::size_t i = 1; i < d.positions.size(); ++i) REQUIRE(d.positions[i - 1] < d.positions[i]);
  for (const auto& [id, versions] : d.versions) {
    for (std::size_t i = 1; i < versions.size(); ++i) {
      INFO(id);
      REQUIRE(versions[i - 1] < versions[i]);
    }
  }
}

}  // namespace

TEST_CASE("gap-safe readers deliver every committed event exactly once and the naive reader does not",
          "[pg][hwm][concurrency]") {
  PgTestSchema db;
  SECTION("partition readers walk the primary key") {}
  SECTION("with the partition index, the reader of one partition merges") {
    REQUIRE(projd::pg::PgEventReader::PrefersMerge(kPartitions, 1));
    auto conn = db.Connect();
    projd::pg::EnsurePartitionIndex(*conn, db.options(), kPartitions, [](const std::string&) {});
  }
  std::atomic<bool> writers_done{false};
  std::atomic<int> rollbacks{0}, held{0};
  std::mutex m;
  std::int64_t final_max = std::numeric_limits<std::int64_t>::max();
  Delivery follower, even, odd, naive, barrier, single;

  std::vector<std::thread> threads;
  threads.emplace_back([&] { GapSafeReader(db, {0, 1, 2, 3, 4, 5, 6, 7}, writers_done, final_max, m, follower); });
  threads.emplace_back([&] { GapSafeReader(db, {0, 2, 4, 6}, writers_done, final_max, m, even); });
  threads.emplace_back([&] { GapSafeReader(db, {1, 3, 5, 7}, writers_done, final_max, m, odd); });
  threads.emplace_back([&] { NaiveReader(db, writers_done, final_max, m, naive); });
  threads.emplace_back(
      [&] { GapSafeReader(db, {0, 1, 2, 3, 4, 5, 6, 7}, writers_done, final_max, m, barrier, /*window=*/2); });
  // One partition of eight: with the index, the reader merges (PgEventReader::PrefersMerge).
  threads.emplace_back([&] { GapSafeReader(db, {3}, writers_done, final_max, m, single); });
  std::vector<std::thread> writers;
  for (int w = 0; w < 5; ++w) writers.emplace_back([&, w] { Writer(db, 1000 + w, 80, rollbacks, held); });
  for (auto& t : writers) t.join();
  {
    std::lock_guard lock(m);
    final_max = db.Scalar<std::int64_t>("SELECT coalesce(max(global_position), 0) FROM events");
    writers_done = true;
  }
  for (auto& t : threads) t.join();

  std::set<std::int64_t> committed;
  for (const auto& r : db.Exec("SELECT global_position FROM events")) committed.insert(r[0].as<std::int64_t>());
  INFO("committed " << committed.size() << ", rollbacks " << rollbacks << ", held " << held);
  REQUIRE(committed.size() > 100);
  REQUIRE(rollbacks > 0);
  REQUIRE(held > 0);

  {
    const std::set<std::int64_t> got(follower.positions.begin(), follower.positions.end());
    std::string missed;
    for (auto p : committed) {
      if (!got.count(p)) missed += std::to_string(p) + " ";
    }
    INFO("the follower of all partitions; missed: " << missed);
    CheckOrderedAndStrictlyIncreasing(follower);
    CHECK(std::set<std::int64_t>(follower.positions.begin(), follower.positions.end()) == committed);
    CHECK(follower.positions.size() == committed.size());
  }
  {
    INFO("a follower proving most rounds by the backlog barrier (window 2)");
    CheckOrderedAndStrictlyIncreasing(barrier);
    CHECK(std::set<std::int64_t>(barrier.positions.begin(), barrier.positions.end()) == committed);
    CHECK(barrier.positions.size() == committed.size());
  }
  {
    INFO("the reader of partition 3 alone");
    std::set<std::int64_t> of3;
    for (const auto& r : db.Exec("SELECT global_position FROM events"
                                 " WHERE (coalesce(partition_hash, projd_fnv1a32(aggregate_id)) % 8) = 3")) {
      of3.insert(r[0].as<std::int64_t>());
    }
    CheckOrderedAndStrictlyIncreasing(single);
    CHECK(std::set<std::int64_t>(single.positions.begin(), single.positions.end()) == of3);
    CHECK(single.positions.size() == of3.size());
  }
  {
    INFO("readers of disjoint partition sets together");
    CheckOrderedAndStrictlyIncreasing(even);
    CheckOrderedAndStrictlyIncreasing(odd);
    std::multiset<std::int64_t> both(even.positions.begin(), even.positions.end());
    both.insert(odd.positions.begin(), odd.positions.end());
    CHECK(both.size() == committed.size());
    CHECK(std::set<std::int64_t>(both.begin(), both.end()) == committed);
  }
  {
    INFO("the naive highest-position reader loses events whose transaction commits late");
    const std::set<std::int64_t> seen(naive.positions.begin(), naive.positions.end());
    CHECK(seen.size() < committed.size());
  }
}
