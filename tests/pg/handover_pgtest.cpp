// The rolling-deploy interleaving: an old owner (generation 1) and a new owner
// (generation 2) both mid-batch on one partition. Whatever the order, the old owner is
// the one fenced and the read model holds every event exactly once.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <future>
#include <mutex>

#include "orchestrator/persistence/pg/pg_checkpoint_store.h"
#include "orchestrator/persistence/pg/pg_transaction.h"
#include "tests/support/pg_test_schema.h"

using namespace std::chrono_literals;
using projd::Checkpoint;
using projd::TransactionalUnit;
using projd::UnitOutcome;
using projd::pg::PgCheckpointStore;
using projd::testing::PgTestSchema;

namespace {

// A unit that applies events (from, to] of partition 0 to the read model.
TransactionalUnit Batch(std::int64_t from, std::int64_t to, std::int64_t generation, const std::string& writer,
                        std::function<void()> mid_batch = {}) {
  TransactionalUnit unit;
  unit.checkpoints = {Checkpoint{{"rs", "proj", 0}, to, generation, writer}};
  unit.apply = [=](projd::TransactionHandle& h) {
    auto& tx = projd::pg::Work(h);
    for (auto p = from + 1; p <= to; ++p) tx.exec_params0("INSERT INTO model (position, writer) VALUES ($1, $2)", p, writer);
    if (mid_batch) mid_batch();
  };
  return unit;
}

struct Latch {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void Open() {
    std::lock_guard l(mu);
    open = true;
    cv.notify_all();
  }
  void Wait() {
    std::unique_lock l(mu);
    cv.wait_for(l, 10s, [&] { return open; });
  }
};

}  // namespace

TEST_CASE("rolling deploy: the new owner stamps while the old one is mid-batch", "[pg][handover][fencing]") {
  PgTestSchema db;
  db.Exec("CREATE TABLE model (position BIGINT PRIMARY KEY, writer TEXT NOT NULL)");
  PgCheckpointStore old_store(db.options()), new_store(db.options());
  old_store.Stamp("rs", {"proj"}, {0}, 1, "old");
  REQUIRE(old_store.CommitUnit(Batch(0, 10, 1, "old"), 5s) == UnitOutcome::kCommitted);

  // The old owner is inside its batch (rows written, checkpoint row locked) when the new
  // owner takes the partition: the stamp does not wait (a hung batch would hold the new
  // owner's coordinator), it reports the row busy; taken after the batch, with its result.
  Latch in_batch, finish;
  auto old_batch = std::async(std::launch::async, [&] {
    return old_store.CommitUnit(Batch(10, 20, 1, "old", [&] {
                                  in_batch.Open();
                                  finish.Wait();
                                }),
                                5s);
  });
  in_batch.Wait();
  const auto busy = new_store.Stamp("rs", {"proj"}, {0}, 2, "new");
  CHECK(busy.taken.empty());
  CHECK(busy.lost.empty());
  REQUIRE(busy.busy.size() == 1);
  CHECK(busy.busy[0].partition == 0);
  finish.Open();
  CHECK(old_batch.get() == UnitOutcome::kCommitted);  // it finished before the stamp: no conflict
  const auto taken = new_store.Stamp("rs", {"proj"}, {0}, 2, "new");
  REQUIRE(taken.taken.size() == 1);
  CHECK(taken.taken[0].position == 20);  // the new owner starts after the old batch

  // Both are now mid-batch again: the new owner from 20, the old owner (a zombie) too.
  CHECK(old_store.CommitUnit(Batch(20, 30, 1, "old"), 5s) == UnitOutcome::kFenced);
  CHECK(new_store.CommitUnit(Batch(20, 30, 2, "new"), 5s) == UnitOutcome::kCommitted);
  CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 30);
  CHECK(db.Scalar<int>("SELECT count(*) FROM model WHERE position > 20 AND writer = 'new'") == 10);
}

TEST_CASE("rolling deploy: the stamp first, then the old owner's batch is fenced, never the new one's",
          "[pg][handover][fencing]") {
  for (const bool new_commits_first : {true, false}) {
    PgTestSchema db;
    db.Exec("CREATE TABLE model (position BIGINT PRIMARY KEY, writer TEXT NOT NULL)");
    PgCheckpointStore old_store(db.options()), new_store(db.options());
    old_store.Stamp("rs", {"proj"}, {0}, 1, "old");
    REQUIRE(old_store.CommitUnit(Batch(0, 10, 1, "old"), 5s) == UnitOutcome::kCommitted);
    const auto taken = new_store.Stamp("rs", {"proj"}, {0}, 2, "new");
    REQUIRE(taken.taken.at(0).position == 10);
    INFO("new owner commits first: " << new_commits_first);
    if (new_commits_first) {
      CHECK(new_store.CommitUnit(Batch(10, 20, 2, "new"), 5s) == UnitOutcome::kCommitted);
      CHECK(old_store.CommitUnit(Batch(10, 20, 1, "old"), 5s) == UnitOutcome::kFenced);
    } else {
      CHECK(old_store.CommitUnit(Batch(10, 20, 1, "old"), 5s) == UnitOutcome::kFenced);
      CHECK(new_store.CommitUnit(Batch(10, 20, 2, "new"), 5s) == UnitOutcome::kCommitted);
    }
    CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 20);
    CHECK(db.Scalar<int>("SELECT count(*) FROM model WHERE writer = 'old' AND position > 10") == 0);
  }
}
