#include <catch2/catch.hpp>

#include <thread>

#include "orchestrator/common/errors.h"
#include "orchestrator/persistence/persistence_core.h"
#include "orchestrator/persistence/pg/pg_checkpoint_store.h"
#include "orchestrator/coordination/pg/pg_coordination_store.h"
#include "orchestrator/persistence/pg/pg_transaction.h"
#include "tests/support/pg_test_schema.h"

using namespace std::chrono_literals;
using projd::Checkpoint;
using projd::CheckpointKey;
using projd::pg::PgCheckpointStore;
using projd::testing::PgTestSchema;

namespace {
CheckpointKey Key(int partition) { return {"rs", "proj", partition}; }
Checkpoint Cp(int partition, std::int64_t position, std::int64_t generation) {
  return {Key(partition), position, generation, "w"};
}
}  // namespace

TEST_CASE("checkpoint batches upsert, never move backwards, and are fenced by newer generations",
          "[pg][checkpoints]") {
  PgTestSchema db;
  PgCheckpointStore store(db.options());
  const Checkpoint first[] = {Cp(0, 10, 1), Cp(1, 20, 1)};
  CHECK(store.WriteBatch(first, 5s).fenced.empty());
  const Checkpoint back[] = {Cp(0, 5, 1)};
  CHECK(store.WriteBatch(back, 5s).fenced.empty());
  CHECK(db.Scalar<std::int64_t>("SELECT position FROM projd_checkpoints WHERE partition = 0") == 10);

  const auto stamp = store.Stamp("rs", {"proj"}, {1}, 2, "new-owner");
  REQUIRE(stamp.taken.size() == 1);
  CHECK(stamp.taken[0].position == 20);
  const Checkpoint stale[] = {Cp(1, 30, 1), Cp(0, 11, 1)};
  const auto out = store.WriteBatch(stale, 5s);
  REQUIRE(out.fenced.size() == 1);
  CHECK(out.fenced[0] == Key(1));
  CHECK(db.Scalar<std::int64_t>("SELECT position FROM projd_checkpoints WHERE partition = 1") == 20);
  CHECK(db.Scalar<std::int64_t>("SELECT position FROM projd_checkpoints WHERE partition = 0") == 11);

  const auto older = store.Stamp("rs", {"proj"}, {1}, 1, "zombie");
  CHECK(older.taken.empty());
  REQUIRE(older.lost.size() == 1);
  const auto read = store.Read("rs", "proj");
  REQUIRE(read.size() == 2);
  CHECK(read[1].generation == 2);
  CHECK(read[1].writer == "new-owner");
}

TEST_CASE("a generation stamp racing a checkpoint write: the new owner starts from what committed",
          "[pg][checkpoints][fencing]") {
  PgTestSchema db;
  PgCheckpointStore old_owner(db.options());
  PgCheckpointStore new_owner(db.options());
  int fenced = 0, before_stamp = 0;
  for (int partition = 0; partition < 60; ++partition) {
    const Checkpoint initial[] = {Cp(partition, 1, 1)};
    old_owner.WriteBatch(initial, 5s);
    projd::WriteOutcome write;
    projd::StampResult stamp;
    std::thread a([&] {
      const Checkpoint cp[] = {Cp(partition, 100 + partition, 1)};
      write = old_owner.WriteBatch(cp, 5s);
    });
    std::thread b([&] {
      // A row the write holds is reported busy (never waited for): try again, as the coordinator does.
      do {
        stamp = new_owner.Stamp("rs", {"proj"}, {partition}, 2, "new");
      } while (stamp.taken.empty() && stamp.lost.empty());
    });
    a.join();
    b.join();
    REQUIRE(stamp.taken.size() == 1);
    INFO("partition " << partition);
    if (write.fenced.empty()) {
      // The old owner committed first: the new owner must start from its position.
      CHECK(stamp.taken[0].position == 100 + partition);
      ++before_stamp;
    } else {
      // The stamp came first: the old owner's write was rejected, nothing moved.
      CHECK(stamp.taken[0].position == 1);
      CHECK(db.Scalar<std::int64_t>("SELECT position FROM projd_checkpoints WHERE partition = " +
                                    std::to_string(partition)) == 1);
      ++fenced;
    }
    // After the stamp, the old owner can never commit again.
    const Checkpoint late[] = {Cp(partition, 999, 1)};
    CHECK(old_owner.WriteBatch(late, 5s).fenced.size() == 1);
  }
  INFO("fenced " << fenced << ", committed before the stamp " << before_stamp);
  CHECK(fenced + before_stamp == 60);
}

TEST_CASE("a batch blocked past its deadline is cut and reported as outcome unknown", "[pg][checkpoints]") {
  PgTestSchema db;
  PgCheckpointStore store(db.options());
  const Checkpoint initial[] = {Cp(0, 1, 1)};
  store.WriteBatch(initial, 5s);
  auto blocker = db.Connect();
  pqxx::work hold(*blocker);
  hold.exec("SELECT * FROM projd_checkpoints FOR UPDATE");
  const Checkpoint cp[] = {Cp(0, 2, 1)};
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(store.WriteBatch(cp, 300ms), projd::InDoubtError);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < 30s);  // bounded by the deadline, not by the lock holder
  hold.abort();
  CHECK(store.WriteBatch(cp, 5s).fenced.empty());  // a fresh connection afterwards
  CHECK(db.Scalar<std::int64_t>("SELECT position FROM projd_checkpoints") == 2);
}

TEST_CASE("a transactional unit commits its writes with its checkpoint, once", "[pg][checkpoints][units]") {
  PgTestSchema db;
  db.Exec("CREATE TABLE model (n int)");
  PgCheckpointStore store(db.options());
  int applied = 0;
  projd::TransactionalUnit unit{{Cp(3, 50, 1)}, {}, [&](projd::TransactionHandle& h) {
                                  ++applied;
                                  projd::pg::Work(h).exec0("INSERT INTO model VALUES (1)");
                                }};
  CHECK(store.CommitUnit(unit, 5s) == projd::UnitOutcome::kCommitted);
  // A retry after a lost reply finds the checkpoint already there and applies nothing.
  CHECK(store.CommitUnit(unit, 5s) == projd::UnitOutcome::kCommitted);
  CHECK(applied == 1);
  CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 1);

  store.Stamp("rs", {"proj"}, {3}, 2, "new");
  projd::TransactionalUnit zombie{{Cp(3, 60, 1)}, {}, [&](projd::TransactionHandle& h) {
                                    projd::pg::Work(h).exec0("INSERT INTO model VALUES (2)");
                                  }};
  CHECK(store.CommitUnit(zombie, 5s) == projd::UnitOutcome::kFenced);
  CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 1);  // rolled back with the fence
  CHECK(db.Scalar<std::int64_t>("SELECT position FROM projd_checkpoints WHERE partition = 3") == 50);

  projd::TransactionalUnit poison{{Cp(4, 1, 1)}, {}, [](projd::TransactionHandle&) { throw std::runtime_error("bad event"); }};
  CHECK_THROWS_AS(store.CommitUnit(poison, 5s), projd::HandlerError);  // the projection's, not the database's
}

TEST_CASE("a unit read past its row's position (the runner's empty-round checkpoint still pending) applies",
          "[pg][checkpoints][units]") {
  PgTestSchema db;
  db.Exec("CREATE TABLE model (n int)");
  PgCheckpointStore store(db.options());
  store.Stamp("rs", {"proj"}, {1, 2}, 1, "w");
  // The runner saw (0, 40] hold none of its events and submitted 40 through the core, which
  // has not flushed it yet; its next batch is read from 40. Refusing it as "moved" made the
  // runner re-read the same range until the flush (two workers under a slow writer: a few
  // refusals a second).
  projd::TransactionalUnit next{{Cp(1, 90, 1), Cp(2, 90, 1)}, {40, 40}, [](projd::TransactionHandle& h) {
                                  projd::pg::Work(h).exec0("INSERT INTO model VALUES (1)");
                                }};
  CHECK(store.CommitUnit(next, 5s) == projd::UnitOutcome::kCommitted);
  CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 1);
  CHECK(db.Scalar<std::int64_t>("SELECT min(position) FROM projd_checkpoints") == 90);
  // The late flush of 40 moves nothing back.
  const std::vector<projd::Checkpoint> late{Cp(1, 40, 1)};
  store.WriteBatch(late, 5s);
  CHECK(db.Scalar<std::int64_t>("SELECT position FROM projd_checkpoints WHERE partition = 1") == 90);
}

TEST_CASE("a unit whose batch no longer starts at the stored position applies nothing (compare-and-set)",
          "[pg][checkpoints][units]") {
  PgTestSchema db;
  db.Exec("CREATE TABLE model (n int)");
  PgCheckpointStore store(db.options());
  const auto insert = [](int n) {
    return [n](projd::TransactionHandle& h) { projd::pg::Work(h).exec0("INSERT INTO model VALUES (" + std::to_string(n) + ")"); };
  };
  store.Stamp("rs", {"proj"}, {1, 2}, 1, "w");
  // Unit 1 (0 -> 100 on both partitions) commits, but its runner heard "in doubt".
  projd::TransactionalUnit first{{Cp(1, 100, 1), Cp(2, 100, 1)}, {0, 0}, insert(1)};
  CHECK(store.CommitUnit(first, 5s) == projd::UnitOutcome::kCommitted);
  // The runner read again from 0, further this time: applying would repeat (0, 100].
  projd::TransactionalUnit wider{{Cp(1, 150, 1), Cp(2, 150, 1)}, {0, 0}, insert(2)};
  CHECK(store.CommitUnit(wider, 5s) == projd::UnitOutcome::kMoved);
  // One partition moved, the other not: still moved, nothing applied.
  projd::TransactionalUnit mixed{{Cp(1, 150, 1), Cp(2, 150, 1)}, {100, 0}, insert(3)};
  CHECK(store.CommitUnit(mixed, 5s) == projd::UnitOutcome::kMoved);
  CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 1);
  // The same unit again is recognised as committed; from the stored positions it applies.
  CHECK(store.CommitUnit(first, 5s) == projd::UnitOutcome::kCommitted);
  projd::TransactionalUnit next{{Cp(1, 150, 1), Cp(2, 150, 1)}, {100, 100}, insert(4)};
  CHECK(store.CommitUnit(next, 5s) == projd::UnitOutcome::kCommitted);
  CHECK(db.Scalar<std::string>("SELECT string_agg(n::text, ',' ORDER BY n) FROM model") == "1,4");
  CHECK(db.Scalar<std::int64_t>("SELECT min(position) FROM projd_checkpoints") == 150);
}

TEST_CASE("the persistence core over Postgres: submits, barrier, shutdown drain", "[pg][checkpoints][persistence]") {
  PgTestSchema db;
  PgCheckpointStore store(db.options());
  projd::SystemClock clock;
  projd::PersistenceOptions o;
  o.interval = 1h;
  o.max_batch_size = 100;
  projd::PersistenceCore core(store, clock, o);
  core.Start();
  for (int i = 1; i <= 5000; ++i) REQUIRE(core.Submit(Cp(i % 64, i, 1)).ok());
  CHECK(core.ForcePersistence(10s) == projd::ForceResult::kOk);
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_checkpoints") == 64);
  CHECK(db.Scalar<std::int64_t>("SELECT max(position) FROM projd_checkpoints") == 5000);
  for (int p = 0; p < 10; ++p) core.Submit(Cp(p, 6000 + p, 1));
  const auto report = core.Shutdown();
  CHECK(report.drained);
  CHECK(db.Scalar<std::int64_t>("SELECT position FROM projd_checkpoints WHERE partition = 9") == 6009);
  const auto s = core.GetStats();
  CHECK(s.failed_requests == 0);
  CHECK(s.flushes.Count(projd::Trigger::kShutdown, projd::FlushOutcome::kSuccess) == 1);
}

TEST_CASE("a rebuild resets positions to 0 and the next owner learns how far the replay goes",
          "[pg][checkpoints][rebuild]") {
  PgTestSchema db;
  PgCheckpointStore store(db.options());
  const Checkpoint at[] = {Cp(0, 10, 1), Cp(1, 20, 1)};
  REQUIRE(store.WriteBatch(at, 5s).fenced.empty());
  projd::pg::PgCoordinationStore coordination(db.options());
  bool hook_ran = false;
  const auto rebuilt = coordination.RebuildProjection("rs", "proj", [&](pqxx::work&) { hook_ran = true; });
  CHECK(hook_ran);
  CHECK(rebuilt.checkpoints == 2);
  const auto stamp = store.Stamp("rs", {"proj"}, {0, 1}, 3, "new-owner");
  REQUIRE(stamp.taken.size() == 2);
  for (const auto& cp : stamp.taken) {
    CHECK(cp.position == 0);
    CHECK(cp.replay_until == (cp.key.partition == 0 ? 10 : 20));
  }
  // A second rebuild before the replay finished keeps the furthest mark.
  const Checkpoint partway[] = {{Key(0), 4, 3, "new-owner"}};
  REQUIRE(store.WriteBatch(partway, 5s).fenced.empty());
  coordination.RebuildProjection("rs", "proj", [](pqxx::work&) {});
  CHECK(store.Stamp("rs", {"proj"}, {0}, 5, "new-owner").taken.at(0).replay_until == 10);
}

TEST_CASE("a store with a usual timeout keeps the server-side backstop in its session, a shorter call sets its own",
          "[pg][checkpoints][units]") {
  PgTestSchema db;
  PgCheckpointStore store(db.options(), 2s);
  std::string seen;
  const auto show = [&](projd::TransactionHandle& h) {
    seen = projd::pg::Work(h).exec1("SHOW statement_timeout")[0].as<std::string>();
  };
  CHECK(store.CommitUnit({{Cp(3, 50, 1)}, {}, show}, 2s) == projd::UnitOutcome::kCommitted);
  CHECK(seen == "2100ms");  // the session's, no SET LOCAL round trip
  CHECK(store.CommitUnit({{Cp(3, 60, 1)}, {}, show}, 300ms) == projd::UnitOutcome::kCommitted);
  CHECK(seen == "400ms");  // a shorter deadline (the final drain) sets its own

  // Still cut at the deadline when a lock holds it.
  auto blocker = db.Connect();
  pqxx::work hold(*blocker);
  hold.exec("SELECT * FROM projd_checkpoints FOR UPDATE");
  const Checkpoint cp[] = {Cp(3, 70, 1)};
  CHECK_THROWS_AS(store.WriteBatch(cp, 2s), projd::InDoubtError);
  hold.abort();
  CHECK(store.WriteBatch(cp, 2s).fenced.empty());
}
