// Dead letters and parking keyed by the full stream identity (bounded_context,
// aggregate_type, aggregate_id): a runner over real Postgres stores, the store's replay,
// `projd dead-letters` and migration 0006 on rows written before it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <vector>

#include "orchestrator/persistence/persistence_core.h"
#include "orchestrator/pg/migrator.h"
#include "orchestrator/persistence/pg/pg_checkpoint_store.h"
#include "orchestrator/persistence/pg/pg_dead_letter_store.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "orchestrator/persistence/pg/pg_transaction.h"
#include "orchestrator/runtime/projection_runner.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::DeadLetter;
using projd::Event;
using projd::StreamId;
using projd::pg::PgDeadLetterStore;
using projd::testing::PgTestSchema;
using projd::testing::RunProcess;
using projd::testing::WaitFor;

namespace {

const StreamId kPoisoned{"sales", "A", "42"};
const StreamId kOtherType{"sales", "B", "42"};
const StreamId kOtherContext{"billing", "A", "42"};
constexpr int kPartitions = 4;

// Appends one event with a plain INSERT (how any client writes); returns its position.
std::int64_t Insert(const PgTestSchema& db, const StreamId& s, int version, const std::string& type) {
  return db.Scalar<std::int64_t>(
      "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type) VALUES ('" +
      s.bounded_context + "', '" + s.aggregate_type + "', '" + s.aggregate_id + "', " + std::to_string(version) +
      ", '" + type + "') RETURNING global_position");
}

// Transactional, policy `skip`: throws on "Poison", otherwise writes each position to `model`.
class PoisonSink final : public projd::BatchSink {
 public:
  std::string Name() const override { return "poisoned"; }
  bool Transactional() const override { return true; }
  projd::ErrorHandling OnError() const override { return {2, 1ms, 2ms, /*skip=*/true}; }
  void Apply(std::span<const Event> batch, projd::TransactionHandle& handle) override {
    auto& tx = projd::pg::Work(handle);
    for (const auto& e : batch) {
      if (e.event_type == "Poison") throw std::runtime_error("cannot handle poison");
      tx.exec_params0("INSERT INTO model (position) VALUES ($1)", e.global_position);
    }
  }
};

// Records dead letters in one transaction of their own.
void Record(const PgTestSchema& db, PgDeadLetterStore& store, const std::vector<DeadLetter>& letters) {
  auto conn = db.Connect();
  pqxx::work tx(*conn);
  projd::pg::PgTransactionHandle handle(tx);
  store.Record(handle, letters);
  tx.commit();
}

std::set<std::int64_t> Positions(const PgTestSchema& db, const std::string& sql) {
  std::set<std::int64_t> out;
  for (const auto& r : db.Exec(sql)) out.insert(r[0].as<std::int64_t>());
  return out;
}

}  // namespace

TEST_CASE("a poison event parks only its stream: aggregate 42 of another type or context is still applied",
          "[pg][dead_letters][runner]") {
  PgTestSchema db;
  db.Exec("CREATE TABLE model (position BIGINT PRIMARY KEY)");
  const auto opened = Insert(db, kPoisoned, 1, "Opened");
  const auto poison = Insert(db, kPoisoned, 2, "Poison");
  const auto parked = Insert(db, kPoisoned, 3, "Deposited");
  const auto other_type = Insert(db, kOtherType, 1, "Opened");
  const auto other_context = Insert(db, kOtherContext, 1, "Opened");
  const auto other_id = Insert(db, StreamId{"sales", "A", "43"}, 1, "Opened");

  projd::pg::PgCheckpointStore checkpoints(db.options());
  projd::SystemClock clock;
  projd::PersistenceCore core(checkpoints, clock, projd::PersistenceOptions{});
  core.Start();
  projd::PublishedMark mark;
  PoisonSink sink;
  projd::RunnerOptions o;
  o.replica_set = "rs";
  o.worker_id = "w1";
  o.poll_interval = 50ms;
  projd::ProjectionRunner runner(sink, std::make_unique<projd::pg::PgEventReader>(db.options()),
                                 std::make_unique<PgDeadLetterStore>(db.options()), core, mark, clock,
                                 projd::Logger("test", "off", projd::LogFormat::kText), o);
  runner.Start();
  mark.Publish(other_id);
  const auto taken = checkpoints.Stamp("rs", {"poisoned"}, {0, 1, 2, 3}, 1, "w1");
  REQUIRE(taken.taken.size() == kPartitions);
  runner.Take(kPartitions, taken.taken);
  REQUIRE(WaitFor([&] { return runner.Status().min_position == other_id; }, 30s));
  runner.Stop();
  core.Shutdown();

  CHECK(Positions(db, "SELECT position FROM model") ==
        std::set<std::int64_t>{opened, other_type, other_context, other_id});
  CHECK(Positions(db, "SELECT global_position FROM projd_dead_letters WHERE NOT parked") ==
        std::set<std::int64_t>{poison});
  CHECK(Positions(db, "SELECT global_position FROM projd_dead_letters WHERE parked") ==
        std::set<std::int64_t>{parked});
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_dead_letters WHERE (bounded_context, aggregate_type,"
                       " aggregate_id) <> ('sales', 'A', '42')") == 0);
  PgDeadLetterStore store(db.options());
  CHECK(store.ParkedStreams("rs", "poisoned") == std::set<StreamId>{kPoisoned});
  const auto listed = store.List("rs", "poisoned");
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].stream == kPoisoned);
}

TEST_CASE("replay keys by the full identity, and an id of several streams must name the type or context",
          "[pg][dead_letters][cli]") {
  PgTestSchema db;
  PgDeadLetterStore store(db.options());
  const auto a = Insert(db, kPoisoned, 1, "Poison");
  const auto b = Insert(db, kOtherType, 1, "Poison");
  const auto c = Insert(db, kOtherContext, 1, "Poison");
  Record(db, store, {{"rs", "noop", a, kPoisoned, "Poison", false, "boom", 2},
                     {"rs", "noop", b, kOtherType, "Poison", false, "boom", 2},
                     {"rs", "noop", c, kOtherContext, "Poison", false, "boom", 2}});

  SECTION("the store") {
    CHECK(store.FindStreams("rs", "noop", {std::nullopt, std::nullopt, "42"}).size() == 3);
    CHECK(store.FindStreams("rs", "noop", {"sales", std::nullopt, "42"}) ==
          std::vector<StreamId>{kPoisoned, kOtherType});
    CHECK(store.FindStreams("rs", "noop", {"sales", "B", "42"}) == std::vector<StreamId>{kOtherType});
    std::vector<std::int64_t> handled;
    const int n = store.Replay("rs", "noop", kPoisoned, [&](std::span<const Event> events, pqxx::work&) {
      for (const auto& e : events) handled.push_back(e.global_position);
    });
    CHECK(n == 1);
    CHECK(handled == std::vector<std::int64_t>{a});
    CHECK(store.ParkedStreams("rs", "noop") == std::set<StreamId>{kOtherType, kOtherContext});
  }

  SECTION("projd dead-letters") {
    const std::map<std::string, std::string> env{{"DATABASE_URL", db.url()}, {"DATABASE_SCHEMA", db.schema()},
                                                 {"REPLICA_SET", "rs"}};
    const auto list = RunProcess({PROJD_BINARY, "dead-letters", "list", "--projection", "noop"}, env);
    INFO(list.out << list.err);
    REQUIRE(list.exit_code == 0);
    CHECK_THAT(list.out, Catch::Contains("BOUNDED CONTEXT") && Catch::Contains("AGGREGATE TYPE") &&
                             Catch::Contains("billing") && Catch::Contains("3 dead letters"));

    // The old form, `--aggregate 42`, is refused while 42 names several streams: nothing replays.
    const auto ambiguous =
        RunProcess({PROJD_BINARY, "dead-letters", "replay", "--projection", "noop", "--aggregate", "42"}, env);
    INFO(ambiguous.out << ambiguous.err);
    CHECK(ambiguous.exit_code == 2);
    CHECK_THAT(ambiguous.err, Catch::Contains("--bounded-context 'billing' --aggregate-type 'A'") &&
                                  Catch::Contains("--bounded-context 'sales' --aggregate-type 'B'"));
    CHECK(db.Scalar<int>("SELECT count(*) FROM projd_dead_letters WHERE replayed_at IS NOT NULL") == 0);

    const auto one = RunProcess({PROJD_BINARY, "dead-letters", "replay", "--projection", "noop", "--bounded-context",
                                 "sales", "--aggregate-type", "B", "--aggregate-id", "42"},
                                env);
    INFO(one.out << one.err);
    REQUIRE(one.exit_code == 0);
    CHECK_THAT(one.out, Catch::Contains("replayed 1 dead letters of stream sales/B/42"));
    CHECK(Positions(db, "SELECT global_position FROM projd_dead_letters WHERE replayed_at IS NOT NULL") ==
          std::set<std::int64_t>{b});

    const auto context = RunProcess({PROJD_BINARY, "dead-letters", "replay", "--projection", "noop",
                                     "--bounded-context", "billing", "--aggregate", "42"},
                                    env);
    INFO(context.out << context.err);
    REQUIRE(context.exit_code == 0);
    CHECK(store.ParkedStreams("rs", "noop") == std::set<StreamId>{kPoisoned});

    // Once 42 names one stream, the old form replays exactly that stream.
    const auto old_form =
        RunProcess({PROJD_BINARY, "dead-letters", "replay", "--projection", "noop", "--aggregate", "42"}, env);
    INFO(old_form.out << old_form.err);
    REQUIRE(old_form.exit_code == 0);
    CHECK_THAT(old_form.out, Catch::Contains("replayed 1 dead letters of stream sales/A/42"));
    CHECK(store.ParkedStreams("rs", "noop").empty());
  }
}

TEST_CASE("migration 0006 gives existing dead letters the identity of their event, '' when it is gone",
          "[pg][dead_letters][migrations]") {
  PgTestSchema db(/*migrate=*/false);
  const auto all = projd::EmbeddedMigrations();
  const auto before = std::find_if(all.begin(), all.end(), [](const auto& f) { return f.version >= 6; });
  REQUIRE(before != all.end());
  projd::pg::Migrator(db.options(), all.first(static_cast<std::size_t>(before - all.begin()))).Migrate();
  const auto kept = Insert(db, kPoisoned, 1, "Poison");
  db.Exec("INSERT INTO projd_dead_letters (replica_set, projection, global_position, aggregate_id, event_type)"
          " VALUES ('rs', 'noop', " + std::to_string(kept) + ", '42', 'Poison'), ('rs', 'noop', 999, '7', 'Gone')");

  projd::pg::Migrator(db.options()).Migrate();

  CHECK(db.Scalar<std::string>("SELECT bounded_context || '/' || aggregate_type FROM projd_dead_letters"
                               " WHERE global_position = " + std::to_string(kept)) == "sales/A");
  CHECK(db.Scalar<std::string>("SELECT bounded_context || '/' || aggregate_type FROM projd_dead_letters"
                               " WHERE global_position = 999") == "/");
  CHECK(db.Scalar<bool>("SELECT to_regclass('projd_dead_letters_aggregate_idx') IS NULL"));
  CHECK_THAT(db.Scalar<std::string>("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                                    " AND indexname = 'projd_dead_letters_stream_idx'"),
             Catch::Contains("(replica_set, projection, bounded_context, aggregate_type, aggregate_id)") &&
                 Catch::Contains("WHERE (replayed_at IS NULL)"));
  PgDeadLetterStore store(db.options());
  CHECK(store.ParkedStreams("rs", "noop") == std::set<StreamId>{kPoisoned, StreamId{"", "", "7"}});

  // The orphan is cleared by naming its empty parts; nothing reaches the projection.
  const std::map<std::string, std::string> env{{"DATABASE_URL", db.url()}, {"DATABASE_SCHEMA", db.schema()},
                                               {"REPLICA_SET", "rs"}};
  const auto orphan = RunProcess({PROJD_BINARY, "dead-letters", "replay", "--projection", "noop", "--bounded-context",
                                  "", "--aggregate-type", "", "--aggregate-id", "7"},
                                 env);
  INFO(orphan.out << orphan.err);
  REQUIRE(orphan.exit_code == 0);
  CHECK_THAT(orphan.out, Catch::Contains("replayed 1 dead letters of stream //7"));
  CHECK(store.ParkedStreams("rs", "noop") == std::set<StreamId>{kPoisoned});
}
