// projd::Transaction (include/projd/transaction.h) on a real server: whatever a projection
// tries, its writes stay inside the unit's transaction, which only the runtime ends. So a
// projection that "commits" cannot make its writes durable without the checkpoint, and a
// retried batch never applies twice.
#include <catch2/catch.hpp>

#include <projd/projection.h>

#include <atomic>
#include <future>
#include <thread>

#include "projections/projection_sink.h"

#include "tests/support/pg_test_schema.h"

using projd::testing::PgTestSchema;

namespace {

// Writes one row per event, then tries to end the transaction the way `how` says.
class Committing final : public projd::TransactionalProjection {
 public:
  explicit Committing(std::string how) : how_(std::move(how)) {}
  std::string Name() const override { return "committing"; }
  void Handle(std::span<const projd::Event> batch, projd::Transaction& tx) override {
    for (const auto& e : batch) tx.exec_params0("INSERT INTO model VALUES ($1)", e.global_position);
    tx.exec(how_);
  }

 private:
  std::string how_;
};

std::vector<projd::Event> TwoEvents() {
  std::vector<projd::Event> events(2);
  events[0].global_position = 1;
  events[1].global_position = 2;
  return events;
}

}  // namespace

TEST_CASE("a projection cannot commit its writes apart from the checkpoint, by any statement", "[pg][sdk]") {
  PgTestSchema db;
  db.Exec("CREATE TABLE model (position bigint)");
  const auto events = TwoEvents();
  for (const std::string how : {"COMMIT", "commit", "END", "ROLLBACK", "ABORT", "COMMIT AND CHAIN",
                                "PREPARE TRANSACTION 'p'", "SELECT 1; COMMIT", "/* sneaky */ COMMIT"}) {
    INFO(how);
    auto conn = db.Connect();
    pqxx::work unit(*conn);
    projd::Transaction tx(unit);
    Committing projection(how);
    // Refused before it is sent (std::logic_error): the batch fails and the runtime rolls
    // the unit back.
    CHECK_THROWS(projection.Handle(events, tx));
    CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 0);  // nothing visible outside
    unit.abort();
    CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 0);
    CHECK(db.Scalar<int>("SELECT count(*) FROM pg_prepared_xacts") == 0);
  }
}

TEST_CASE("a Setup script of several statements runs in the unit's transaction", "[pg][sdk]") {
  PgTestSchema db;
  auto conn = db.Connect();
  pqxx::work unit(*conn);
  projd::Transaction tx(unit);
  tx.exec("CREATE TABLE a (x text DEFAULT ';'); CREATE INDEX a_x ON a (x); INSERT INTO a DEFAULT VALUES");
  CHECK(tx.exec1("SELECT x FROM a")[0].as<std::string>() == ";");
  unit.abort();
  CHECK(db.Scalar<int>("SELECT count(*) FROM pg_class WHERE relname = 'a' AND relnamespace = '" + db.schema() +
                       "'::regnamespace") == 0);
}

TEST_CASE("the projection's own savepoints leave the unit's transaction whole", "[pg][sdk]") {
  PgTestSchema db;
  db.Exec("CREATE TABLE model (position bigint PRIMARY KEY)");
  auto conn = db.Connect();
  pqxx::work unit(*conn);
  projd::Transaction tx(unit);
  tx.exec0("INSERT INTO model VALUES (1)");
  tx.exec0("SAVEPOINT mine");
  CHECK_THROWS(tx.exec0("INSERT INTO model VALUES (1)"));  // a duplicate: handled by rolling back to it
  tx.exec0("ROLLBACK TO SAVEPOINT mine");
  tx.exec0("INSERT INTO model VALUES (2)");
  tx.exec0("RELEASE SAVEPOINT mine");
  CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 0);  // still the runtime's to commit
  unit.commit();
  CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 2);
}

TEST_CASE("a projection prepares its statement once per session and runs it in every unit", "[pg][sdk]") {
  PgTestSchema db;
  db.Exec("CREATE TABLE model (position bigint)");
  auto conn = db.Connect();
  for (int unit_no = 0; unit_no < 3; ++unit_no) {
    pqxx::work unit(*conn);
    projd::Transaction tx(unit);
    tx.prepare("insert_model", "INSERT INTO model VALUES ($1)");  // every batch may say it again
    tx.exec_prepared("insert_model", unit_no);
    unit.commit();
  }
  CHECK(db.Scalar<int>("SELECT count(*) FROM model") == 3);
  pqxx::work unit(*conn);
  projd::Transaction tx(unit);
  CHECK_THROWS_AS(tx.prepare("sneaky", "COMMIT"), std::logic_error);
}

namespace {
// Waits inside Handle until it is asked to stop, then gives the batch up.
class Patient final : public projd::AsyncProjection {
 public:
  explicit Patient(std::atomic<int>& entered) : entered_(entered) {}
  std::string Name() const override { return "patient"; }
  void Handle(std::span<const projd::Event>, projd::AsyncContext& context) override {
    ++entered_;
    // Bounded: a stop that never comes ends the wait and the batch "succeeds" (the test fails).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < give_up) {
      if (context.stop.stop_requested()) throw std::runtime_error("stopped early");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  std::atomic<int>& entered_;
};

// Waits (bounded) until Handle has been entered `n` times: a stop sent before the batch
// starts is not the one under test.
bool Entered(const std::atomic<int>& entered, int n) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (entered.load() < n && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return entered.load() >= n;
}
}  // namespace

TEST_CASE("a long Handle sees the stop of a handover and of the worker, one batch at a time", "[pg][sdk]") {
  PgTestSchema db;
  std::atomic<int> entered{0};
  projd::ProjectionSink sink(std::make_unique<Patient>(entered), db.options());
  const auto events = TwoEvents();
  auto handover = std::async(std::launch::async, [&] { sink.Handle(events, false); });
  REQUIRE(Entered(entered, 1));
  CHECK(handover.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);  // still waiting
  sink.InterruptBatch();  // its partitions are being handed over
  CHECK_THROWS(handover.get());
  auto stop = std::async(std::launch::async, [&] { sink.Handle(events, false); });  // a fresh batch waits again
  REQUIRE(Entered(entered, 2));
  CHECK(stop.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  sink.RequestStop();  // the worker stops
  CHECK_THROWS(stop.get());
}

TEST_CASE("a handover that arrives while the batch is still being read ends that batch", "[pg][sdk]") {
  PgTestSchema db;
  std::atomic<int> entered{0};
  projd::ProjectionSink sink(std::make_unique<Patient>(entered), db.options());
  const auto events = TwoEvents();
  sink.StartBatch();      // the runner starts the batch, then reads it
  sink.InterruptBatch();  // meanwhile its partitions are handed over
  CHECK_THROWS(sink.Handle(events, false));  // at once, not after the handler's 10 s
  CHECK(entered.load() == 1);
  SECTION("the next batch starts unrequested") {
    sink.StartBatch();
    auto next = std::async(std::launch::async, [&] { sink.Handle(events, false); });
    REQUIRE(Entered(entered, 2));
    CHECK(next.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
    sink.RequestStop();
    CHECK_THROWS(next.get());
  }
}
