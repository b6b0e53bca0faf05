#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <thread>

#include "orchestrator/coordination/assignment.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/persistence/pg/pg_checkpoint_store.h"
#include "orchestrator/coordination/pg/pg_coordination_store.h"
#include "tests/support/pg_test_schema.h"

using namespace std::chrono_literals;
using projd::WorkerInfo;
using projd::pg::PgCoordinationStore;
using projd::testing::PgTestSchema;

namespace {
WorkerInfo Worker(const std::string& id, const std::string& name) { return {id, name, "host", 1, "test"}; }

std::map<std::string, int> Counts(const projd::AssignmentView& v) {
  std::map<std::string, int> c;
  for (const auto& n : v.owner_names) ++c[n];
  return c;
}
}  // namespace

TEST_CASE("a heartbeat returns the generation and tells an evicted worker so", "[pg][coordination]") {
  PgTestSchema db;
  PgCoordinationStore store(db.options());
  CHECK(store.EnsureReplicaSet("rs", 16) == 16);
  CHECK(store.EnsureReplicaSet("rs", 32) == 16);  // the count is fixed per replica set
  store.Register("rs", Worker("id-a", "a"));
  auto hb = store.Heartbeat("rs", "id-a", 30s);
  CHECK(hb.found);
  CHECK(hb.generation == 0);
  store.Deregister("rs", "id-a");
  hb = store.Heartbeat("rs", "id-a", 30s);
  CHECK_FALSE(hb.found);
}

TEST_CASE("generations are formed only when membership changes, balanced and sticky", "[pg][coordination]") {
  PgTestSchema db;
  PgCoordinationStore store(db.options());
  store.EnsureReplicaSet("rs", 64);
  for (const auto* n : {"a", "b", "c"}) store.Register("rs", Worker(std::string("id-") + n, n));
  CHECK(store.FormGeneration("rs") == 1);
  const auto g1 = store.ReadAssignment("rs");
  CHECK(g1.generation == 1);
  const auto c1 = Counts(g1);
  CHECK(c1.size() == 3);
  for (const auto& [n, c] : c1) CHECK((c == 21 || c == 22));
  CHECK_FALSE(store.FormGeneration("rs").has_value());  // nothing changed

  store.Register("rs", Worker("id-d", "d"));
  CHECK(store.FormGeneration("rs") == 2);
  const auto g2 = store.ReadAssignment("rs");
  CHECK(projd::CountMoves(g1.owner_names, g2.owner_names) == 16);
  CHECK(Counts(g2).at("d") == 16);
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_assignments WHERE generation = 2") == 64);

  // "b" restarts: a new process id, the same WORKER_NAME -> it gets its partitions back.
  store.Deregister("rs", "id-b");
  store.Register("rs", Worker("id-b2", "b"));
  CHECK(store.FormGeneration("rs") == 3);
  const auto g3 = store.ReadAssignment("rs");
  CHECK(g3.owner_names == g2.owner_names);
  for (int p = 0; p < 64; ++p) {
    if (g3.owner_names[p] == "b") CHECK(g3.owner_ids[p] == "id-b2");
  }
}

TEST_CASE("stale workers are evicted by the database clock", "[pg][coordination]") {
  PgTestSchema db;
  PgCoordinationStore store(db.options());
  store.EnsureReplicaSet("rs", 8);
  store.Register("rs", Worker("id-old", "old"));
  store.Register("rs", Worker("id-new", "new"));
  db.Exec("UPDATE projd_workers SET last_heartbeat = now() - interval '40 seconds' WHERE worker_id = 'id-old'");
  const auto members = store.ListMembers("rs");
  REQUIRE(members.size() == 2);
  CHECK(members[1].worker_name == "old");
  CHECK(members[1].heartbeat_age >= 40s);
  CHECK(store.EvictStale("rs", 30s) == std::vector<std::string>{"id-old"});
  CHECK_FALSE(store.Heartbeat("rs", "id-old", 30s).found);
  CHECK(store.Heartbeat("rs", "id-new", 30s).found);
}

TEST_CASE("concurrent generation formers agree on one generation", "[pg][coordination]") {
  PgTestSchema db;
  {
    PgCoordinationStore setup(db.options());
    setup.EnsureReplicaSet("rs", 32);
    for (int i = 0; i < 5; ++i) setup.Register("rs", Worker("id-" + std::to_string(i), "w" + std::to_string(i)));
  }
  std::atomic<int> formed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 5; ++t) {
    threads.emplace_back([&] {
      PgCoordinationStore store(db.options());
      if (store.FormGeneration("rs")) ++formed;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(formed == 1);
  PgCoordinationStore store(db.options());
  const auto view = store.ReadAssignment("rs");
  CHECK(view.generation == 1);
  for (const auto& [n, c] : Counts(view)) CHECK((c == 6 || c == 7));
  store.Acknowledge("rs", "id-0", 1);
  CHECK(store.ListMembers("rs")[0].acked_generation == 1);
}

TEST_CASE("a heartbeat evicts stale peers and tells when a generation is due", "[pg][coordination]") {
  PgTestSchema db;
  PgCoordinationStore store(db.options());
  store.EnsureReplicaSet("rs", 8);
  store.Register("rs", Worker("id-a", "a"));
  auto hb = store.Heartbeat("rs", "id-a", 30s);
  CHECK(hb.membership_changed);  // a member and no assignment yet
  CHECK(hb.youngest_member_age < 30s);
  REQUIRE(store.FormGeneration("rs") == 1);
  hb = store.Heartbeat("rs", "id-a", 30s);
  CHECK_FALSE(hb.membership_changed);
  CHECK(hb.partitions == 8);

  store.Register("rs", Worker("id-b", "b"));  // a join: b owns nothing while a owns 8
  CHECK(store.Heartbeat("rs", "id-a", 30s).membership_changed);
  REQUIRE(store.FormGeneration("rs") == 2);
  CHECK_FALSE(store.Heartbeat("rs", "id-a", 30s).membership_changed);

  // b stops heartbeating: a's next heartbeat deletes it and reports the change.
  db.Exec("UPDATE projd_workers SET last_heartbeat = now() - interval '40 seconds' WHERE worker_id = 'id-b'");
  hb = store.Heartbeat("rs", "id-a", 30s);
  CHECK(hb.evicted == std::vector<std::string>{"id-b"});
  CHECK(hb.membership_changed);
  CHECK(hb.generation == 2);
  CHECK(store.ListMembers("rs").size() == 1);
}

TEST_CASE("members that do not acknowledge a generation can be evicted, acknowledged ones not",
          "[pg][coordination]") {
  PgTestSchema db;
  PgCoordinationStore store(db.options());
  store.EnsureReplicaSet("rs", 4);
  store.Register("rs", Worker("id-a", "a"));
  store.Register("rs", Worker("id-b", "b"));
  REQUIRE(store.FormGeneration("rs") == 1);
  store.Acknowledge("rs", "id-a", 1);
  const auto evicted = store.EvictUnacknowledged("rs", {"id-a", "id-b"}, 1);
  CHECK(evicted == std::vector<std::string>{"id-b"});
  CHECK(store.ReadAssignment("rs").generation_age < 60s);
}

TEST_CASE("a split doubles the partitions, copies every checkpoint and fences old writers",
          "[pg][coordination][split]") {
  PgTestSchema db;
  PgCoordinationStore store(db.options());
  projd::pg::PgCheckpointStore checkpoints(db.options());
  store.EnsureReplicaSet("rs", 4);
  store.Register("rs", Worker("id-a", "a"));
  store.Register("rs", Worker("id-b", "b"));
  REQUIRE(store.FormGeneration("rs") == 1);
  const auto before = store.ReadAssignment("rs");
  checkpoints.Stamp("rs", {"p1", "p2"}, {0, 1, 2, 3}, 1, "id-a");
  std::vector<projd::Checkpoint> batch;
  for (int p = 0; p < 4; ++p) {
    batch.push_back({{"rs", "p1", p}, 100 + p, 1, "id-a"});
    batch.push_back({{"rs", "p2", p}, 200 + p, 1, "id-a"});
  }
  REQUIRE(checkpoints.WriteBatch(batch, 5s).fenced.empty());

  CHECK(store.SplitPartitions("rs") == 2);
  const auto after = store.ReadAssignment("rs");
  CHECK(after.partitions == 8);
  CHECK(after.generation == 2);
  for (int p = 0; p < 4; ++p) {
    CHECK(after.owner_ids[p] == before.owner_ids[p]);
    CHECK(after.owner_ids[p + 4] == before.owner_ids[p]);
  }
  for (const auto* projection : {"p1", "p2"}) {
    const auto rows = checkpoints.Read("rs", projection);
    REQUIRE(rows.size() == 8);
    const int base = std::string(projection) == "p1" ? 100 : 200;
    for (const auto& cp : rows) {
      CHECK(cp.position == base + cp.key.partition % 4);
      CHECK(cp.generation == 2);
    }
  }
  // A writer of generation 1 (it has not seen the split) is fenced on every partition.
  const std::vector<projd::Checkpoint> stale{{{"rs", "p1", 0}, 500, 1, "id-a"}};
  CHECK(checkpoints.WriteBatch(stale, 5s).fenced.size() == 1);
  CHECK(checkpoints.Read("rs", "p1")[0].position == 100);
  // Splitting beyond 4096 partitions is refused.
  db.Exec("UPDATE projd_replica_sets SET partitions = 4096 WHERE name = 'rs'");
  CHECK_THROWS_AS(store.SplitPartitions("rs"), projd::PermanentError);
}
