// Database errors are the database's problem, not the event's: how errors escaping a
// projection's Handle are sorted (pg::RethrowFromHandler), and a read-model table locked by
// another session for longer than PERSISTENCE_TIMEOUT (an application migration's LOCK
// TABLE, ALTER TABLE, VACUUM FULL): nothing is stopped or dead-lettered, every event is
// projected once after the lock goes.
#include <catch2/catch.hpp>

#include <map>
#include <tuple>

#include <pqxx/pqxx>

#include "orchestrator/common/errors.h"
#include "orchestrator/persistence/persistence_core.h"
#include "orchestrator/pg/error_translation.h"
#include "orchestrator/persistence/pg/pg_checkpoint_store.h"
#include "orchestrator/persistence/pg/pg_dead_letter_store.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "orchestrator/pg/sql_array.h"
#include "orchestrator/runtime/projection_runner.h"
#include "projections/projection_sink.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::Event;
using projd::testing::PgTestSchema;
using projd::testing::WaitFor;

namespace {

enum class Sorted { kHandler, kTransient, kPermanent, kInDoubt };

// What RethrowFromHandler makes of the exception `fn` throws.
template <typename Fn>
Sorted SortedAs(Fn&& fn) {
  try {
    try {
      fn();
    } catch (const std::exception&) {
      projd::pg::RethrowFromHandler("projection p");
    }
  } catch (const projd::HandlerError&) {
    return Sorted::kHandler;
  } catch (const projd::TransientError&) {
    return Sorted::kTransient;
  } catch (const projd::PermanentError&) {
    return Sorted::kPermanent;
  } catch (const projd::InDoubtError&) {
    return Sorted::kInDoubt;
  }
  FAIL("nothing was thrown");
  return Sorted::kHandler;
}

// The real server's error for `sql`, run in a transaction prepared by `setup`.
void ServerError(const PgTestSchema& db, const std::string& setup, const std::string& sql) {
  auto conn = db.Connect();
  pqxx::work tx(*conn);
  if (!setup.empty()) tx.exec0(setup);
  tx.exec(sql);
}

// A transactional projection writing stream_stats like the example (one upsert per batch),
// with policy `skip` after two attempts: were a lock counted against the policy, healthy
// events would be dead-lettered within milliseconds.
class LockedStats final : public projd::TransactionalProjection {
 public:
  explicit LockedStats(projd::ErrorPolicy policy) : policy_(policy) {}
  std::string Name() const override { return "stream_stats"; }
  projd::ErrorPolicy OnError() const override { return policy_; }
  projd::RetryPolicy Retry() const override { return {2, 1ms, 2ms}; }
  void Setup(projd::Transaction& tx) override {
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS stream_stats (aggregate_id TEXT PRIMARY KEY, event_count BIGINT NOT NULL,"
        " version_sum BIGINT NOT NULL)");
  }
  void Handle(std::span<const Event> batch, projd::Transaction& tx) override {
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> per;
    for (const auto& e : batch) {
      ++per[e.aggregate_id].first;
      per[e.aggregate_id].second += e.aggregate_version;
    }
    std::vector<std::string> ids;
    std::vector<std::int64_t> counts, sums;
    for (const auto& [id, cs] : per) {
      ids.push_back(id);
      counts.push_back(cs.first);
      sums.push_back(cs.second);
    }
    tx.exec_params0(
        "INSERT INTO stream_stats AS s SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])"
        " ON CONFLICT (aggregate_id) DO UPDATE SET event_count = s.event_count + EXCLUDED.event_count,"
        " version_sum = s.version_sum + EXCLUDED.version_sum",
        projd::pg::TextArray(ids), projd::pg::IntArray(counts), projd::pg::IntArray(sums));
  }

 private:
  const projd::ErrorPolicy policy_;
};

}  // namespace

TEST_CASE("errors escaping Handle: the event's data errors are the handler's, everything else the database's",
          "[pg][errors]") {
  PgTestSchema db;
  db.Exec("CREATE TABLE t (id INT PRIMARY KEY, n INT NOT NULL CHECK (n >= 0))");
  db.Exec("INSERT INTO t VALUES (1, 1)");
  // From the server: the event's data broke the projection's SQL (class 22, 23).
  CHECK(SortedAs([&] { ServerError(db, "", "SELECT 'not a number'::int"); }) == Sorted::kHandler);      // 22P02
  CHECK(SortedAs([&] { ServerError(db, "", "SELECT 1 / 0"); }) == Sorted::kHandler);                    // 22012
  CHECK(SortedAs([&] { ServerError(db, "", "INSERT INTO t VALUES (1, 2)"); }) == Sorted::kHandler);     // 23505
  CHECK(SortedAs([&] { ServerError(db, "", "INSERT INTO t VALUES (2, -1)"); }) == Sorted::kHandler);    // 23514
  // From the server: the database's trouble.
  CHECK(SortedAs([&] { ServerError(db, "SET LOCAL statement_timeout = '10ms'", "SELECT pg_sleep(1)"); }) ==
        Sorted::kTransient);  // 57014
  CHECK(SortedAs([&] { ServerError(db, "SET TRANSACTION READ ONLY", "INSERT INTO t VALUES (3, 3)"); }) ==
        Sorted::kPermanent);  // 25006: still retried by the runner
  {
    auto holder = db.Connect();
    pqxx::work lock(*holder);
    lock.exec0("LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
    CHECK(SortedAs([&] { ServerError(db, "SET LOCAL lock_timeout = '10ms'", "SELECT * FROM t"); }) ==
          Sorted::kTransient);  // 55P03
  }
  CHECK(SortedAs([&] { ServerError(db, "", "SELECT * FROM no_such_table"); }) == Sorted::kPermanent);  // 42P01
  // The classes libpq reports that a test server cannot easily produce.
  for (const char* state : {"53100", "53200", "53300", "57P01", "57P02", "57P03", "42501", "08006", "XX000"}) {
    INFO(state);
    const auto sorted = SortedAs([&] { throw pqxx::sql_error("ERROR: something", "INSERT ...", state); });
    CHECK(sorted != Sorted::kHandler);
  }
  CHECK(SortedAs([] { throw pqxx::deadlock_detected("ERROR: deadlock detected"); }) == Sorted::kTransient);
  CHECK(SortedAs([] { throw pqxx::serialization_failure("ERROR: could not serialize"); }) == Sorted::kTransient);
  CHECK(SortedAs([] { throw pqxx::broken_connection("server closed the connection"); }) == Sorted::kTransient);
  CHECK(SortedAs([] { throw pqxx::in_doubt_error("commit outcome unknown"); }) == Sorted::kInDoubt);
  CHECK(SortedAs([] { throw projd::TransientError("the projection says: retry"); }) == Sorted::kTransient);
  // The projection's own exceptions.
  CHECK(SortedAs([] { throw std::runtime_error("bad payload"); }) == Sorted::kHandler);
  CHECK(SortedAs([] { throw pqxx::conversion_error("cannot convert"); }) == Sorted::kHandler);
}

TEST_CASE("a read-model table locked past PERSISTENCE_TIMEOUT: nothing stopped or dead-lettered, every event once",
          "[pg][errors][runner]") {
  // `skip` with a breaker that stays closed (an open breaker would refuse the dead letter's
  // unit too), and `stop` with one that opens and must be probed by a unit afterwards.
  auto policy = projd::ErrorPolicy::kSkip;
  int breaker_threshold = 1000;
  SECTION("policy skip") {}
  SECTION("policy stop, the breaker opens") {
    policy = projd::ErrorPolicy::kStop;
    breaker_threshold = 3;
  }
  PgTestSchema db;
  auto projection = std::make_unique<LockedStats>(policy);
  projd::SetUpProjection(*projection, db.options());
  projd::ProjectionSink sink(std::move(projection), db.options());

  // 40 events over 4 aggregates.
  std::int64_t last = 0;
  for (int v = 1; v <= 10; ++v) {
    for (int a = 0; a < 4; ++a) {
      last = db.Scalar<std::int64_t>(
          "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " VALUES ('sales', 'order', 'o" + std::to_string(a) + "', " + std::to_string(v) + ", 'Happened')"
          " RETURNING global_position");
    }
  }

  // An application migration holds the table.
  auto migration = db.Connect();
  auto lock = std::make_unique<pqxx::work>(*migration);
  lock->exec0("LOCK TABLE stream_stats IN ACCESS EXCLUSIVE MODE");

  projd::pg::PgCheckpointStore checkpoints(db.options());
  projd::SystemClock clock;
  projd::PersistenceOptions po;
  po.interval = 100ms;
  po.timeout = 200ms;  // PERSISTENCE_TIMEOUT: each unit is cancelled while the lock lasts
  po.breaker_threshold = breaker_threshold;
  po.breaker_timeout = 300ms;
  projd::PersistenceCore core(checkpoints, clock, po);
  core.Start();
  projd::PublishedMark mark;
  projd::RunnerOptions o;
  o.replica_set = "rs";
  o.worker_id = "w1";
  o.batch_size = 8;
  o.poll_interval = 50ms;
  o.retry_initial = 10ms;
  o.retry_max = 100ms;
  projd::ProjectionRunner runner(sink, std::make_unique<projd::pg::PgEventReader>(db.options()),
                                 std::make_unique<projd::pg::PgDeadLetterStore>(db.options()), core, mark, clock,
                                 projd::Logger("test", "off", projd::LogFormat::kText), o);
  runner.Start();
  mark.Publish(last);
  const auto taken = checkpoints.Stamp("rs", {"stream_stats"}, {0, 1, 2, 3}, 1, "w1");
  REQUIRE(taken.taken.size() == 4);
  runner.Take(4, taken.taken);

  // Several units cut at their deadline (more than the policy's two attempts, enough to open
  // the breaker): the runner only retries.
  REQUIRE(WaitFor([&] {
    return runner.Status().database_errors >= 6 && (breaker_threshold > 6 || core.GetStats().circuit_breaker_trips >= 1);
  }, 30s));
  auto s = runner.Status();
  CHECK(s.state == projd::RunnerState::kFailing);
  CHECK(s.database_error);
  CHECK(s.stopped.empty());
  CHECK(s.dead_letters == 0);
  CHECK(s.events_processed == 0);

  lock->commit();  // the migration ends
  lock.reset();
  const bool caught_up = WaitFor([&] { return runner.Status().min_position == last; }, 30s);
  if (!caught_up) {
    const auto st = runner.Status();
    const auto ps = core.GetStats();
    UNSCOPED_INFO("state " << projd::ToString(st.state) << " position " << st.min_position << " of " << last
                           << " last_error " << st.last_error << " breaker " << ps.circuit_breaker_state);
  }
  REQUIRE(caught_up);
  REQUIRE(WaitFor([&] { return runner.Status().state == projd::RunnerState::kCaughtUp; }, 10s));
  s = runner.Status();
  runner.Stop();
  core.Shutdown();

  CHECK(s.stopped.empty());
  CHECK(s.dead_letters == 0);
  CHECK(s.events_processed == 40);
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_dead_letters") == 0);
  // Every event once: 10 events per aggregate, versions 1..10.
  CHECK(db.Scalar<int>("SELECT count(*) FROM stream_stats WHERE event_count = 10 AND version_sum = 55") == 4);
  CHECK(db.Scalar<int>("SELECT count(*) FROM stream_stats") == 4);
}
